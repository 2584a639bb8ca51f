"""Calibration with Optuna recovers parameters it was not told (issue 12)."""

from __future__ import annotations

import datetime as dt

import pytest

from sim.calibration import Anchor, calibrate, evaluate, load_anchors, parse_params, split_anchors, with_values
from sim.config import load_scenario
from sim.errors import ScenarioError
from sim.experiments.replications import Pool
from tests.conftest import TEST_SCENARIOS

TRUTH = {"demand.bookings_per_year": 30_000.0, "helpline.causes.info_calls_per_day": 3_000.0}
END = dt.date(2022, 1, 31)


@pytest.fixture(scope="module")
def tiny():
    return load_scenario(TEST_SCENARIOS / "history_small.yaml",
                         ["horizon_days=62", "geography.districts=[Lucknow]", "growth.rollouts=[]"])


def test_calibration_recovers_known_parameters(tiny, tmp_path):
    quantities = ("bookings_cum", "calls_cum")
    probe = [Anchor(date=END, quantity=q, value=1, tolerance=0.1) for q in quantities]
    with Pool(cores=1) as pool:
        truth = evaluate(with_values(tiny, TRUTH), probe, 2, pool)
    anchors = [Anchor(date=END, quantity=q, value=float(truth[f"{q}@{END}"].mean()), tolerance=0.1)
               for q in quantities]
    start = with_values(tiny, {"demand.bookings_per_year": 12_000.0, "helpline.causes.info_calls_per_day": 800.0})
    cal = calibrate(start, anchors, {"demand.bookings_per_year": (5_000, 60_000),
                                     "helpline.causes.info_calls_per_day": (0, 8_000)},
                    trials=30, reps=2, eval_reps=2, storage=f"sqlite:///{tmp_path / 'study.db'}")
    for k, v in TRUTH.items():
        assert cal.best[k] == pytest.approx(v, rel=0.15), k
    assert cal.table["inside_tolerance"].all()
    assert (cal.table["role"] == "fitted").all()
    assert (tmp_path / "study.db").exists() and len(cal.trials) == 30


def test_out_of_sample_protocol_holds_out_earlier_anchors():
    anchors = load_anchors("anchors")
    fit, held = split_anchors(anchors)
    assert {a.date for a in fit} == {dt.date(2025, 6, 30)}
    assert {a.key for a in held} == {"registered_workers@2022-06-10", "completed_cum@2022-06-10"}
    assert split_anchors(anchors, fit_all=True) == (anchors, [])


def test_params_parse_and_bad_input():
    declared = {"money.online_share": (0.0, 1.0)}
    assert parse_params("money.online_share,demand.scale=0.5:2", declared) == {
        "money.online_share": (0.0, 1.0), "demand.scale": (0.5, 2.0)}
    for bad in ("demand.scale", "demand.scale=2:1", "demand.scale=a:b", ""):
        with pytest.raises(ScenarioError, match="--params"):
            parse_params(bad, declared)
    with pytest.raises(ScenarioError, match="anchors.0.quantity"):
        load_anchors(TEST_SCENARIOS / "bad_anchors.yaml")
