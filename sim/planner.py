"""The expansion planner (``run_sim.py plan``): fewest workers and helpline agents for targets.

For each chosen district it finds, per service category, the fewest *active* workers whose
simulated fulfilment and waits meet the targets over R replications (search in
``sim.planner_search``), and for the statewide helpline the fewest agents per hour of day
for the scenario's service level (Erlang A at the busiest weekday and month).  It returns
DataFrames; ``reports.plan_report`` writes the table, map and text summary.

Planning runs simplify the scenario so that each answer means one thing: one district at
a time, workers with a single skill, no helpline or money model (booking demand of every
channel comes from the demand model), and only the planned categories enabled, with the
state's booking volume cut to their share of the full catalogue so each keeps its own
demand rate.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.config import Scenario, load_scenario, validate
from sim.errors import ScenarioError
from sim.geography import district_map, load_districts
from sim.helpline.erlang import agents_for_sl
from sim.planner_search import (
    Bracket,
    Target,
    analytic_start,
    category_kpis,
    parse_targets,
    peak_rate_per_min,
    search,
)


@dataclass(frozen=True)
class PlanSettings:
    """How hard the planner looks.

    Attributes:
        targets: service targets every planned category must meet.
        reps: fewest replications per evaluated staffing (pooled).
        seed: root seed of the planning runs.
        min_days: shortest measured period per run [days].
        min_bookings: expected bookings (pooled over reps) a category's evaluation holds: runs
            are lengthened up to ``max_days``, then replications added up to ``max_reps`` —
            rare services need decades of simulated time for a fulfilment rate worth comparing
            (400 bookings: standard error about 0.015 on a fulfilment rate near 0.9).
        max_days: longest measured period per run [days].
        max_reps: most replications per evaluated staffing.
        warmup: warm-up before the measured period [days].
        cap: most active workers tried per category.
    """

    targets: tuple[Target, ...]
    reps: int = 3
    seed: int = 0
    min_days: float = 28.0
    min_bookings: int = 400
    max_days: float = 3650.0
    max_reps: int = 20
    warmup: float = 0.0
    cap: int = 2000


@dataclass
class PlanResult:
    """What a plan produces.

    Attributes:
        workers: one row per (district, category): ``workers`` needed [active workers],
            ``start`` (analytic bound), ``days`` simulated per run, pooled ``bookings``, KPIs at
            the answer and at one fewer (at the cap when not reachable), ``feasible``.
        helpline: one row per hour of day: peak calls [calls/hour], agents needed and now.
        meta: the question asked (scenario, targets, growth, reps, seed, days).
    """

    workers: pd.DataFrame
    helpline: pd.DataFrame | None
    meta: dict[str, Any] = field(default_factory=dict)


def planned_categories(sc: Scenario, services: Sequence[str] | None) -> list[str]:
    """The categories to plan: ``services`` (validated) or every enabled one."""
    if not services:
        return [k for k, c in sc.catalog.items() if c.enabled]
    unknown = [s for s in services if s not in sc.catalog]
    if unknown:
        raise ScenarioError(f"--services: unknown category {unknown[0]!r} (known: {', '.join(sc.catalog)})")
    return list(dict.fromkeys(services))


def planning_scenario(sc: Scenario, district: str, services: list[str], horizon_days: float,
                      warmup_days: float) -> Scenario:
    """The one-district scenario used to plan ``services`` in ``district`` (see module doc).

    Only the planned workers exist (``registered`` = 1 rounds the district's sampled share
    to zero; ``active_counts`` then adds exactly the planned ones), which keeps runs cheap.
    """
    raw = sc.model_dump(mode="json")
    full = {k for k, c in sc.catalog.items() if c.enabled} | set(services)
    weight = {k: sc.catalog[k].demand_weight for k in full}
    for k in raw["catalog"]:
        raw["catalog"][k]["enabled"] = k in services
    raw["demand"]["bookings_per_year"] = sc.demand.bookings_per_year * (
        sum(weight[k] for k in services) / sum(weight.values()))
    raw["geography"]["districts"] = [district]
    raw["workforce"].update(registered=1, second_skill_share=0.0, active_counts={})
    raw["horizon_days"], raw["warmup_days"] = horizon_days, warmup_days
    raw["helpline"]["enabled"] = False
    raw["money"]["enabled"] = False
    return validate(raw)


def demand_weight_share(sc: Scenario, district: str) -> float:
    """The district's share of statewide demand weight (population × urban uplift)."""
    u = sc.demand.urban_uplift
    w = {d.name: d.population * (1 + u * d.urban_share) for d in load_districts()}
    return w[district] / sum(w.values())


