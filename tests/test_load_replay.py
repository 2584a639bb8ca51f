"""The gevent replayer against a fake deployment: order within a booking, id linkage, lag, log."""

from __future__ import annotations

import itertools

import pandas as pd

from load.actions import LiveIds
from load.profile import load_profile
from load.replay import Replayer
from sim.trace import COLUMNS, partition


def trace_rows(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame([dict.fromkeys(COLUMNS) | r for r in rows])
    df["seq"] = range(len(df))
    for c, dt in COLUMNS.items():
        df[c] = df[c].astype(dt)
    return df


class FakeService:
    """Offers every new booking to live worker 80; records what arrives."""

    def __init__(self):
        self.log = []
        self.ids = itertools.count(500)
        self.bookings = {}

    def __call__(self, req):
        self.log.append((req.method, req.path, req.token))
        if req.path == "/v1/citizens":
            return 201, {"id": 1, "token": f"cit-{req.body['phone']}"}
        if req.path in ("/v1/bookings", "/v1/helpline/bookings"):
            bid = next(self.ids)
            self.bookings[bid] = {"id": bid, "status": "offered", "worker_id": 80, "price_paise": 30000}
            return 201, {"id": bid, "status": "offered", "worker_id": 80}
        if req.method == "GET":
            return 200, self.bookings[int(req.path.rsplit("/", 1)[1])]
        if req.path.endswith(("/accept", "/start", "/complete")):
            bid = int(req.path.split("/")[3])
            nxt = {"accept": "accepted", "start": "in_progress", "complete": "completed"}[req.path.rsplit("/", 1)[1]]
            self.bookings[bid]["status"] = nxt
            return 200, self.bookings[bid]
        return 200, {}


def test_replay_links_ids_and_keeps_booking_order():
    rows = trace_rows([
        {"t_min": 0.0, "action": "status", "actor": "worker", "worker_ref": 8, "available": True, "lat": 26.8,
         "lon": 80.9},
        {"t_min": 1.0, "action": "register_citizen", "actor": "citizen", "booking_ref": 0, "citizen_ref": 0,
         "district": "Lucknow", "lat": 26.8, "lon": 80.9},
        {"t_min": 1.0, "action": "create_booking", "actor": "citizen", "booking_ref": 0, "citizen_ref": 0,
         "worker_ref": 7, "channel": "app", "category": "plumber", "district": "Lucknow", "lat": 26.8, "lon": 80.9},
        {"t_min": 2.0, "action": "accept", "actor": "worker", "booking_ref": 0, "worker_ref": 7, "offer_index": 0},
        {"t_min": 3.0, "action": "start", "actor": "worker", "booking_ref": 0, "worker_ref": 7},
        {"t_min": 4.0, "action": "complete", "actor": "worker", "booking_ref": 0, "worker_ref": 7},
        {"t_min": 4.0, "action": "pay", "actor": "citizen", "booking_ref": 0, "amount_paise": 1, "method": "cash"},
        {"t_min": 4.0, "action": "rate", "actor": "citizen", "booking_ref": 0, "stars": 5},
    ])
    svc = FakeService()
    ids = LiveIds({7: 70, 8: 80}, {70: "w70", 80: "w80"}, "ag", "adm")
    clock = itertools.count(1000.0, 0.001)  # every read advances 1 ms; schedule started long ago
    rep = Replayer(partition(rows, 1, 0), ids, svc, speedup=1440.0, t0=0.0, prof=load_profile("reference"),
                   clock=lambda: next(clock))
    rep.run()
    paths = [p for _, p, _ in svc.log]
    assert paths == ["/v1/workers/80/status", "/v1/citizens", "/v1/bookings", "/v1/bookings/500/accept",
                     "/v1/bookings/500/start", "/v1/bookings/500/complete", "/v1/bookings/500/payments",
                     "/v1/bookings/500/rating"]
    tokens = dict(zip(paths, [t for _, _, t in svc.log], strict=True))
    assert tokens["/v1/bookings/500/accept"] == "w80"  # the live offer's worker, not the twin's 7
    assert tokens["/v1/bookings/500/payments"].startswith("cit-")
    assert rep.sent == 8 and not rep.skipped and rep.lag.n == 8
    assert rep.lag.quantile(0.5) > 900_000  # the fake schedule started 1000 s ago
    log = rep.booking_log(ids.worker_ref())
    assert log.to_dict("records") == [{"booking_ref": 0, "live_id": "500", "live_status": "completed",
                                       "live_worker_ref": 8, "live_offers_ref": "8"}]


def test_replay_sends_on_time_with_a_real_clock():
    """Requests at 0.2 s intervals: each goes out within a small lag of its due time."""
    import time

    rows = trace_rows([{"t_min": i * 0.2, "action": "status", "actor": "worker", "worker_ref": 8,
                        "available": bool(i % 2), "lat": 26.8, "lon": 80.9} for i in range(5)])
    svc = FakeService()
    ids = LiveIds({8: 80}, {80: "w80"}, None, None)
    t0 = time.time()
    rep = Replayer(rows, ids, svc, speedup=60.0, t0=t0, prof=load_profile("reference"))
    rep.run()
    assert rep.sent == 5 and 0.8 <= time.time() - t0 < 1.5
    assert rep.lag.max_ms < 100
