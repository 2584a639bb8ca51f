"""Headroom search arithmetic (load/capacity.py): levels, the busiest hour's window, copies, limits."""

from __future__ import annotations

import numpy as np
import pytest

from load.capacity import (
    REF_STRIDE,
    base_rate,
    busiest_hour,
    hour_rows,
    parse_multiples,
    parse_slo,
    plan_step,
    step_trace,
    window_requests,
)
from sim.config import load_scenario
from sim.errors import InputError
from sim.runner import run_one
from sim.trace import build_trace

SMALL = ["horizon_days=1", "demand.scale=40", "geography.districts=[Lucknow, Kanpur Nagar]",
         "workforce.registered=2000"]


@pytest.fixture(scope="module")
def trace():
    res = run_one(load_scenario("baseline", SMALL))
    return build_trace(res.tables, res.scenario.horizon_min)


def test_levels_compress_time_then_add_copies():
    s = plan_step(10, 20)
    assert (s.copies, s.speedup, s.window_min, s.wall_s) == (1, 10, 10 * 20 / 60, 20)
    big = plan_step(1000, 20)  # 20,000 simulated seconds > one hour: 6 copies of a shorter window
    assert big.copies == 6 and big.window_min <= 60 and big.copies * big.speedup == pytest.approx(1000)
    assert big.wall_s == pytest.approx(20)


def test_window_of_the_busiest_hour(trace):
    h0 = busiest_hour(trace)
    cr = trace[trace["action"] == "create_booking"]
    per_hour = np.bincount((cr["t_min"] // 60).astype(int))
    assert per_hour[int(h0 // 60)] == per_hour.max()
    rows = hour_rows(trace, h0, 60.0)
    created = rows[rows["action"] == "create_booking"]
    assert len(created) == per_hour.max() and created["t_min"].between(0, 60).all()
    # every booking step sent belongs to a booking created in the window
    assert set(rows["booking_ref"].dropna()) <= set(created["booking_ref"])
    # workers on shift go on duty in the lead-in (marked before 0); all of them are registered
    lead = rows[rows["t_min"] < 0]
    assert (lead["action"] == "status").all() and lead["available"].all()
    regs = set(rows.loc[rows["action"] == "register_worker", "worker_ref"])
    assert set(rows.loc[rows["action"].isin(["status", "payout"]), "worker_ref"]) <= regs
    assert base_rate(rows, 60.0) == pytest.approx(window_requests(rows) / 3600)


def test_copies_have_disjoint_refs_and_the_lead_in_comes_first(trace):
    rows = hour_rows(trace, busiest_hour(trace), 60.0)
    st = step_trace(rows, copies=3, first_copy=4, lead_min=2.0, gap_min=1.0)
    assert len(st) == 3 * len(rows) and (st["seq"].to_numpy() == np.arange(len(st))).all()
    assert st["t_min"].is_monotonic_increasing and st["t_min"].min() >= 0
    regs = st.loc[st["action"] == "register_worker", "worker_ref"]
    assert regs.is_unique and (regs // REF_STRIDE).isin([4, 5, 6]).all()
    n_lead = int((rows["t_min"] < 0).sum()) * 3
    lead = st[(st["action"] != "register_worker")].head(n_lead)
    assert (lead["t_min"] < 2.0).all() and (st.loc[st.index.difference(lead.index), "t_min"] >= 0).all()
    created = st[st["action"] == "create_booking"]
    assert created["booking_ref"].is_unique and (created["t_min"] >= 3.0).all()


def test_limits_and_multiples_parse_with_clear_errors():
    lim = parse_slo("p99_ms=500,fail_ratio=0.001")
    assert (lim.p99_ms, lim.fail_ratio, lim.lag_p99_ms) == (500, 0.001, 1000)
    with pytest.raises(InputError, match="--slo: unknown limit 'p95_ms'"):
        parse_slo("p95_ms=3")
    assert parse_multiples("1,2,5") == [1, 2, 5]
    with pytest.raises(InputError, match="--multiples"):
        parse_multiples("5,2")
