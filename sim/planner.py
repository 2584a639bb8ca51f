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


@dataclass
class PlanResult:
    """What a plan produces.

    Attributes:
        workers: one row per (district, category): ``workers`` needed [active workers],
            ``start`` (analytic bound), KPIs at the answer and at one fewer, ``feasible``.
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


def planning_scenario(sc: Scenario, district: str, services: list[str], days: float, warmup: float) -> Scenario:
    """The one-district scenario used to plan ``services`` in ``district`` (see module doc)."""
    raw = sc.model_dump(mode="json")
    full = {k for k, c in sc.catalog.items() if c.enabled} | set(services)
    weight = {k: sc.catalog[k].demand_weight for k in full}
    for k in raw["catalog"]:
        raw["catalog"][k]["enabled"] = k in services
    raw["demand"]["bookings_per_year"] = sc.demand.bookings_per_year * (
        sum(weight[k] for k in services) / sum(weight.values()))
    raw["geography"]["districts"] = [district]
    raw["workforce"]["second_skill_share"] = 0.0
    raw["workforce"]["active_counts"] = {}
    raw["horizon_days"], raw["warmup_days"] = days, warmup
    raw["helpline"]["enabled"] = False
    raw["money"]["enabled"] = False
    return validate(raw)


def demand_weight_share(sc: Scenario, district: str) -> float:
    """The district's share of statewide demand weight (population × urban uplift)."""
    u = sc.demand.urban_uplift
    w = {d.name: d.population * (1 + u * d.urban_share) for d in load_districts()}
    return w[district] / sum(w.values())


def evaluate_counts(sc_plan: Scenario, district: str, counts: dict[str, int], seed: int, reps: int,
                    first_rep: int = 0) -> dict[str, dict[str, float]]:
    """Pooled KPIs per category of ``reps`` replications with ``counts`` active workers."""
    from sim.run import run_one

    wf = sc_plan.workforce.model_copy(update={"active_counts": {district: dict(sorted(counts.items()))}})
    sc_n = sc_plan.model_copy(update={"workforce": wf})
    frames = []
    for r in range(first_rep, first_rep + reps):
        bk = run_one(sc_n, seed, r).tables["bookings"]
        frames.append(bk[bk["created_min"] >= sc_n.warmup_min])
    return category_kpis(pd.concat(frames, ignore_index=True), sorted(counts))


def plan_district(sc: Scenario, district: str, services: list[str], targets: tuple[Target, ...], *,
                  seed: int, reps: int, days: float, warmup: float, cap: int) -> list[dict[str, Any]]:
    """Rows of the plan for one district (one per category)."""
    sc_plan = planning_scenario(sc, district, services, days, warmup)
    share = demand_weight_share(sc_plan, district)
    brackets = {}
    for c in services:
        rate = peak_rate_per_min(sc_plan, share, c)
        brackets[c] = Bracket(start=min(analytic_start(rate, sc.catalog[c].service_min, targets), cap), cap=cap)
    rounds = search(brackets, targets,
                    lambda counts: evaluate_counts(sc_plan, district, counts, seed, reps))
    rows = []
    for c in services:
        b = brackets[c]
        feasible = b.start == 0 or b.hi is not None
        rows.append({
            "district": district, "category": c, "workers": b.hi if b.hi is not None else (0 if b.start == 0
                                                                                            else cap),
            "feasible": feasible, "start": b.start, "probes": b.probes, "rounds": rounds,
            "bookings": b.at_hi.get("bookings", 0), "fulfilment": b.at_hi.get("fulfilment_rate"),
            "p90_wait_min": b.at_hi.get("wait_assign_p90_min"),
            "fewer_fulfilment": b.at_lo.get("fulfilment_rate"),
            "fewer_p90_wait_min": b.at_lo.get("wait_assign_p90_min"),
        })
    return rows


def helpline_plan(sc: Scenario, growth: float) -> pd.DataFrame | None:
    """Fewest agents per hour of day for the helpline's service-level target (Erlang A).

    Calls [calls/hour] are those of the busiest weekday in the busiest month, scaled by the
    demand growth (assumed: calls grow with bookings), minus those the IVR resolves.  Hours
    with no agent today stay closed unless after-hours calls queue.
    """
    hl = sc.helpline
    if not hl.enabled or hl.calls_per_day <= 0:
        return None
    to_agent = sum(p * (1 - q) for p, q in zip(hl.type_probs(), hl.ivr_probs(), strict=True))
    hour = pd.Series(hl.hour_profile, dtype=float)
    wday, month = pd.Series(hl.weekday_profile), pd.Series(hl.month_profile)
    peak_day = hl.calls_per_day * growth * to_agent * wday.max() / wday.mean() * month.max() / month.mean()
    rows = []
    for h in range(24):
        calls = peak_day * hour[h] / hour.sum()
        open_now = hl.agents_by_hour[h] > 0 or hl.after_hours == "queue"
        need = agents_for_sl(calls / 3600.0, hl.aht_s, hl.sl_target, hl.sl_seconds, hl.patience_mean_s) \
            if open_now and calls > 0 else 0
        rows.append({"hour": h, "calls_per_hour": calls, "agents": need, "agents_now": hl.agents_by_hour[h]})
    return pd.DataFrame(rows)


