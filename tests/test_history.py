"""A platform that grows: registrations, rollouts, snapshots, warm-up window (issue 12)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sim.config import load_scenario
from sim.growth import Growth
from sim.model import Model
from sim.runner import run_one
from sim.seeds import Streams
from sim.snapshots import COLUMNS, month_ends
from tests.conftest import TEST_SCENARIOS

SMALL = TEST_SCENARIOS / "history_small.yaml"
BUSY = str(TEST_SCENARIOS / "small.yaml")


@pytest.fixture(scope="module")
def small_run():
    return run_one(load_scenario(SMALL), seed=3)


def test_snapshot_columns_and_monotone_cumulative_series(small_run):
    snap = small_run.tables["snapshots"]
    assert tuple(snap.columns) == COLUMNS
    assert list(snap["month_end"]) == [d.isoformat() for d in month_ends(dt.date(2021, 12, 1), 240)]
    assert len(snap) == 7  # Dec 2021 .. Jun 2022 (the horizon ends 28 Jul 2022)
    for col in ("registered_workers", "bookings_cum", "completed_cum", "calls_cum", "wallet_credit_cum_paise"):
        assert np.all(np.diff(snap[col].to_numpy()) >= 0), col
    assert snap["bookings_cum"].iloc[-1] > snap["completed_cum"].iloc[-1] > 0
    assert snap["calls_cum"].iloc[-1] > 0 and snap["wallet_credit_cum_paise"].iloc[-1] > 0
    assert (snap["active_workers"] <= snap["registered_workers"]).all()


def test_registration_curve_passes_through_its_anchors():
    sc = load_scenario("history")
    g = Growth(sc.growth, sc.start_date)
    for p in sc.growth.registrations:
        assert g.registered_at(g.minutes(p.date)) == pytest.approx(p.registered, rel=1e-9)
    n = g.registered_total(sc.horizon_min)
    reg = g.registration_times(n, np.random.default_rng(1))
    for p in sc.growth.registrations[1:]:
        assert abs(int((reg < g.minutes(p.date)).sum()) - p.registered) <= 1


def test_rollouts_switch_categories_and_districts_on_at_their_dates(small_run):
    bk = small_run.tables["bookings"]
    day = bk["created_min"] / 1440.0
    ac_on = (dt.date(2022, 1, 15) - dt.date(2021, 12, 1)).days
    bb_on = (dt.date(2022, 3, 1) - dt.date(2021, 12, 1)).days
    ac = bk["category"] == "ac_repair"
    assert not (ac & (day < ac_on)).any() and (ac & (day >= ac_on)).sum() > 10
    bb = bk["district"] == "Barabanki"
    assert not (bb & (day < bb_on)).any() and (bb & (day >= bb_on)).sum() > 10
    # demand of the districts not yet on is not served: fewer bookings before Barabanki is on
    assert (day < bb_on).sum() / bb_on < (day >= bb_on).sum() / (240 - bb_on)


def test_workers_register_at_their_dates_and_only_registered_workers_work(small_run):
    wk = small_run.tables["workers"]
    bk = small_run.tables["bookings"].dropna(subset=["assigned_min"])
    reg = wk.set_index("worker_id")["registered_min"]
    until = wk.set_index("worker_id")["active_until_min"]
    w = bk["worker_id"].astype(int)
    assert (reg[w].to_numpy() <= bk["assigned_min"].to_numpy()).all()
    assert (until[w].to_numpy() > bk["assigned_min"].to_numpy()).all()


def test_warmup_does_not_change_utilisation():
    base = load_scenario(BUSY, ["horizon_days=20", "helpline.enabled=false",
                                                        "money.enabled=false"])
    a = run_one(base, seed=5).summary
    b = run_one(load_scenario(BUSY, ["horizon_days=20", "warmup_days=10",
                                                            "helpline.enabled=false", "money.enabled=false"]),
                seed=5).summary
    assert b["utilisation"] == pytest.approx(a["utilisation"], rel=0.15)
    assert b["bookings"] < a["bookings"]


def test_urban_uplift_holds_within_districts():
    sc = load_scenario(BUSY, ["horizon_days=7", "helpline.enabled=false",
                                                      "money.enabled=false"])
    near = {}
    for up in (0.0, 4.0):
        s2 = load_scenario(BUSY, ["horizon_days=7", "helpline.enabled=false",
                                                          "money.enabled=false", f"demand.urban_uplift={up}"])
        m = Model(s2, Streams(2))
        near[up] = float(np.mean(m.arrivals.urban))
    assert sc.geography.urban_radius_km > 0
    assert near[4.0] > near[0.0] + 0.1


def test_helpline_and_wallet_summaries_cover_the_measured_window():
    sets = ["horizon_days=20", "money.enabled=true"]
    a = run_one(load_scenario(BUSY, sets), seed=4).summary
    b = run_one(load_scenario(BUSY, [*sets, "warmup_days=10"]), seed=4).summary
    assert b["helpline"]["offered"] < 0.7 * a["helpline"]["offered"]
    assert 0 < b["wallet"]["credited_paise_measured"] < a["wallet"]["credited_paise"]
