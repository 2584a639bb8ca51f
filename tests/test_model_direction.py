"""Direction checks over several seeds: more workers help, more demand hurts."""

from __future__ import annotations

import numpy as np

from sim.config import load_scenario
from sim.runner import run_one

SEEDS = range(5)


def kpis(path, overrides):
    out = []
    for s in SEEDS:
        r = run_one(load_scenario(path, ["horizon_days=10", *overrides]), seed=s).summary
        out.append((r["fulfilment_rate"], r["wait_assign_mean_min"], r["wait_assign_p90_min"]))
    return np.array(out)


def test_more_workers_shorter_waits_higher_fulfilment(small_path):
    few = kpis(small_path, ["workforce.registered=8000"])
    many = kpis(small_path, ["workforce.registered=40000"])
    # Paired by seed (common random numbers: same demand), and on average.
    assert many[:, 0].mean() > few[:, 0].mean() + 0.05
    assert many[:, 1].mean() < few[:, 1].mean()
    assert (many[:, 0] > few[:, 0]).all()


def test_more_demand_longer_waits(small_path):
    base = kpis(small_path, ["workforce.registered=8000"])
    busy = kpis(small_path, ["workforce.registered=8000", "demand.scale=6"])
    # The p90: the mean also holds overnight bookings waiting for the morning, whatever the load.
    assert busy[:, 2].mean() > base[:, 2].mean()
    assert busy[:, 0].mean() < base[:, 0].mean()
