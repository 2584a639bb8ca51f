"""Target profiles: validation with errors that name the field, templates, and the preload modes."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
import yaml

from load.profile import PROFILES_DIR, compile_item, dig, load_profile, render
from load.setup import preload
from sim.errors import InputError
from sim.trace import COLUMNS


def write_profile(tmp_path: Path, change) -> Path:  # noqa: ANN001
    data = yaml.safe_load((PROFILES_DIR / "reference.yaml").read_text())
    change(data)
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_built_in_profiles_load():
    for name in ("reference", "other"):
        prof = load_profile(name)
        assert {"create_booking", "get_booking", "accept", "status"} <= set(prof.actions)
    assert load_profile(str(PROFILES_DIR / "other.yaml")).auth.header == "X-Api-Key"


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["actions"]["accept"].update(path="/v1/bookings/{job_id}/accept"),
     r"p.yaml: actions.accept: unknown template variables \['job_id'\]"),
    (lambda d: d["actions"].update(acept=d["actions"]["accept"]), r"actions.acept"),
    (lambda d: d["preload"]["workers"].pop("ids"), r"preload.workers: .*needs 'call' and 'ids'"),
    (lambda d: d["preload"]["workers"]["call"].update(body={"workers": []}), r"needs '\{items\}' in call.body"),
    (lambda d: d["booking"].update(status_map={"DONE": "finished"}), r"booking.status_map.DONE"),
    (lambda d: d["actions"]["rate"].update(method="FETCH"), r"actions.rate.method"),
    (lambda d: d.update(colour="blue"), r"colour"),
])
def test_bad_profiles_name_the_field(tmp_path, change, message):
    with pytest.raises(InputError, match=r"--profile: p.yaml: ") as e:
        load_profile(str(write_profile(tmp_path, change)))
    assert re.search(message, str(e.value)), str(e.value)


def test_missing_profile_lists_the_built_in_ones():
    with pytest.raises(InputError, match="built in: other, reference"):
        load_profile("nope")


def test_templates_keep_types_and_format_strings():
    v = {"lat": 26.5, "ok": True, "booking_id": "JOB-7", "skills": ["a", "b"]}
    assert render({"x": "{lat}", "y": ["{ok}"], "p": "/jobs/{booking_id}/x", "k": 3}, v) == {
        "x": 26.5, "y": [True], "p": "/jobs/JOB-7/x", "k": 3}
    fast = compile_item({"s": "{skills}", "l": "{lat}"})
    assert fast(v) == render({"s": "{skills}", "l": "{lat}"}, v) == {"s": ["a", "b"], "l": 26.5}
    assert dig({"job": {"ref": "J1", "xs": [4, 5]}}, "job.xs.1") == 5 and dig({}, "a.b") is None


class _OneByOne(BaseHTTPRequestHandler):
    """Registers each partner it is sent; answers ``{"partner": {"ref": "P-n"}, "apiKey": ...}``."""

    protocol_version = "HTTP/1.1"
    seen: list = []

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = self.headers.get("X-Api-Key")
        if key != "adm":
            out, code = {"error": "no"}, 401
        elif self.path == "/api/partners":
            self.seen.append(body)
            out, code = {"partner": {"ref": f"P-{len(self.seen)}"}, "apiKey": f"k{len(self.seen)}"}, 201
        else:
            out, code = {"apiKey": "op"}, 201
        data = json.dumps(out).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def workers_trace(n: int) -> pd.DataFrame:
    df = pd.DataFrame({"seq": range(n), "t_min": 0.0, "actor": "admin", "action": "register_worker",
                       "worker_ref": [10 + i for i in range(n)], "district": "Agra", "category": "cook,plumber",
                       "lat": 27.1, "lon": 78.0, "name": [f"W{i}" for i in range(n)],
                       "phone": [f"98765{i:05d}" for i in range(n)]})
    df = df.reindex(columns=list(COLUMNS))
    for c, dt in COLUMNS.items():
        df[c] = df[c].astype(dt)
    return df


def test_one_by_one_and_csv_preloads(tmp_path):
    _OneByOne.seen = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _OneByOne)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        ids = preload(url, workers_trace(3), load_profile("other"), "adm")
        assert ids.worker_id == {10: "P-1", 11: "P-2", 12: "P-3"} and ids.worker_token["P-2"] == "k2"
        assert _OneByOne.seen[0]["trades"] == ["cook", "plumber"] and _OneByOne.seen[0]["home"]["latitude"] == 27.1
        assert ids.agent_token == "op"
        with pytest.raises(InputError, match=rf"preload workers: {url}/api/partners: token refused \(401\)"):
            preload(url, workers_trace(1), load_profile("other"), "wrong")
        # "already there": ids and tokens from a CSV, no registration request
        (tmp_path / "w.csv").write_text("ref,live_id,token\n10,P-77,t77\n11,78,t78\n")
        prof = write_profile(tmp_path, lambda d: None)
        data = yaml.safe_load((PROFILES_DIR / "other.yaml").read_text())
        data["preload"]["workers"] = {"mode": "csv", "csv": str(tmp_path / "w.csv")}
        prof.write_text(yaml.safe_dump(data))
        before = len(_OneByOne.seen)
        ids = preload(url, workers_trace(2), load_profile(str(prof)), "adm")
        assert ids.worker_id == {10: "P-77", 11: 78} and ids.worker_token[78] == "t78"
        assert len(_OneByOne.seen) == before
        with pytest.raises(InputError, match="lacks 1 of the trace's refs"):
            preload(url, workers_trace(3), load_profile(str(prof)), "adm")
    finally:
        srv.shutdown()
