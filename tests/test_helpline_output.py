"""``output.calls``: the hourly mode keeps exactly the booking calls of the per-call table."""

from __future__ import annotations

import pandas as pd

from sim.calendar import Calendar
from sim.config import load_scenario
from sim.helpline.engine import simulate_helpline
from sim.seeds import Streams


def test_hourly_output_is_the_per_call_table_cut_to_booking_calls():
    sc = load_scenario("baseline", ["horizon_days=7"])
    cfg = sc.helpline.model_copy(update={"calls_per_day": sc.helpline.calls_per_day * 3})
    full = simulate_helpline(cfg, Streams(3), sc.horizon_min, Calendar(sc.start_date))
    hourly = simulate_helpline(cfg, Streams(3), sc.horizon_min, Calendar(sc.start_date), calls="hourly")
    assert len(hourly.calls) == len(full.booking_call_ids) > 0
    cut = full.calls[full.calls["call_id"].isin(full.booking_call_ids)].reset_index(drop=True)
    pd.testing.assert_frame_equal(cut, hourly.calls)
    pd.testing.assert_frame_equal(full.hourly, hourly.hourly)
    assert full.summary == hourly.summary
    assert (full.booking_call_ids == hourly.booking_call_ids).all()
