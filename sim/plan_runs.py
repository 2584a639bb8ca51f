"""Planning runs: the one-district scenario a plan cell is sized in, and its KPIs at given worker counts.

``planning_scenario`` simplifies a scenario so that each answer means one thing (see
``sim.planner``); ``evaluate_counts`` simulates it with exactly the given active workers per
category and returns each replication's KPIs, reusing what a replication drew before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.config import Scenario, validate
from sim.demand import Arrivals, DemandModel
from sim.draws import BookingDraws
from sim.planner_decision import rep_kpis
from sim.workforce import Workforce


def planning_scenario(setting: Scenario, district: str, growth: dict[str, float], horizon_days: float,
                      warmup_days: float) -> Scenario:
    """The one-district scenario that plans the categories of ``growth`` (see module doc).

    Only the planned workers exist (``registered`` = 1 rounds the district's sampled share
    to zero; ``active_counts`` then adds exactly the planned ones), which keeps runs cheap.
    """
    raw = setting.model_dump(mode="json")
    full = sum(c.demand_weight for c in setting.catalog.values() if c.enabled)
    cats = sorted(growth)
    for k in raw["catalog"]:
        raw["catalog"][k]["enabled"] = k in growth
    raw["demand"]["bookings_per_year"] = setting.demand.bookings_per_year * (
        sum(setting.catalog[k].demand_weight for k in cats) / full)
    raw["demand"]["surges"] = [s for s in raw["demand"]["surges"] if not s["districts"] or district in s["districts"]]
    raw["demand"]["surges"] += [{"start_day": 0.0, "end_day": horizon_days, "multiplier": g, "categories": [c],
                                 "districts": []} for c, g in sorted(growth.items()) if g != 1.0]
    raw["geography"]["districts"] = [district]
    raw["workforce"].update(registered=1, second_skill_share=0.0, active_counts={})
    raw["horizon_days"], raw["warmup_days"] = horizon_days, warmup_days
    raw["helpline"]["enabled"] = False
    raw["money"]["enabled"] = False
    return validate(raw)


def evaluate_counts(sc_plan: Scenario, district: str, counts: dict[str, int], seed: int, reps: range,
                    sampled: Reuse | None = None,
                    categories: list[str] | None = None) -> list[dict[str, dict[str, float]]]:
    """Per-replication KPIs per category with ``counts`` active workers (replications ``reps``).

    KPIs of ``categories`` only (default: every category of ``counts``).

    Only the KPIs' columns are built (the tables of ``run_one`` are not needed here).
    ``sampled`` (the scenario's demand model, and per replication its bookings, their draws
    and a workforce, filled on first use) lets later counts reuse them: bookings do not
    depend on the workers (planning runs have no helpline), each purpose has its own random
    stream, and a cell's first k workers are the workforce of k, so a run that reuses them is
    identical to one that draws them again, only cheaper.  With ``sampled``, only the bookings
    of ``categories`` are simulated: categories are independent queues (single-skilled
    workers), and each booking keeps its own draws, so their KPIs are those of the run with
    every category, at a fraction of its cost when a few categories of a group still need runs.
    """
    from sim.model import Model
    from sim.runner import booking_columns
    from sim.seeds import Streams

    sc_n = _with_counts(sc_plan, district, counts)
    cats = sorted(counts) if categories is None else categories
    out = []
    for r in reps:
        if sampled is None:
            m = Model(sc_n, Streams(seed, r))
        else:
            got = sampled.reps.get(r)
            if got is None or any(counts[c] > got.most[c] for c in counts):
                # Workers of a cell are drawn in fixed blocks, so the first k of a larger
                # workforce are the workforce of k: drawn once at (at least) twice the counts.
                most = {c: max(2 * n, got.most[c] if got else 0) for c, n in counts.items()}
                first = Model(_with_counts(sc_plan, district, most), Streams(seed, r),
                              arrivals=got.arrivals if got else None, draws=got.draws if got else None,
                              demand=sampled.demand)
                sampled.demand = first.demand
                got = sampled.reps[r] = Sampled(first.arrivals, first.draws, first.wf, most, first.cat.keys)
            idx = np.flatnonzero(np.isin(got.arrivals.category, [got.keys.index(c) for c in cats]))
            m = Model(sc_n, Streams(seed, r), arrivals=got.arrivals.take(idx), draws=got.draws.take(idx),
                      workforce=got.workforce.take(first_workers(got.workforce, got.keys, counts)),
                      demand=sampled.demand)
        m.run()
        out.append(rep_kpis(booking_columns(m), cats, sc_n.warmup_min))
    return out


def _with_counts(sc_plan: Scenario, district: str, counts: dict[str, int]) -> Scenario:
    """``sc_plan`` with exactly ``counts`` active workers per category in ``district``."""
    wf = sc_plan.workforce.model_copy(update={"active_counts": {district: dict(sorted(counts.items()))}})
    return sc_plan.model_copy(update={"workforce": wf})


@dataclass
class Reuse:
    """What a planning scenario's runs reuse (``evaluate_counts``), filled on first use.

    ``demand``: the scenario's demand model (it keeps the intensity grid its samples share);
    ``reps``: replication → what its first run drew.
    """

    demand: DemandModel | None = None
    reps: dict[int, Sampled] = field(default_factory=dict)


@dataclass
class Sampled:
    """What a replication's first run drew, reused by later counts.

    Its bookings, their draws and the workforce at ``most`` workers per category (catalog
    ``keys`` index the categories).
    """

    arrivals: Arrivals
    draws: BookingDraws
    workforce: Workforce
    most: dict[str, int]
    keys: tuple[str, ...]


def first_workers(wf: Workforce, keys: tuple[str, ...], counts: dict[str, int]) -> np.ndarray:
    """Positions of the first ``counts[c]`` workers of each (district, category) cell of ``wf``.

    Cells are contiguous, in drawing order, so these rows are the workforce ``counts`` draws.
    """
    cell = wf.district_idx * len(keys) + wf.skill1
    n = len(cell)
    starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]]) if n else np.zeros(0, dtype=np.int64)
    rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    want = np.array([counts.get(k, 0) for k in keys], dtype=np.int64)
    return np.flatnonzero(rank < want[wf.skill1])
