"""Kill -9 under load, restart: every acknowledged booking and payment is there, the
invariants hold, and retrying unanswered keys creates each booking exactly once."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import pytest

from tests.service_fixtures import *  # noqa: F403
from tests.service_fixtures import ADMIN, LUCKNOW, Api, Server

pytestmark = pytest.mark.timeout(180)
THREADS = 8


def _load(url: str, citizens: list[dict], stop: threading.Event, out: dict, lock: threading.Lock) -> None:
    http = httpx.Client(base_url=url, timeout=5)
    i = 0
    while not stop.is_set():
        c = citizens[i % len(citizens)]
        i += 1
        key = uuid.uuid4().hex
        body = {"category": "electrician", "district": "Lucknow", "lat": LUCKNOW[0], "lon": LUCKNOW[1]}
        with lock:
            out["tried"].append((c["token"], key, body))
        try:
            r = http.post("/v1/bookings", json=body,
                          headers={"Authorization": f"Bearer {c['token']}", "Idempotency-Key": key})
            if r.status_code != 201:
                continue
            bid = r.json()["id"]
            with lock:
                out["booked"].append(bid)
            r = http.post(f"/v1/bookings/{bid}/payments", json={"method": "online", "amount_paise": 30000},
                          headers={"Authorization": f"Bearer {c['token']}", "Idempotency-Key": "pay-" + key})
            if r.status_code == 201:
                with lock:
                    out["paid"].append(bid)
        except httpx.HTTPError:
            time.sleep(0.05)  # the server is gone: keep trying until told to stop
    http.close()


def test_kill_and_restart_under_load(backend):
    srv = Server(backend, "--rate-limit", "0").start()
    try:
        api = Api(srv.url)
        for i in range(4):
            api.worker(LUCKNOW[0] + 0.001 * i, LUCKNOW[1])
        citizens = [api.citizen() for _ in range(THREADS)]
        out: dict = {"tried": [], "booked": [], "paid": []}
        lock, stop = threading.Lock(), threading.Event()
        threads = [threading.Thread(target=_load, args=(srv.url, citizens, stop, out, lock)) for _ in range(THREADS)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30  # a shared machine may be slow: kill once the load is going
        while time.monotonic() < deadline and (len(out["booked"]) <= 20 or not out["paid"]):
            time.sleep(0.1)
        time.sleep(0.3)
        srv.kill()
        stop.set()
        for t in threads:
            t.join()
        assert len(out["booked"]) > 20 and out["paid"], f"the load did not get going: {len(out['booked'])}"
        srv.start()
        api = Api(srv.url)
        inv = api.invariants()
        assert inv["ok"], inv
        for bid in out["booked"]:
            r = api.call("GET", f"/v1/bookings/{bid}", ADMIN)
            assert r.status_code == 200, f"acknowledged booking {bid} lost"
        for bid in out["paid"]:
            assert api.call("GET", f"/v1/bookings/{bid}", ADMIN).json()["paid_paise"] == 30000
        # Retrying every key once more: answered ones replay, unanswered ones take effect now.
        ids = set()
        for token, key, body in out["tried"]:
            r = api.call("POST", "/v1/bookings", token, key, json=body)
            assert r.status_code == 201, r.text
            ids.add(r.json()["id"])
        assert set(out["booked"]) <= ids
        total = api.call("GET", "/v1/admin/stats", ADMIN).json()["bookings"]
        assert total == len(ids) == len(out["tried"])  # one booking per key, none twice
        assert api.invariants()["ok"]
    finally:
        srv.stop()