def mean_rate_per_day(sc: Scenario, share: float, category: str) -> float:
    """Average bookings per day of an enabled category in a district with demand ``share``."""
    enabled = {k: c for k, c in sc.catalog.items() if c.enabled}
    w = enabled[category].demand_weight / sum(c.demand_weight for c in enabled.values())
    return sc.demand.bookings_per_year * sc.demand.scale / 365.0 * share * w


def evaluate_counts(sc_plan: Scenario, district: str, counts: dict[str, int], seed: int, reps: int,
                    first_rep: int = 0) -> dict[str, dict[str, float]]:
    """Pooled KPIs per category of ``reps`` replications with ``counts`` active workers."""
    from sim.runner import run_one

    wf = sc_plan.workforce.model_copy(update={"active_counts": {district: dict(sorted(counts.items()))}})
    sc_n = sc_plan.model_copy(update={"workforce": wf})
    frames = []
    for r in range(first_rep, first_rep + reps):
        bk = run_one(sc_n, seed, r).tables["bookings"]
        frames.append(bk[bk["created_min"] >= sc_n.warmup_min])
    return category_kpis(pd.concat(frames, ignore_index=True), sorted(counts))


def plan_category(sc: Scenario, district: str, category: str, ps: PlanSettings) -> dict[str, Any]:
    """The plan row of one category in one district (its own runs and horizon)."""
    share = demand_weight_share(sc, district)
    # The category's rate as planned: alone in the catalogue, with its share of the volume.
    rate = mean_rate_per_day(planning_scenario(sc, district, [category], ps.min_days, 0.0), share, category)
    days, reps = ps.min_days, ps.reps
    if rate > 0:
        days = min(max(ps.min_days, math.ceil(ps.min_bookings / (rate * ps.reps))), ps.max_days)
        reps = min(max(ps.reps, math.ceil(ps.min_bookings / (rate * days))), ps.max_reps)
    sc_c = planning_scenario(sc, district, [category], days + ps.warmup, ps.warmup)
    start = min(analytic_start(peak_rate_per_min(sc_c, share, category), sc.catalog[category].service_min,
                               ps.targets), ps.cap)
    b = Bracket(start=start, cap=ps.cap)
    search({category: b}, ps.targets, lambda counts: evaluate_counts(sc_c, district, counts, ps.seed, reps))
    feasible = b.start == 0 or b.hi is not None
    return {
        "district": district, "category": category,
        "workers": b.hi if b.hi is not None else (0 if b.start == 0 else ps.cap),
        "feasible": feasible, "start": start, "probes": b.probes, "days": days,
        "horizon_days": days + ps.warmup, "reps": reps, "expected_bookings": rate * days * reps,
        "bookings": (b.at_hi or b.at_lo).get("bookings", 0),
        "fulfilment": b.at_hi.get("fulfilment_rate"), "p90_wait_min": b.at_hi.get("wait_assign_p90_min"),
        "fewer_fulfilment": b.at_lo.get("fulfilment_rate"), "fewer_p90_wait_min": b.at_lo.get("wait_assign_p90_min"),
    }


