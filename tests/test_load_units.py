"""Pure parts of the load package: scheduling arithmetic, lag histogram, SLO checks, shape, request planning."""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from load.actions import Chain, LiveIds, Request, Skip, apply, citizen_phone, plan
from load.profile import load_profile
from load.schedule import LagHistogram, due_offsets_s, merge_all, ready_until, sleep_for
from load.shape import ScenarioCurve
from load.slo import Limits, Observed, exit_code, violations
from sim.trace import COLUMNS

Row = namedtuple("Row", list(COLUMNS))


def row(**kw):
    base = dict.fromkeys(COLUMNS)
    base.update(seq=1, t_min=0.0)
    base.update(kw)
    return Row(**base)


# --------------------------------------------------------------------------- schedule


def test_due_offsets_compress_time():
    assert due_offsets_s([0.0, 1.0, 1440.0], 1440.0).tolist() == [0.0, 60 / 1440, 60.0]
    assert due_offsets_s([10.0], 60.0, origin_min=10.0).tolist() == [0.0]
    with pytest.raises(ValueError):
        due_offsets_s([1.0], 0.0)


def test_ready_until_and_sleep_for_walk_the_schedule_without_sleeping():
    due = np.array([0.0, 0.5, 0.5, 2.0])
    assert ready_until(due, 0, -0.1) == 0
    assert ready_until(due, 0, 0.0) == 1
    assert ready_until(due, 1, 0.5) == 3  # ties fire together
    assert ready_until(due, 3, 0.4) == 3  # never goes back
    assert sleep_for(due, 3, 1.5) == pytest.approx(0.5)
    assert sleep_for(due, 3, 2.5) == 0.0  # late: fire at once (an open model never skips)
    assert sleep_for(due, 4, 9.0) is None


@given(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=50), st.floats(1.0, 2e4))
def test_every_request_fires_exactly_once_in_order(times, step):
    due = np.sort(np.asarray(times))
    fired, i, now = [], 0, 0.0
    while True:
        j = ready_until(due, i, now)
        fired += list(range(i, j))
        i = j
        w = sleep_for(due, i, now)
        if w is None:
            break
        now += min(max(w, 1e-9), step)
    assert fired == list(range(len(due)))


def test_lag_histogram_quantiles_and_merge():
    h = LagHistogram.empty()
    for ms in range(1, 101):  # 1..100 ms
        h.add(ms / 1000)
    h.add(-0.01)  # early counts as zero lag
    assert h.n == 101
    assert h.quantile(0.5) == pytest.approx(50, abs=1)
    assert h.quantile(0.99) == pytest.approx(99, abs=1)
    assert h.max_ms == pytest.approx(100)
    g = LagHistogram.from_dict(h.to_dict())
    assert g == h
    m = merge_all([h, g])
    assert m.n == 202 and m.quantile(0.5) == h.quantile(0.5)
    assert LagHistogram.empty().summary()["p99_ms"] == 0.0


def test_lag_buckets_keep_resolution_near_the_50ms_target():
    h = LagHistogram.empty()
    h.add(0.0494)
    h.add(0.0506)
    assert sorted(h.counts) == [49.0, 51.0]


# --------------------------------------------------------------------------- SLO


def test_slo_checks_and_exit_code():
    lim = Limits(fail_ratio=0.01, p99_ms=500, lag_p99_ms=50)
    ok = Observed(requests=100, fail_ratio=0.0, p99_ms=100, lag_p99_ms=10)
    assert violations(ok, lim) == [] and exit_code(ok, lim) == 0
    bad = Observed(requests=100, fail_ratio=0.05, p99_ms=900, lag_p99_ms=80)
    assert len(violations(bad, lim)) == 3 and exit_code(bad, lim) == 1
    assert exit_code(bad, Limits(None, None, None)) == 0
    assert exit_code(Observed(0, 0.0, 0.0), lim) == 1  # nothing sent is a failed test


# --------------------------------------------------------------------------- shape


