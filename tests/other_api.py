"""A small home-services API of another shape, for testing target profiles (stdlib only, in memory).

Not the reference deployment: other paths (``/api/jobs/...``), field names (``trade``,
``partnerRef``, ``onDuty``), id formats (``P-00001``, ``JOB-000001``), an ``X-Api-Key``
header, status words (``NEW``, ``OFFERED``, ``ASSIGNED``, ``WORKING``, ``DONE``, ``CANCELLED``,
``EXPIRED``) and partners registered one request at a time.  It dispatches like Sewa Mitra's
rule: the nearest on-duty, idle partner with the trade inside ``radius_km`` who has not been
offered the job before (ties: the earlier registered); a declined or timed-out offer goes to
the next one; after ``max_offers`` offers the job expires; idle partners coming on duty or
freeing up take waiting jobs, oldest first.  ``load/profiles/other.yaml`` describes it.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PRICE_PAISE = 30_000


def km(a: dict, b: dict) -> float:
    """Great-circle distance [km]."""
    la1, lo1, la2, lo2 = map(math.radians, (a["latitude"], a["longitude"], b["latitude"], b["longitude"]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


class Fail(Exception):
    """An HTTP error answer."""

    def __init__(self, code: int, why: str) -> None:
        super().__init__(why)
        self.code = code


class OtherApi:
    """State and rules; every method runs under one lock."""

    def __init__(self, admin_key: str, settings: dict) -> None:
        self.admin_key = admin_key
        self.settings = settings  # {rule, radius_km, offer_timeout_s, max_offers, scenario, seed}
        self.keys: dict[str, tuple[str, str]] = {admin_key: ("admin", "")}
        self.partners: dict[str, dict] = {}
        self.jobs: dict[str, dict] = {}
        self.customers: dict[str, dict] = {}
        self.seq = itertools.count(1)
        self.lock = threading.Lock()

    def key(self, role: str, ref: str) -> str:
        k = secrets.token_hex(8)
        self.keys[k] = (role, ref)
        return k

    # ---------------------------------------------------------------- dispatch
    def _view(self, j: dict) -> dict:
        return {"job": {k: j[k] for k in ("ref", "state", "partnerRef", "trade", "area", "feePaise", "offeredAt")}}

    def _expire_offers(self) -> None:
        to = self.settings.get("offer_timeout_s")
        if not to:
            return
        now = time.time()
        for j in self.jobs.values():
            if j["state"] == "OFFERED" and now - j["offeredAt"] > to:
                self._declined(j)

    def _declined(self, j: dict) -> None:
        self.partners[j["partnerRef"]]["busy"] = False
        j.update(state="NEW", partnerRef=None)
        self._dispatch(j)
        self._drain()

    def _dispatch(self, j: dict) -> None:
        if j["state"] != "NEW":
            return
        if len(j["tried"]) >= self.settings["max_offers"]:
            j["state"] = "EXPIRED"
            return
        best = None
        for p in self.partners.values():  # registration order breaks ties
            if not p["onDuty"] or p["busy"] or j["trade"] not in p["trades"] or p["ref"] in j["tried"]:
                continue
            d = km(p["location"], j["location"])
            if d <= self.settings["radius_km"] and (best is None or d < best[0]):
                best = (d, p)
        if best is not None:
            p = best[1]
            p["busy"] = True
            j["tried"].append(p["ref"])
            j.update(state="OFFERED", partnerRef=p["ref"], offeredAt=time.time())

    def _drain(self) -> None:
        for j in list(self.jobs.values()):
            self._dispatch(j)

    # ---------------------------------------------------------------- routes
    def handle(self, method: str, path: str, who: tuple[str, str] | None, body: Any) -> tuple[int, Any]:
        self._expire_offers()
        if (method, path) == ("GET", "/api/ping"):
            return 200, {"ok": True}
        if (method, path) == ("POST", "/api/customers"):
            ref = f"C-{next(self.seq):06d}"
            self.customers[ref] = body
            return 201, {"customer": {"ref": ref}, "apiKey": self.key("customer", ref)}
        if who is None:
            raise Fail(401, "X-Api-Key required")
        role, me = who
        if (method, path) == ("GET", "/api/ops/settings") and role == "admin":
            s = self.settings
            return 200, {"dispatch": {"rule": s["rule"], "radiusKm": s["radius_km"]}, "scenario": s["scenario"],
                         "seed": s["seed"]}
        if (method, path) == ("POST", "/api/partners") and role == "admin":
            ref = f"P-{len(self.partners) + 1:05d}"
            self.partners[ref] = {"ref": ref, "trades": body["trades"], "location": body["home"], "onDuty": False,
                                  "busy": False, "name": body["fullName"]}
            return 201, {"partner": {"ref": ref}, "apiKey": self.key("partner", ref)}
        if (method, path) == ("POST", "/api/operators") and role == "admin":
            return 201, {"apiKey": self.key("operator", "")}
        if (method, path) == ("POST", "/api/customers/import") and role == "admin":
            refs = [f"C-{next(self.seq):06d}" for _ in body["rows"]]
            self.customers.update(zip(refs, body["rows"], strict=True))
            return 201, {"refs": refs, "keys": [self.key("customer", r) for r in refs]}
        m = re.fullmatch(r"/api/partners/(P-\d+)/(duty|withdrawals)", path)
        if m and role == "partner" and m[1] == me:
            p = self.partners[me]
            if m[2] == "duty":
                p["onDuty"] = bool(body["onDuty"])
                p["location"] = body["position"]
                self._drain()
                return 200, {"partner": {"ref": me, "onDuty": p["onDuty"]}}
            return 201, {"withdrawal": {"paise": body["paise"]}}
        if (method, path) in (("POST", "/api/jobs"), ("POST", "/api/callcentre/jobs")):
            if role not in ("customer", "operator"):
                raise Fail(403, "customers and operators book")
            ref = f"JOB-{next(self.seq):06d}"
            j = {"ref": ref, "state": "NEW", "partnerRef": None, "trade": body["trade"], "area": body["area"],
                 "location": body["where"], "feePaise": PRICE_PAISE, "offeredAt": None, "tried": [],
                 "customer": me}
            self.jobs[ref] = j
            self._dispatch(j)
            return 201, self._view(j)
        m = re.fullmatch(r"/api/jobs/(JOB-\d+)(?:/(\w+))?", path)
        if not m or m[1] not in self.jobs:
            raise Fail(404, "no such route or job")
        j, step = self.jobs[m[1]], m[2]
        if method == "GET" and step is None:
            return 200, self._view(j)
        if step in ("respond", "begin", "finish"):
            if role != "partner" or j["partnerRef"] != me:
                raise Fail(409, "not your job")
            want = {"respond": "OFFERED", "begin": "ASSIGNED", "finish": "WORKING"}[step]
            if j["state"] != want:
                raise Fail(409, f"job is {j['state']}")
            if step == "respond" and body.get("decision") == "no":
                self._declined(j)
            else:
                j["state"] = {"respond": "ASSIGNED", "begin": "WORKING", "finish": "DONE"}[step]
                if step == "finish":
                    self.partners[me]["busy"] = False
                    self._drain()
            return 200, self._view(j)
        if step in ("cancel", "pay", "review") and role in ("customer", "admin"):
            if step == "cancel":
                if j["state"] in ("WORKING", "DONE", "CANCELLED", "EXPIRED"):
                    raise Fail(409, f"job is {j['state']}")
                if j["partnerRef"]:
                    self.partners[j["partnerRef"]]["busy"] = False
                j["state"] = "CANCELLED"
                self._drain()
            elif j["state"] != "DONE":
                raise Fail(409, "job not done")
            return 200, self._view(j)
        raise Fail(403 if role else 401, "not allowed")


def make_handler(api: OtherApi) -> type[BaseHTTPRequestHandler]:
    """A request handler bound to ``api``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stalls

        def log_message(self, *args: Any) -> None:
            pass

        def _any(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(n)) if n else {}
                with api.lock:
                    who = api.keys.get(self.headers.get("X-Api-Key", ""))
                    code, out = api.handle(self.command, self.path, who, body)
            except Fail as e:
                code, out = e.code, {"error": str(e)}
            except (KeyError, TypeError, ValueError) as e:
                code, out = 422, {"error": f"bad request: {e!r}"}
            data = json.dumps(out).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _any

    return Handler


def serve(admin_key: str, settings: dict) -> tuple[ThreadingHTTPServer, str]:
    """Start on a free loopback port in a daemon thread; returns the server and its URL."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(OtherApi(admin_key, settings)))
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"
