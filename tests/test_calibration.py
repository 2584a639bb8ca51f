"""The baseline reproduces the published record (D5, S27)."""

from __future__ import annotations

from sim.config import load_scenario
from sim.runner import run_one


def test_baseline_year_matches_published_volumes():
    res = run_one(load_scenario("baseline"), seed=11)
    s = res.summary
    assert abs(s["bookings"] - 11_900) <= 0.10 * 11_900
    assert s["workers_registered"] == 52_349
    assert len(res.tables["workers"]) == 52_349
    assert s["districts"] == 75
    assert set(res.tables["bookings"]["district"]) <= set(res.tables["districts"]["district"])
    assert len(res.tables["districts"]) == 75