def plan(sc: Scenario, targets: tuple[Target, ...], districts: Sequence[str], services: Sequence[str] | None,
         *, growth: float = 1.0, reps: int = 3, seed: int | None = None, days: float = 28.0,
         warmup: float = 0.0, cap: int = 2000, progress: bool = False) -> PlanResult:
    """Plan workers for every district in ``districts`` and helpline agents statewide.

    Args:
        sc: the scenario, demand growth already applied (``demand.scale``).
        targets: service targets every planned category must meet.
        districts: district names.
        services: categories to plan (None: every enabled one).
        growth: demand multiple over the scenario's own (recorded; used for the helpline).
        reps: replications per evaluated staffing.
        seed: root seed (default the scenario's).
        days: planning horizon per run [days].
        warmup: warm-up excluded from KPIs [days].
        cap: most workers tried per category.
        progress: show a progress bar over districts.
    """
    cats = planned_categories(sc, services)
    seed = sc.seed if seed is None else seed
    rows: list[dict[str, Any]] = []
    it: Any = districts
    if progress:
        from tqdm import tqdm

        it = tqdm(districts, unit="district", desc="planning")
    for d in it:
        rows.extend(plan_district(sc, d, cats, targets, seed=seed, reps=reps, days=days, warmup=warmup, cap=cap))
    meta = {"scenario": sc.name, "targets": ",".join(map(str, targets)), "growth": growth, "reps": reps,
            "seed": seed, "days": days, "warmup_days": warmup, "categories": cats, "districts": len(districts)}
    return PlanResult(pd.DataFrame(rows), helpline_plan(sc, growth), meta)


# ---------------------------------------------------------------- command line


def add_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """Options of ``plan``."""
    p.add_argument("--scenario", default="baseline", help="scenario name in scenarios/ or a YAML path")
    p.add_argument("--target", default="fulfilment>=0.95,p90_wait_min<=60",
                   help="comma-separated targets, e.g. 'fulfilment>=0.95,p90_wait_min<=60'")
    p.add_argument("--districts", default="all", help="comma-separated district names, or 'all'")
    p.add_argument("--demand-growth", type=float, default=1.0, help="multiple of the scenario's demand")
    p.add_argument("--services", help="comma-separated categories to plan (default: every enabled one); "
                                      "disabled ones, e.g. the 2025 services, are enabled")
    p.add_argument("--reps", type=int, default=3, help="replications per evaluated staffing")
    p.add_argument("--days", type=float, default=28.0, help="planning horizon per run [days]")
    p.add_argument("--warmup", type=float, default=0.0, help="warm-up excluded from KPIs [days]")
    p.add_argument("--seed", type=int, help="root seed (default the scenario's)")
    p.add_argument("--max-workers", type=int, default=2000, help="most active workers tried per category")
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
    if args.reps < 1:
        raise ScenarioError("--reps: must be >= 1")
    if args.days <= args.warmup or args.warmup < 0:
        raise ScenarioError("--days: must be longer than --warmup (>= 0)")
    if args.max_workers < 1:
        raise ScenarioError("--max-workers: must be >= 1")
    if args.seed is not None and args.seed < 0:
        raise ScenarioError("--seed: must be a non-negative integer")
    base = load_scenario(args.scenario, args.overrides)
    sc = load_scenario(args.scenario, [*args.overrides, f"demand.scale={base.demand.scale * args.demand_growth}"])
    services = [s.strip() for s in args.services.split(",") if s.strip()] if args.services else None
    result = plan(sc, targets, _districts(args.districts), services, growth=args.demand_growth, reps=args.reps,
                  seed=args.seed, days=args.days, warmup=args.warmup, cap=args.max_workers,
                  progress=not args.quiet)
    out = Path(args.out) if args.out else Path("runs") / f"plan-{sc.name}-x{args.demand_growth:g}"
    from reports.plan_report import write_plan

    summary = write_plan(result, out)
    print(summary.read_text(encoding="utf-8"), end="")
    print(f"outputs: {out}")
    return 0