class FlatThenPeak:
    """1 booking/min, 4/min between 10:00 and 11:00 of each day."""

    def rate_per_min(self, t_min):
        hour = (np.asarray(t_min) // 60) % 24
        return np.where(hour == 10, 4.0, 1.0)


def test_shape_follows_the_rate_curve_compressed():
    c = ScenarioCurve.from_source(FlatThenPeak(), 2 * 1440, speedup=1440, pacing_s=10)
    assert c.duration_s == pytest.approx(120.0)
    # 1 booking/sim-minute at 1440x = 24 bookings/s; 10 s pacing → 240 users
    assert c.rate_per_s(0.0) == pytest.approx(24.0)
    assert c.users_at(0.0) == 240
    t_peak = 10.5 * 3600 / 1440  # 10:30 simulated
    assert c.users_at(t_peak) == 960
    assert c.users_at(t_peak + 60.0) == 960  # the next day, same hour
    assert c.users_at(120.0) is None and c.tick(120.0) is None
    assert c.tick(0.0) == (240, 240.0)


def test_shape_keeps_minimum_users_and_validates():
    c = ScenarioCurve((0.0, 0.0), speedup=60, pacing_s=5, min_users=2)
    assert c.users_at(0.0) == 2
    with pytest.raises(ValueError):
        ScenarioCurve((1.0,), speedup=0)


def test_shape_from_scenario_includes_festival_surge():
    from load.shape import curve_for_scenario

    c = curve_for_scenario("baseline", ["geography.districts=[Lucknow]"], speedup=86400, days=110)
    day = 86400 / 86400  # one wall second per simulated day
    noon = 0.5 * day
    before, surge = c.rate_per_s(90 * day + noon), c.rate_per_s(100 * day + noon)
    assert surge > before  # Diwali cleaning/painting and Karva Chauth surges (days 97-111)
    assert c.rate_per_s(3 * day + 0.1 * day) < c.rate_per_s(3 * day + 0.45 * day)  # night < late morning


# --------------------------------------------------------------------------- planning requests

REF = load_profile("reference")
IDS = LiveIds(worker_id={7: 70, 8: 80}, worker_token={70: "w70", 80: "w80"}, agent_token="ag",
              admin_token="adm", caller_token={5: "caller5"})


def test_booking_chain_maps_twin_ids_to_live_ids():
    ch = Chain()
    reg = plan(row(action="register_citizen", citizen_ref=3, district="Lucknow", lat=26.8, lon=80.9), ch, IDS, REF)
    assert reg.path == "/v1/citizens" and reg.body["phone"] == citizen_phone(3)
    apply(row(action="register_citizen"), reg, ch, 201, {"id": 1, "token": "c1"}, REF)
    cr = plan(row(action="create_booking", booking_ref=9, citizen_ref=3, channel="app", category="plumber",
                  district="Lucknow", lat=26.8, lon=80.9), ch, IDS, REF)
    assert cr.token == "c1" and cr.idempotency_key == "bk-9" and cr.body["channel"] == "app"
    apply(row(action="create_booking"), cr, ch, 201, {"id": 555, "status": "offered", "worker_id": 80}, REF)
    # the twin's decision for offer 0 goes to whoever live offered it (worker 80, not the twin's 7)
    acc = plan(row(action="accept", booking_ref=9, worker_ref=7, offer_index=0), ch, IDS, REF)
    assert acc.path == "/v1/bookings/555/accept" and acc.token == "w80"
    assert acc.name == "/v1/bookings/[id]/accept"
    apply(row(action="accept"), acc, ch, 200, {"id": 555, "status": "accepted", "worker_id": 80,
                                                "price_paise": 30000}, REF)
    st_ = plan(row(action="start", booking_ref=9), ch, IDS, REF)
    assert st_.token == "w80" and st_.path.endswith("/start")
    pay = plan(row(action="pay", seq=44, booking_ref=9, amount_paise=27000, method="online"), ch, IDS, REF)
    assert pay.body == {"method": "online", "amount_paise": 30000}  # the live price
    assert pay.idempotency_key == "pay-44" and pay.token == "c1"
    assert plan(row(action="rate", booking_ref=9, stars=4), ch, IDS, REF).body == {"stars": 4}


def test_unknown_offer_is_reread_then_skipped():
    ch = Chain(live_id=12, citizen_token="c", status="pending", stale=True)
    sync = plan(row(action="accept", booking_ref=1, offer_index=0), ch, IDS, REF)
    assert sync.method == "GET" and sync.token == "adm"
    assert isinstance(plan(row(action="start", booking_ref=1), ch, IDS, REF), Skip)
    assert isinstance(plan(row(action="accept"), Chain(), IDS, REF), Skip)  # never created live


def test_helpline_booking_uses_agent_and_preloaded_caller():
    ch = Chain()
    req = plan(row(action="create_booking", booking_ref=2, citizen_ref=5, channel="helpline", category="cook",
                   district="Agra", lat=27.1, lon=78.0), ch, IDS, REF)
    assert req.path == "/v1/helpline/bookings" and req.token == "ag"
    assert req.body["caller_phone"] == citizen_phone(5) and "channel" not in req.body
    assert ch.citizen_token == "caller5"


def test_worker_rows():
    s = plan(row(action="status", worker_ref=8, available=True, lat=26.0, lon=80.0), Chain(), IDS, REF)
    assert s.method == "PUT" and s.path == "/v1/workers/80/status" and s.body["available"] is True
    p = plan(row(action="payout", seq=3, worker_ref=7, amount_paise=500), Chain(), IDS, REF)
    assert isinstance(p, Request) and p.path == "/v1/workers/70/payouts" and p.idempotency_key == "po-3"


def test_conflict_marks_offer_stale():
    ch = Chain(live_id=1, offered=70)
    req = plan(row(action="decline", booking_ref=1), ch, IDS, REF)
    apply(row(action="decline"), req, ch, 409, None, REF)
    assert ch.stale
    assert math.isfinite(1.0)


# --------------------------------------------------------------------------- twin check tables


def test_twin_check_tables():
    import pandas as pd

    from load.twincheck import compare, same_worker

    book = pd.DataFrame({
        "booking_ref": [0, 1, 2, 3], "district": ["A", "A", "B", "B"],
        "twin_status": ["completed", "unfulfilled", "cancelled", "completed"],
        "twin_worker_ref": pd.array([5, pd.NA, pd.NA, 6], dtype="Int64"),
        "twin_offered": [True, False, True, True], "twin_accepted": [True, False, False, True],
        "live_id": pd.array([10, 11, 12, 13], dtype="Int64"),
        "live_status": ["completed", "pending", "cancelled", "completed"],
        "live_worker_ref": pd.array([5, pd.NA, pd.NA, 7], dtype="Int64"),
        "live_offered": [True, True, True, True], "live_accepted": [True, False, False, True],
    })
    t = compare(book).set_index(["district", "metric"])
    assert t.loc[("ALL", "created"), "twin"] == 4 and t.loc[("ALL", "created"), "live"] == 4
    assert t.loc[("ALL", "offered"), "diff"] == 1
    assert t.loc[("A", "unfulfilled"), "live"] == 1 and t.loc[("B", "completed"), "twin"] == 1
    sw = same_worker(book)
    assert sw["twin_assigned"] == 2 and sw["same_worker"] == 1 and sw["share_of_both_assigned"] == 0.5


# --------------------------------------------------------------------------- setup helpers


def test_loopback_only_unless_allowed():
    from load.setup import check_loopback
    from sim.errors import InputError

    for ok in ("http://127.0.0.1:8000", "http://localhost:1", "http://[::1]:80", "http://127.5.0.1"):
        check_loopback(ok)
    with pytest.raises(InputError, match="--host"):
        check_loopback("http://10.0.0.5:8000")
    check_loopback("http://10.0.0.5:8000", allow_remote=True)


def test_setup_message_round_trip():
    from load.setup import ids_from_message, ids_to_message

    ids2, t0, part, parts = ids_from_message(ids_to_message(IDS, 123.5, 1, 3))
    assert (ids2, t0, part, parts) == (IDS, 123.5, 1, 3)
