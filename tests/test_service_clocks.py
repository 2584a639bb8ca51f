"""The deployment's rules (``GET /v1/admin/config``) and its live clocks, against real servers."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine

from tests.service_fixtures import *  # noqa: F403
from tests.service_fixtures import ADMIN, LUCKNOW, Api, Server

pytestmark = pytest.mark.timeout(120)


def test_admin_config_shows_the_rules_from_the_scenario(api):
    from sim.config import load_scenario

    r = api.call("GET", "/v1/admin/config", ADMIN)
    assert r.status_code == 200, r.text
    cfg = r.json()
    sc = load_scenario("baseline")
    lc = sc.lifecycle
    assert cfg["policy"] == sc.dispatch.policy and cfg["policy_params"] == dict(sc.dispatch.params)
    assert cfg["radius_km"] == sc.dispatch.params.get("radius_km", 15.0) and cfg["scenario"] == "baseline"
    assert cfg["seed"] == sc.seed
    assert cfg["offer_timeout_min"] == lc.accept_timeout_min and cfg["max_offers"] == lc.max_offers
    assert cfg["retry_interval_min"] == lc.retry_interval_min and cfg["max_search_min"] == lc.max_search_min
    assert cfg["time_scale"] == 1.0 and cfg["settlement_delay_days"] >= 0
    c = api.citizen()
    assert api.call("GET", "/v1/admin/config", c["token"]).status_code == 403
    assert api.call("GET", "/v1/admin/config").status_code == 401


def _wait(api, bid: int, status: str, timeout_s: float = 8.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        b = api.call("GET", f"/v1/bookings/{bid}", ADMIN).json()
        if b["status"] == status or time.monotonic() > deadline:
            return b
        time.sleep(0.1)


@pytest.fixture(scope="module")
def fast_server(backend):
    """A server whose clocks run 600 times faster: 1 deployment minute = 0.1 s."""
    s = Server(backend, "--allow-reset", "--rate-limit", "0", "--time-scale", "600", "--offer-timeout-min", "3",
               "--max-offers", "2", "--retry-interval-min", "2", "--max-search-min", "30",
               "--settlement-days", "0.002").start()
    yield s
    s.stop()


@pytest.fixture
def fast(fast_server):
    a = Api(fast_server.url)
    a.db_url = fast_server.db_url
    a.reset()
    yield a
    a.http.close()


def test_offer_times_out_then_redispatches_then_unfulfilled(fast):
    w1 = fast.worker(LUCKNOW[0] + 0.001, LUCKNOW[1])
    c = fast.citizen()
    b = fast.book(c).json()
    assert b["worker_id"] == w1["id"]
    w2 = fast.worker(LUCKNOW[0] + 0.01, LUCKNOW[1])  # free now; the booking is w1's until it times out
    got = None
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        got = fast.call("GET", f"/v1/bookings/{b['id']}", ADMIN).json()
        if got["worker_id"] == w2["id"] or got["status"] != "offered":
            break
        time.sleep(0.05)
    assert got["status"] == "offered" and got["worker_id"] == w2["id"], got
    # w2 ignores it too: the second offer was the last one
    assert _wait(fast, b["id"], "unfulfilled")["status"] == "unfulfilled"
    st = fast.call("GET", f"/v1/workers/{w1['id']}", w1["token"]).json()
    assert st["active_booking_id"] is None
    assert fast.invariants()["ok"]


def test_pending_booking_ends_unfulfilled_after_max_search_with_refund(fast):
    c = fast.citizen()
    b = fast.book(c).json()
    assert b["status"] == "pending"
    pay = fast.call("POST", f"/v1/bookings/{b['id']}/payments", c["token"], "p",
                    json={"method": "online", "amount_paise": 30000})
    assert pay.status_code == 201
    t0 = time.monotonic()
    assert _wait(fast, b["id"], "unfulfilled")["status"] == "unfulfilled"
    assert time.monotonic() - t0 > 1.0  # not before 30 deployment minutes (3 s) from creation
    stats = fast.call("GET", "/v1/admin/stats", ADMIN).json()
    assert stats["by_status"] == {"unfulfilled": 1}
    assert fast.invariants()["ok"]


def test_pending_booking_is_retried_when_a_worker_appears_unnoticed(fast):
    c = fast.citizen()
    b = fast.book(c).json()
    assert b["status"] == "pending"
    # a worker made available behind the dispatcher's back (as a lost wake-up would leave them)
    fast.call("POST", "/v1/admin/workers:bulk", ADMIN, json={"workers": [
        {"name": "W", "phone": "+919800000001", "district": "Lucknow", "lat": LUCKNOW[0], "lon": LUCKNOW[1],
         "skills": ["electrician"]}]})
    eng = sa_engine(fast)
    with eng.begin() as conn:
        conn.exec_driver_sql("UPDATE workers SET available = TRUE")
    eng.dispose()
    assert _wait(fast, b["id"], "offered")["status"] == "offered"


def sa_engine(api):
    """An engine on the server's own database (to change it behind the server's back)."""
    return create_engine(api.db_url)


def test_payouts_settle_after_t_plus_n(fast):
    w = fast.worker()
    c = fast.citizen()
    bid = fast.book(c).json()["id"]
    fast.call("POST", f"/v1/bookings/{bid}/payments", c["token"], "p", json={"method": "online", "amount_paise": 30000})
    for step in ("accept", "start", "complete"):
        assert fast.call("POST", f"/v1/bookings/{bid}/{step}", w["token"]).status_code == 200
    po = fast.call("POST", f"/v1/workers/{w['id']}/payouts", w["token"], "po", json={"amount_paise": 10000})
    assert po.status_code == 201
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        money = fast.call("GET", "/v1/admin/stats", ADMIN).json()["payouts"]
        if money["settled"]:
            break
        time.sleep(0.1)
    assert money == {"in_transit": 0, "settled": 1, "settled_paise": 10000}
    assert fast.invariants()["ok"]
