"""End to end against an API of another shape (tests/other_api.py) through ``load/profiles/other.yaml``.

The whole replay (preload one by one, bookings, offers, steps, money) and the twin check's
verdict: agreement when the deployment is configured like the twin, exit 1 naming the
setting when its radius differs, and setup failures that end the run at once (exit 2).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.other_api import serve

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
LOCUST = str(Path(PY).parent / "locust")
KEY = "other-admin-key"
SMALL = ["demand.scale=40", "geography.districts=[Lucknow, Kanpur Nagar]", "workforce.registered=2000"]
SPEEDUP = 1440 * 60 / 12  # one simulated day in 12 s

pytestmark = pytest.mark.slow


def make_trace(out: Path, *options: str) -> Path:
    args = [PY, "run_sim.py", "trace", "--scenario", "baseline", "--days", "1", "--out", str(out), *options]
    for s in SMALL:
        args += ["--set", s]
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True, timeout=120)
    return out


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    return make_trace(tmp_path_factory.mktemp("trace") / "trace.parquet")


def other_server(trace: Path, radius_km: float | None = None):
    from sim.trace import read_trace

    _, meta = read_trace(trace)
    # The live offer time-out is the twin's, compressed like the replay (a little longer: lag).
    settings = {"rule": meta["policy"], "radius_km": radius_km or meta["policy_params"]["radius_km"],
                "offer_timeout_s": 1.5 * meta["accept_timeout_min"] * 60 / SPEEDUP, "max_offers": meta["max_offers"],
                "scenario": meta["scenario"], "seed": meta["seed"]}
    return serve(KEY, settings)


def locust(url: str, trace: Path, csv: Path, key: str = KEY, extra: tuple[str, ...] = (),
           timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LOCUST, "-f", "locustfile.py", "--headless", "--host", url, "--trace", str(trace), "--profile", "other",
         "--speedup", str(SPEEDUP), "--run-time", "40s", "--csv", str(csv), "--max-fail-ratio", "0",
         "--max-lag-p99-ms", "2000", "--admin-token", key, *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=os.environ | {"SEWAMITRA_ADMIN_TOKEN": ""})


def twin_check(url: str, trace: Path, csv: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PY, "run_sim.py", "twin-check", "--trace", str(trace), "--service-url", url, "--locust-csv", str(csv),
         "--profile", "other", "--out", str(out), "--admin-token", KEY],
        cwd=ROOT, capture_output=True, text=True, timeout=60)


def replay_then_check(trace: Path, tmp_path: Path, radius_km: float | None = None) -> subprocess.CompletedProcess:
    """Replay ``trace`` against a fresh server (Locust must pass its SLOs), then run the twin check."""
    srv, url = other_server(trace, radius_km)
    try:
        res = locust(url, trace, tmp_path / "lc")
        assert res.returncode == 0, res.stderr[-3000:] + res.stdout[-2000:]
        return twin_check(url, trace, tmp_path / "lc", tmp_path / "tc")
    finally:
        srv.shutdown()


def test_replay_and_twin_check_agree(trace, tmp_path):
    tc = replay_then_check(trace, tmp_path)
    assert tc.returncode == 0, tc.stdout + tc.stderr
    assert "verdict: AGREE" in tc.stdout and "CONFIGURATION MISMATCH" not in tc.stdout
    assert (tmp_path / "tc" / "twin_check.png").stat().st_size > 1000


def test_bookings_only_trace_with_compressed_nights_still_agrees(tmp_path):
    """Only the workers bookings touch, nights shrunk to a minute: the outcome is the twin's."""
    tr = make_trace(tmp_path / "small.parquet", "--bookings-only", "--compress-idle", "1")
    tc = replay_then_check(tr, tmp_path)
    assert tc.returncode == 0, tc.stdout + tc.stderr


def test_other_radius_is_a_named_mismatch(trace, tmp_path):
    tc = replay_then_check(trace, tmp_path, radius_km=3.0)
    assert tc.returncode == 1, tc.stdout + tc.stderr
    first = tc.stdout.splitlines()[0]
    assert first.startswith("CONFIGURATION MISMATCH: radius_km: deployment 3.0, trace 20.0"), tc.stdout


@pytest.mark.parametrize("problem", ["wrong port", "wrong token", "missing token", "wrong port, 2 processes"])
def test_setup_failure_ends_the_run_at_once(trace, tmp_path, problem):
    srv, url = other_server(trace)
    try:
        if problem.startswith("wrong port"):
            srv.shutdown()
            srv.server_close()
        key = {"wrong token": "not-the-key", "missing token": ""}.get(problem, KEY)
        t = time.perf_counter()
        extra = ("--processes", "2") if "processes" in problem else ()
        res = locust(url, trace, tmp_path / "lc", key=key, extra=extra, timeout=30)
        took = time.perf_counter() - t
    finally:
        srv.shutdown()
    assert res.returncode == 2, res.stderr[-2000:]
    assert took < 10
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    errors = [x for x in lines if x.startswith("error: ")]
    assert len(errors) == 1 and url in errors[0], res.stderr
    assert "Traceback" not in res.stderr
    why = {"wrong port": "cannot connect", "wrong token": "token refused", "missing token": "missing admin token"}
    assert why[problem.split(",")[0]] in errors[0]