def plan_district(sc: Scenario, district: str, services: list[str], ps: PlanSettings) -> list[dict[str, Any]]:
    """Rows of the plan for one district (one per category)."""
    return [plan_category(sc, district, c, ps) for c in services]


def helpline_plan(sc: Scenario, growth: float, reps: int = 2, seed: int = 1) -> pd.DataFrame | None:
    """Fewest helpline agents per hour of the busiest day for the scenario's service level.

    Fresh calls grow with booking demand (assumed); the busiest day of the scenario's
    horizon is taken from the helpline's own profiles.  Erlang A gives the starting count and
    ``sim.helpline.staffing.simulated_agents`` corrects it by simulating each hour with the
    scenario's handle-time distribution.  Hours closed today stay closed unless after-hours
    calls queue.
    """
    from sim.helpline.staffing import offered_share, peak_day, simulated_agents

    hl = sc.helpline
    if not hl.enabled or hl.calls_per_day <= 0:
        return None
    cfg = hl.model_copy(update={"calls_per_day": hl.calls_per_day * growth})
    share = offered_share(cfg)
    day, fresh = peak_day(cfg, sc.start_date, max(1, int(sc.horizon_days)))
    rows = []
    for h in range(24):
        lam_h = float(fresh[h]) * share
        open_now = hl.agents_by_hour[h] > 0 or hl.after_hours == "queue"
        n0 = agents_for_sl(lam_h / 3600.0, cfg.aht_s, cfg.sl_target, cfg.sl_seconds, cfg.patience_mean_s) \
            if open_now and lam_h > 0 else 0
        n, sl = (simulated_agents(cfg, lam_h, n0, cfg.sl_target, cfg.sl_seconds, reps, 24.0, seed + h)[:2]
                 if n0 else (0, float("nan")))
        rows.append({"day": day, "hour": h, "calls_per_hour": lam_h, "agents_analytic": n0, "agents": n,
                     "sim_service_level": sl, "agents_now": hl.agents_by_hour[h]})
    return pd.DataFrame(rows)


def plan(sc: Scenario, districts: Sequence[str], services: Sequence[str] | None, ps: PlanSettings, *,
         growth: float = 1.0, jobs: int = 1, progress: bool = False) -> PlanResult:
    """Plan workers for every district in ``districts`` and helpline agents statewide.

    Args:
        sc: the scenario, demand growth already applied (``demand.scale``).
        districts: district names.
        services: categories to plan (None: every enabled one).
        ps: targets and search settings.
        growth: demand multiple over the scenario's own (recorded; used for the helpline).
        jobs: worker processes (districts are planned independently; same result for any value).
        progress: show a progress bar over districts.
    """
    cats = planned_categories(sc, services)
    rows: list[dict[str, Any]] = []
    bar: Any = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(districts), unit="district", desc="planning")
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs) as ex:
            for part in ex.map(plan_district, *zip(*[(sc, d, cats, ps) for d in districts], strict=True)):
                rows.extend(part)
                if bar is not None:
                    bar.update(1)
    else:
        for d in districts:
            rows.extend(plan_district(sc, d, cats, ps))
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    meta = {"scenario": sc.name, "targets": ",".join(map(str, ps.targets)), "growth": growth, "reps": ps.reps,
            "seed": ps.seed, "min_days": ps.min_days, "min_bookings": ps.min_bookings, "warmup_days": ps.warmup,
            "categories": cats, "districts": len(districts)}
    return PlanResult(pd.DataFrame(rows), helpline_plan(sc, growth), meta)


# ---------------------------------------------------------------- command line


