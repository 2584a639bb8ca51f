"""The demand sampler draws the piecewise-constant process its intensity describes."""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from sim.calendar import MIN_PER_HOUR
from sim.catalog import catalog_arrays
from sim.config import load_scenario
from sim.demand import DemandModel
from sim.geography import district_map
from sim.seeds import Streams


def test_cells_are_filled_in_proportion_to_their_expected_bookings():
    """Bookings per (hour slot, category), pooled over replications, fit the intensity (chi-square),
    including a surge window, the hour and weekday profiles and the seasons; the total is Poisson."""
    sc = load_scenario("baseline", ["horizon_days=120", "geography.districts=[Lucknow]", "demand.scale=100"])
    dm = DemandModel(sc, [district_map()[n] for n in sc.geography.selected()], catalog_arrays(sc.catalog))
    reps = 40
    n_slots = int(np.ceil(sc.horizon_min / MIN_PER_HOUR))
    counts = np.zeros((n_slots, len(dm.cat.keys)))
    totals = []
    for r in range(reps):
        a = dm.sample(sc.horizon_min, Streams(7, r), 1.0, (0,), np.array([1.0]))
        np.add.at(counts, ((a.t_min // MIN_PER_HOUR).astype(np.int64), a.category), 1)
        totals.append(len(a))
    cum = dm._grid(sc.horizon_min, 1.0)
    expected = np.zeros_like(counts)
    expected[:, cum.cols] = np.diff(np.r_[0.0, cum.cum]).reshape(n_slots, cum.cols.size) * reps
    # Cells grouped by (day, category) so that every group expects a fair number of bookings.
    obs = counts.reshape(-1, 24, counts.shape[1]).sum(axis=1)
    exp = expected.reshape(-1, 24, counts.shape[1]).sum(axis=1)
    keep = exp > 5
    assert keep.sum() > 1000
    chi2 = float((((obs - exp) ** 2)[keep] / exp[keep]).sum())
    assert sps.chi2.sf(chi2, keep.sum() - 1) > 1e-3, chi2
    # the hour of day, pooled: the hour profile
    obs_h = counts.reshape(-1, 24, counts.shape[1]).sum(axis=(0, 2))
    exp_h = expected.reshape(-1, 24, counts.shape[1]).sum(axis=(0, 2))
    assert sps.chisquare(obs_h, exp_h * obs_h.sum() / exp_h.sum()).pvalue > 1e-3
    # the count per replication: mean the integrated intensity, variance the mean (Poisson)
    mu = float(cum.cum[-1])
    t = np.asarray(totals, dtype=float)
    assert abs(t.mean() - mu) < 4 * np.sqrt(mu / reps), (t.mean(), mu)
    assert 0.4 < t.var(ddof=1) / mu < 1.9


def test_a_district_surge_is_thinned_outside_its_district():
    """A district-specific surge raises that district's bookings by its multiplier, and only its."""
    surge = "demand.surges=[{start_day: 0, end_day: 60, multiplier: 3.0, categories: [], districts: [Agra]}]"
    base = load_scenario("baseline", ["horizon_days=60", "geography.districts=[Agra, Lucknow]", "demand.surges=[]"])
    up = load_scenario("baseline", ["horizon_days=60", "geography.districts=[Agra, Lucknow]", surge])
    n = {}
    for name, sc in (("base", base), ("up", up)):
        dm = DemandModel(sc, [district_map()[d] for d in sc.geography.selected()], catalog_arrays(sc.catalog))
        per = np.zeros(2)
        for r in range(20):
            a = dm.sample(sc.horizon_min, Streams(3, r), 1.0, (0,), np.array([1.0]))
            per += np.bincount(a.district, minlength=2)
        n[name] = per
    names = list(base.geography.selected())
    agra, lko = names.index("Agra"), names.index("Lucknow")
    assert 2.6 < n["up"][agra] / n["base"][agra] < 3.4
    assert 0.9 < n["up"][lko] / n["base"][lko] < 1.1
