"""The launch planner: fewest active workers per district × service, and helpline agents.

For every planned cell (``sim.plan_file.Cell``: a district × service with its demand multiple
after the plan's changes) it finds the fewest *active* workers whose KPIs meet the targets
with 95% confidence (``sim.planner_search``), and for the statewide helpline the agents per
hour for the calls the plan's demand change causes (``sim.plan_helpline``).

Planning runs simplify the scenario so that each answer means one thing: one district at a
time (workers of neighbouring districts do not help), workers with a single skill, no
helpline or money model (booking demand of every channel comes from the demand model), and
only the district's planned services enabled, each keeping the rate it has in the plan
(demand multiples are surges over the whole run: the plan is sized for its end state).

Demand ladder: a district whose cells grow by up to ×G is planned at ×1, ×2, ×4, … and ×G
in turn (each cell capped at its own multiple), every level searching upwards from the
answer of the level below, with the same seeds.  Answers are therefore non-decreasing in
demand by construction, and a plan at ×2 repeats exactly the first two levels of a plan at ×4.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.config import Scenario
from sim.experiments.stats import mean_ci
from sim.plan_file import Cell, ResolvedPlan, expected_active
from sim.plan_rates import district_share, rate_per_year
from sim.plan_runs import Reuse, evaluate_counts, planning_scenario
from sim.planner_decision import decide, pooled_quantile, stack
from sim.planner_search import (
    Bracket,
    Replications,
    analytic_start,
    peak_rate_per_min,
    search,
)
from sim.targets import Target

#: ``progress(done, total)`` after each district.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class PlanSettings:
    """How hard the planner looks.

    Attributes:
        targets: service targets every planned cell must meet with 95% confidence.
        reps: replications per probe (first batch, step, most).
        seed: root seed of the planning runs.
        min_days: shortest measured period per run [days] (a year: every season counts).
        rep_bookings: expected bookings per replication of a district's rarest cell: runs
            are lengthened up to ``max_days`` for it (a service booked once a year needs 30
            years a replication: a run's cost is its bookings, and verdicts on the two or
            three bookings of a ten-year run stay undecided at any count).
        max_days: longest measured period per run [days].
        warmup: warm-up before the measured period [days].
        cap: most active workers tried per cell.
    """

    targets: tuple[Target, ...]
    reps: Replications = Replications()
    seed: int = 0
    min_days: float = 365.0
    rep_bookings: float = 30.0
    max_days: float = 36500.0
    warmup: float = 0.0
    cap: int = 500


@dataclass
class PlanResult:
    """What a plan produces: ``workers`` (one row per cell), ``helpline`` (per hour), ``meta``."""

    workers: pd.DataFrame
    helpline: pd.DataFrame | None
    meta: dict[str, Any] = field(default_factory=dict)


def recheck(setting: Scenario, district: str, category: str, growth: float, n: int, days: float,
            targets: tuple[Target, ...], seed: int, reps: int = 10) -> dict[int, tuple[str, dict[str, float]]]:
    """Re-simulate an answer ``n`` and one fewer with other seeds: count → (95% verdict, KPI columns).

    The acceptance check of a plan cell: ``seed`` should differ from the plan's, so the
    replications are fresh.  Counts below 1 are left out.
    """
    sp = planning_scenario(setting, district, {category: growth}, days, 0.0)
    out = {}
    for m in (n, n - 1):
        if m >= 1:
            kp = stack([r[category] for r in evaluate_counts(sp, district, {category: m}, seed, range(reps))])
            out[m] = (decide(kp, targets), kpi_columns("", kp))
    return out


def ladder(growths: Sequence[float]) -> list[float]:
    """Demand levels a district is planned at: 1, 2, 4, … below the largest multiple, then it."""
    top, x, out = max(growths), 1.0, []
    while x < top:
        out.append(x)
        x *= 2.0
    return [*out, top]


def kpi_columns(prefix: str, kpis: dict[str, Any]) -> dict[str, float]:
    """Table columns of one count.

    Fulfilment: mean and 95% CI over replications; p90 wait: pooled over replications, with
    its upper bound (``sim.planner_decision.pooled_quantile``) [minutes]; replications.
    """
    nan = float("nan")
    f = mean_ci(kpis["fulfilment"]) if kpis else None
    p90, p90_hi = pooled_quantile(kpis, 0.9) if kpis else (nan, nan)
    return {f"{prefix}fulfilment": f.mean if f else nan, f"{prefix}fulfilment_ci_lo": f.lo if f else nan,
            f"{prefix}fulfilment_ci_hi": f.hi if f else nan, f"{prefix}p90_wait_min": p90,
            f"{prefix}p90_wait_ci_hi": p90_hi, f"{prefix}reps": int(len(kpis["bookings"])) if kpis else 0}


def rate_groups(rates: dict[str, float], ratio: float = 2.0) -> list[list[str]]:
    """Categories in groups of similar rate (largest / smallest <= ``ratio``), rarest first.

    A group shares its runs, whose length suits its rarest member; a category ten times as
    common as another is better planned in shorter runs of its own.
    """
    groups: list[list[str]] = []
    for k in sorted(rates, key=lambda k: (rates[k], k)):
        if groups and rates[k] <= ratio * max(rates[groups[-1][0]], 1e-12):
            groups[-1].append(k)
        else:
            groups.append([k])
    return groups


def district_groups(setting: Scenario, district: str, cells: Sequence[Cell], ps: PlanSettings) -> list[list[Cell]]:
    """The cells of one district in groups that share their runs: cells of about the same demand.

    By expected bookings at the first demand level, so that at every level a group's runs
    (as long as its rarest cell needs, ``group_days``) hold about as many bookings of each
    of its cells as they need.  (Grouping every cell too rare for ``max_days`` together made
    a cell five times as common as the rarest run five times as long as it needed at ×5.)
    Since a run simulates only the cells that still need replications, and a run's cost is
    its bookings, more groups cost little more than fewer.
    """
    by_cat = {c.category: c for c in cells}
    rates = {c.category: rate_per_year(setting, district, c.category) * min(1.0, c.growth) for c in cells}
    return [[by_cat[k] for k in group] for group in rate_groups(rates)]


def plan_district(setting: Scenario, today: Scenario, district: str, cells: Sequence[Cell],
                  ps: PlanSettings) -> list[dict[str, Any]]:
    """Rows of the plan for one district (one per cell), in groups of similar run length.

    ``setting`` is the scenario the plan sizes (its services bookable), ``today`` the one
    before the plan (for the workers there today).
    """
    rows = {r["category"]: r for g in district_groups(setting, district, cells, ps)
            for r in plan_group(setting, today, district, g, ps)}
    return [rows[c.category] for c in cells]


def group_days(setting: Scenario, district: str, cells: Sequence[Cell], ps: PlanSettings,
               level: float | None = None) -> float:
    """Measured days per run of a group: long enough for ``rep_bookings`` of its rarest cell.

    At demand ``level`` (default the first of the ladder): higher levels need shorter runs.
    """
    at = min(ladder([c.growth for c in cells])) if level is None else level
    rates = [rate_per_year(setting, district, c.category) * min(at, c.growth) for c in cells]
    rarest = min((r for r in rates if r > 0), default=0.0)
    if rarest <= 0:
        return ps.max_days
    return min(max(ps.min_days, math.ceil(ps.rep_bookings * 365 / rarest)), ps.max_days)


#: Most that ``level_reps`` multiplies replication counts by.
MAX_REP_SCALE = 16


def level_reps(setting: Scenario, district: str, cells: Sequence[Cell], ps: PlanSettings, level: float,
               days: float) -> Replications:
    """Replications per decision at one demand level: more where even ``max_days`` runs are short of bookings.

    A run should hold ``rep_bookings`` bookings of the group's rarest cell (``group_days``);
    when ``max_days`` caps it below that, every replication count is multiplied by the
    shortfall (at most ``MAX_REP_SCALE``), so a decision sees about as many bookings as a
    common cell's.  (A service booked a few times a year gets two or three bookings a run:
    verdicts on so few stayed undecided at any count, and the search climbed to the cap.)
    """
    rates = [rate_per_year(setting, district, c.category) * min(level, c.growth) for c in cells]
    per_run = min((r for r in rates if r > 0), default=0.0) * days / 365.0
    if per_run <= 0 or per_run >= ps.rep_bookings:
        return ps.reps
    k = min(MAX_REP_SCALE, math.ceil(ps.rep_bookings / per_run))
    r = ps.reps
    return Replications(r.first * k, r.step * k, r.most * k, r.boundary * k, r.resolution)


def plan_group(setting: Scenario, today: Scenario, district: str, cells: Sequence[Cell],
               ps: PlanSettings) -> list[dict[str, Any]]:
    """Rows of cells of one district planned in shared runs, searched along the demand ladder."""
    base = {c.category: rate_per_year(setting, district, c.category) for c in cells}
    levels = ladder([c.growth for c in cells])
    days = 0.0
    floor = {c.category: 1 for c in cells}
    brackets: dict[str, Bracket] = {}
    sc_c = setting
    probes = 0
    share = district_share(setting, district)
    prev: dict[str, float] = {}
    for level in levels:
        mult = {c.category: min(level, c.growth) for c in cells}
        days = group_days(setting, district, cells, ps, level)
        sc_c = planning_scenario(setting, district, mult, days + ps.warmup, ps.warmup)
        for c in cells:
            k = c.category
            if prev.get(k) == mult[k]:
                continue  # its demand reached its own multiple at a lower level: answer kept
            demand = base[k] * mult[k] > 0
            start = analytic_start(peak_rate_per_min(sc_c, share, k) * mult[k], setting.catalog[k].service_min,
                                   ps.targets) if demand else 0
            brackets[k] = (Bracket(start=start, cap=ps.cap, floor=floor[k], table=mult[k] == c.growth) if demand
                           else Bracket(start=0, cap=ps.cap))
        probes += search(brackets, ps.targets, _evaluator(sc_c, district, ps.seed),
                         level_reps(setting, district, cells, ps, level, days))
        floor = {k: max(1, b.answer) for k, b in brackets.items()}
        prev = mult
    rows = []
    for c in cells:
        b = brackets[c.category]
        now = expected_active(today, district, c.category)
        row: dict[str, Any] = {
            "district": district, "category": c.category, "growth": c.growth,
            "expected_bookings_per_year": base[c.category] * c.growth,
            "active_today": round(now), "registered_today": round(now / today.workforce.active_share),
            "recruited_in_plan": c.recruited, "active_needed": b.answer,
            "extra_active_to_recruit": max(0, b.answer - round(now) - c.recruited),
        }
        row["registered_equivalent"] = math.ceil(row["extra_active_to_recruit"] / setting.workforce.active_share)
        row.update(kpi_columns("", b.at_hi))
        row.update(kpi_columns("fewer_", b.at_lo))
        feasible = b.start == 0 or b.hi is not None
        row.update({"feasible": feasible, "undecided_at_cap": not feasible and b.last == "tie",
                    "held_by_lower_demand": b.held, "days": days, "probes": probes})
        rows.append(row)
    return rows


def _evaluator(sc_c: Scenario, district: str, seed: int):
    """The search's ``evaluate`` for one planning scenario (its replications' bookings sampled once)."""
    sampled = Reuse()
    return lambda counts, reps, categories: evaluate_counts(sc_c, district, counts, seed, reps, sampled, categories)


def _group_task(args: tuple[Scenario, Scenario, str, list[Cell], PlanSettings]) -> list[dict[str, Any]]:
    return plan_group(*args)


def plan(rp: ResolvedPlan, ps: PlanSettings, *, cores: int = 1, dask: Any = None,
         progress: Progress | None = None, helpline_reps: int = 2) -> PlanResult:
    """Plan workers for every cell of ``rp`` and helpline agents.

    The same result for any ``cores`` or Dask cluster: each group of similar cells of a
    district is one task with its own runs and seeds.
    """
    from sim.plan_helpline import helpline_plan, plan_calls_per_day

    by_district: dict[str, list[Cell]] = {}
    for c in rp.cells:
        by_district.setdefault(c.district, []).append(c)
    tasks = [(rp.setting, rp.today, d, g, ps) for d, cs in sorted(by_district.items())
             for g in district_groups(rp.setting, d, cs, ps)]
    # Most work first, so the slowest tasks do not start last.  Work ~ simulated days
    # (a fixed cost per day) plus bookings; 100 bookings cost about one day's fixed cost x 365.
    def work(t: tuple[Scenario, Scenario, str, list[Cell], PlanSettings]) -> float:
        yearly = sum(rate_per_year(rp.setting, t[2], c.category) * c.growth for c in t[3])
        return group_days(rp.setting, t[2], t[3], ps) * (1.0 + yearly / 100.0)

    order = sorted(range(len(tasks)), key=lambda i: -work(tasks[i]))
    done = run_tasks([tasks[i] for i in order], _group_task, cores, dask, progress)
    by_cell = {(r["district"], r["category"]): r for part in done for r in part}
    workers = pd.DataFrame([by_cell[d, c.category] for d, cs in sorted(by_district.items()) for c in cs])
    meta = {"plan": rp.plan.name, "scenario": rp.setting.name, "targets": ",".join(map(str, ps.targets)),
            "seed": ps.seed, "reps_first": ps.reps.first, "reps_most": ps.reps.most,
            "reps_boundary": ps.reps.boundary, "resolution": ps.reps.resolution, "min_days": ps.min_days,
            "max_days": ps.max_days, "rep_bookings": ps.rep_bookings, "warmup_days": ps.warmup,
            "districts": len(by_district), "cells": len(rp.cells), "active_share": rp.today.workforce.active_share}
    calls = plan_calls_per_day(rp, workers)
    meta["added_calls_per_day"] = calls
    meta["helpline_calls_per_day_today"] = rp.today.helpline.calls_per_day
    hl = helpline_plan(rp.today, rp.agents_added, sum(calls.values()), reps=helpline_reps, seed=ps.seed)
    return PlanResult(workers, hl, meta)


def run_tasks(tasks: list[Any], fn: Callable[[Any], Any], cores: int = 1, dask: Any = None,
              progress: Progress | None = None) -> list[Any]:
    """``[fn(t) for t in tasks]`` in this process, a local process pool (``cores``) or on Dask."""
    out: dict[int, Any] = {}
    if dask is not None:
        from distributed import Client, as_completed

        client = Client(dask, timeout="10s") if isinstance(dask, str) else dask
        try:
            futs = {client.submit(fn, t, pure=False): i for i, t in enumerate(tasks)}
            for f in as_completed(futs):
                out[futs[f]] = f.result()
                if progress:
                    progress(len(out), len(tasks))
        finally:
            if isinstance(dask, str):
                client.close()
    elif cores > 1:
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from multiprocessing import get_context

        with ProcessPoolExecutor(cores, mp_context=get_context("spawn")) as ex:
            futs = {ex.submit(fn, t): i for i, t in enumerate(tasks)}
            for f in as_completed(futs):
                out[futs[f]] = f.result()
                if progress:
                    progress(len(out), len(tasks))
    else:
        for i, t in enumerate(tasks):
            out[i] = fn(t)
            if progress:
                progress(len(out), len(tasks))
    return [out[i] for i in range(len(tasks))]


def write_plan_tables(result: PlanResult, rp: ResolvedPlan, out: str | Path) -> Path:
    """Write the plan's tables into ``out`` (the report reads them from there).

    ``plan_workers.csv`` (one row per district × service), ``plan_helpline.csv`` (per hour of
    the busiest day), ``plan.json`` (the question and settings) and ``plan_scenario.yaml``
    (the planned scenario, as ``run --plan`` simulates it).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result.workers.to_csv(out / "plan_workers.csv", index=False, float_format="%.6g")
    if result.helpline is not None:
        result.helpline.to_csv(out / "plan_helpline.csv", index=False, float_format="%.6g")
    meta = {**result.meta, "plan_file": rp.plan.model_dump(mode="json")}
    (out / "plan.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    (out / "plan_scenario.yaml").write_text(rp.planned.to_yaml(), encoding="utf-8")
    return out