def add_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """Options of ``plan``."""
    p.add_argument("--scenario", default="baseline", help="scenario name in scenarios/ or a YAML path")
    # Default fulfilment 0.9, not 0.95: in the baseline ~4% of citizens cancel after assignment
    # and late-night bookings outlive patience, so fulfilment levels off near 0.91-0.93.
    p.add_argument("--target", default="fulfilment>=0.9,p90_wait_min<=60",
                   help="comma-separated targets, e.g. 'fulfilment>=0.9,p90_wait_min<=60' "
                        "(metrics: fulfilment, p50_wait_min, p90_wait_min, mean_wait_min)")
    p.add_argument("--districts", default="all", help="comma-separated district names, or 'all'")
    p.add_argument("--demand-growth", type=float, default=1.0, help="multiple of the scenario's demand")
    p.add_argument("--services", help="comma-separated categories to plan (default: every enabled one); "
                                      "disabled ones, e.g. the 2025 services, are enabled")
    p.add_argument("--reps", type=int, default=3, help="fewest replications per evaluated staffing")
    p.add_argument("--max-reps", type=int, default=20, help="most replications per evaluated staffing")
    p.add_argument("--days", type=float, default=28.0, help="shortest measured period per run [days]")
    p.add_argument("--min-bookings", type=int, default=400,
                   help="a category's runs are lengthened (then replicated) until they expect this many "
                        "bookings, pooled")
    p.add_argument("--max-days", type=float, default=3650.0, help="longest measured period per run [days]")
    p.add_argument("--warmup", type=float, default=0.0, help="warm-up excluded from KPIs [days]")
    p.add_argument("--seed", type=int, help="root seed (default the scenario's)")
    p.add_argument("--max-workers", type=int, default=2000, help="most active workers tried per category")
    p.add_argument("--jobs", type=int, default=1, help="processes planning districts in parallel")
    p.add_argument("--out", help="output folder (default runs/plan-<scenario>-x<growth>)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any scenario field (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _districts(text: str) -> list[str]:
    known = district_map()
    if text.strip().lower() == "all":
        return sorted(known)
    names = [s.strip() for s in text.split(",") if s.strip()]
    for n in names:
        if n not in known:
            raise ScenarioError(f"--districts: unknown district {n!r}")
    return list(dict.fromkeys(names))


def run(args: argparse.Namespace, command: str) -> int:
    """Plan, write the outputs, print the summary; exit status 0."""
    targets = parse_targets(args.target)
    if args.demand_growth <= 0:
        raise ScenarioError("--demand-growth: must be > 0")
    if not 1 <= args.reps <= args.max_reps:
        raise ScenarioError("--reps: must be >= 1 and at most --max-reps")
    if args.days <= 0 or args.max_days < args.days:
        raise ScenarioError("--days: must be > 0 and at most --max-days")
    if args.warmup < 0:
        raise ScenarioError("--warmup: must be >= 0")
    if args.max_days + args.warmup > 3650:  # the scenario's horizon limit
        raise ScenarioError("--max-days: with --warmup at most 3650 days")
    for name in ("min_bookings", "max_workers", "jobs"):
        if getattr(args, name) < 1:
            raise ScenarioError(f"--{name.replace('_', '-')}: must be >= 1")
    if args.seed is not None and args.seed < 0:
        raise ScenarioError("--seed: must be a non-negative integer")
    base = load_scenario(args.scenario, args.overrides)
    sc = load_scenario(args.scenario, [*args.overrides, f"demand.scale={base.demand.scale * args.demand_growth}"])
    services = [s.strip() for s in args.services.split(",") if s.strip()] if args.services else None
    ps = PlanSettings(targets, reps=args.reps, seed=sc.seed if args.seed is None else args.seed,
                      min_days=args.days, min_bookings=args.min_bookings, max_days=args.max_days,
                      max_reps=args.max_reps,
                      warmup=args.warmup, cap=args.max_workers)
    result = plan(sc, _districts(args.districts), services, ps, growth=args.demand_growth, jobs=args.jobs,
                  progress=not args.quiet)
    out = Path(args.out) if args.out else Path("runs") / f"plan-{sc.name}-x{args.demand_growth:g}"
    from reports.plan_report import write_plan

    summary = write_plan(result, out)
    print(summary.read_text(encoding="utf-8"), end="")
    print(f"outputs: {out}")
    return 0
