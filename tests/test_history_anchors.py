"""The shipped history reproduces the published record (issue 12's acceptance, mean of 5 seeds).

Which anchors are imposed and which fitted is in ``docs/validity.md``: this is a regression
guard for the shipped scenario, not evidence of prediction.
"""

from __future__ import annotations

import pytest

from sim.calibration import evaluate, load_anchors, summary_table
from sim.config import load_scenario
from sim.experiments.replications import Pool

pytestmark = pytest.mark.slow


def test_shipped_history_meets_every_anchor_within_tolerance():
    anchors = load_anchors("anchors")
    sc = load_scenario("history", [])
    with Pool(cores=2) as pool:
        runs = evaluate(sc, anchors, reps=5, pool=pool)
    table = summary_table(anchors, anchors, runs, runs)
    outside = table[~table["inside_tolerance"]]
    assert outside.empty, "\n" + outside[["anchor", "published", "after", "rel_error", "tolerance"]].to_string()
