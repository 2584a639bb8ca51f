"""Simulation vs Erlang C / Erlang A within the simulation's CI; Little's law; CI coverage.

Every check asks whether the analytic value lies in the simulation's t-interval over
independent replications (warm-up deleted).  A 95 % interval misses 5 % of the time by
construction, and this file makes ~60 such checks, so they use a 99.99 % interval (a
family-wise false alarm below 1 % whatever the seeds; 840 checks over 30 other seeds missed
the 95 % interval 3.9 % of the time, i.e. no detectable bias).  That the 95 % interval itself is honest is
tested separately: over 40 independent seeds it must cover the truth about 38 times.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.errors import ScenarioError
from sim.helpline.erlang import kpis
from sim.helpline.stationary import KPIS, Stationary, run_stationary

AHT = 180.0
# (agents, offered load / agents, mean patience [s] or None for Erlang C, hours per replication)
CASES = [
    (1, 0.5, None, 3000),
    (1, 0.9, None, 8000),
    (10, 0.8, None, 400),
    (50, 0.9, None, 100),
    (300, 0.95, None, 20),
    (1, 0.9, 300.0, 1500),
    (10, 0.95, 200.0, 300),
    (50, 1.1, 60.0, 60),
    (300, 0.95, 120.0, 15),
]


@pytest.mark.parametrize("seed", [11, 2024])
@pytest.mark.parametrize("agents,rho,patience,hours", CASES)
def test_simulation_agrees_with_erlang(agents, rho, patience, hours, seed):
    lam_h = rho * agents / AHT * 3600
    p = Stationary(lam_h, AHT, agents, patience, sl_seconds=20.0, hours=hours)
    res = run_stationary(p, reps=10, seed=seed, level=0.9999)
    an = kpis(lam_h / 3600, AHT, agents, 20.0, patience)
    for k in KPIS:
        lo, hi = res["ci0.9999"][k]
        if patience is None and k == "abandon_rate":
            assert res[k] == 0.0
            continue
        assert lo <= getattr(an, k) <= hi, (k, getattr(an, k), lo, hi)
    occ_sd = np.std([r["occupancy"] for r in res["rows"]], ddof=1) / np.sqrt(10)
    assert abs(res["occupancy"] - an.occupancy) < 4 * occ_sd + 1e-3


@pytest.mark.parametrize("patience", [None, 90.0])
def test_littles_law(patience):
    p = Stationary(0.9 * 20 / AHT * 3600, AHT, 20, patience, hours=500)
    for row in run_stationary(p, reps=3, seed=3)["rows"]:
        # time-average queue length vs arrival rate x mean time in queue (edge effects only)
        assert row["lq"] == pytest.approx(row["rate_per_s"] * row["mean_wait_s"], rel=0.02)


def test_95_percent_interval_covers_about_95_percent():
    lam_h = 0.85 * 10 / AHT * 3600
    p = Stationary(lam_h, AHT, 10, 150.0, hours=100)
    an = kpis(lam_h / 3600, AHT, 10, 20.0, 150.0)
    hits = 0
    for seed in range(40):
        lo, hi = run_stationary(p, reps=6, seed=1000 + seed)["ci95"]["service_level"]
        hits += lo <= an.service_level <= hi
    # P(Binomial(40, 0.95) <= 33) ~ 0.005; a systematic bias would push hits far lower
    assert hits >= 34, hits
    assert stats.binom.cdf(hits, 40, 0.95) > 0.001


def test_more_agents_less_waiting():
    lam_h = 100.0
    res = [run_stationary(Stationary(lam_h, AHT, c, 60.0, hours=100), reps=3, seed=1) for c in (5, 6, 8)]
    waits = [r["mean_wait_s"] for r in res]
    assert waits[0] > waits[1] > waits[2]
    assert res[0]["abandon_rate"] > res[2]["abandon_rate"]


def test_same_seed_same_numbers_and_different_seed_differs():
    p = Stationary(200.0, AHT, 12, 100.0, hours=50)
    a, b, c = (run_stationary(p, 3, s) for s in (5, 5, 6))
    assert a == b and a["mean_wait_s"] != c["mean_wait_s"]


@pytest.mark.parametrize("kw,field", [
    (dict(arrivals_per_hour=-1.0, aht_s=180, agents=5), "arrivals_per_hour"),
    (dict(arrivals_per_hour=10.0, aht_s=0, agents=5), "aht_seconds"),
    (dict(arrivals_per_hour=10.0, aht_s=180, agents=0), "agents"),
    (dict(arrivals_per_hour=10.0, aht_s=180, agents=5, patience_s=0.0), "patience_seconds"),
    (dict(arrivals_per_hour=200.0, aht_s=180, agents=5), "agents"),  # 10 Erlang, no abandonment
    (dict(arrivals_per_hour=10.0, aht_s=180, agents=5, hours=10, warmup_hours=10), "warmup_hours"),
])
def test_bad_stationary_input(kw, field):
    with pytest.raises(ScenarioError, match=f"^{field}: "):
        Stationary(**kw)
