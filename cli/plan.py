"""``run_sim.py plan [PLAN.yaml]``: fewest workers per district × service and helpline agents.

With a plan file the question is the plan's (``plans/*.yaml``, see ``sim.plan_file``);
without one, ``--districts``/``--services``/``--demand-growth`` make a one-change plan on
top of ``--scenario``.  Outputs go to ``--out``: the planner's tables (``plan_workers.csv``,
``plan_helpline.csv``, ``plan.json``, ``plan_scenario.yaml``), then the report built from
them (``plan_summary.txt``, ``plan_map.png``, ``plan_report.html``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from cli.args import add_out, add_quiet, add_scenario, progress_bar
from cli.outdir import add_force, prepare_out_dir
from sim.config import MAX_HORIZON_DAYS
from sim.errors import InputError

DEFAULT_TARGET = "fulfilment>=0.8,p90_wait_min<=60"


def add_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """Options of ``plan``."""
    p.add_argument("plan", nargs="?", help="launch plan YAML (a path, or a name in plans/)")
    add_scenario(p, days=False, seed=True)  # --scenario (without a plan file), --set, --seed
    p.add_argument("--target", help=f"targets met with 95%% confidence, e.g. '{DEFAULT_TARGET}' (the default "
                                    "unless the plan file names one); metrics: fulfilment, p50_wait_min, "
                                    "p90_wait_min, mean_wait_min")
    p.add_argument("--districts", default="all", help="without a plan file: comma-separated districts, or 'all'")
    p.add_argument("--services", help="without a plan file: categories to plan (default every enabled one); "
                                      "disabled ones, e.g. the 2025 services, are enabled")
    p.add_argument("--demand-growth", type=float, default=1.0,
                   help="multiple of demand in every planned cell (on top of the plan's own changes)")
    p.add_argument("--reps", type=int, default=4, help="replications of a probe before its first decision")
    p.add_argument("--max-reps", type=int, default=12,
                   help="most replications per bisection probe (undecided = not met)")
    p.add_argument("--boundary-reps", type=int, default=40,
                   help="most replications at the answer and one fewer (the boundary pair, decided last)")
    p.add_argument("--resolution", type=float, default=0.02,
                   help="CI half-width at which one fewer's undecided KPI is a genuine tie (share units; a "
                        "fraction of the bound for mean_wait_min)")
    p.add_argument("--min-days", type=float, default=365.0,
                   help="shortest measured period per run [days] (each planning run's own horizon)")
    p.add_argument("--max-days", type=float, default=36500.0, help="longest measured period per run [days]")
    p.add_argument("--rep-bookings", type=float, default=30.0,
                   help="runs are lengthened (up to --max-days) until a replication expects this many "
                        "bookings of its rarest cell")
    p.add_argument("--warmup", type=float, default=0.0, help="warm-up excluded from KPIs [days]")
    p.add_argument("--max-workers", type=int, default=500, help="most active workers tried per cell")
    p.add_argument("--cores", type=int, default=1, help="local processes planning districts in parallel")
    p.add_argument("--dask", metavar="ADDRESS", help="plan districts on a Dask cluster (scheduler address)")
    add_out(p, "runs/plan-<plan name>")
    add_force(p)
    add_quiet(p)


def _check(args: argparse.Namespace) -> None:
    if args.demand_growth <= 0:
        raise InputError("--demand-growth: must be > 0")
    if not 2 <= args.reps <= args.max_reps:
        raise InputError("--reps: must be >= 2 and at most --max-reps")
    if args.boundary_reps < args.max_reps:
        raise InputError("--boundary-reps: must be at least --max-reps")
    if not 0 < args.resolution < 1:
        raise InputError("--resolution: must be in (0, 1)")
    if args.min_days <= 0 or args.max_days < args.min_days:
        raise InputError("--min-days: must be > 0 and at most --max-days")
    if args.warmup < 0:
        raise InputError("--warmup: must be >= 0")
    if args.max_days + args.warmup > MAX_HORIZON_DAYS:  # the scenario's horizon limit
        raise InputError(f"--max-days: with --warmup at most {MAX_HORIZON_DAYS:.0f} days")
    for name in ("rep_bookings", "max_workers", "cores"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')}: must be >= 1")
    if args.seed is not None and args.seed < 0:
        raise InputError("--seed: must be a non-negative integer")


def cli_plan(args: argparse.Namespace):
    """The plan file, or the one-change plan that ``--districts/--services`` describe."""
    from sim.config import load_scenario
    from sim.geography import district_names
    from sim.plan_file import load_plan, parse_plan

    if args.plan:
        return load_plan(args.plan)
    sc = load_scenario(args.scenario, args.overrides)
    districts: list[str] = []
    if args.districts.strip().lower() != "all":
        districts = [s.strip() for s in args.districts.split(",") if s.strip()]
        for d in districts:
            if d not in district_names():
                raise InputError(f"--districts: unknown district {d!r}")
    services = [s.strip() for s in args.services.split(",") if s.strip()] if args.services else []
    for s in services:
        if s not in sc.catalog:
            raise InputError(f"--services: unknown category {s!r} (known: {', '.join(sc.catalog)})")
    changes = [{"date": sc.start_date, "demand_growth": 1.0, "districts": districts, "services": services}]
    new = [s for s in services if not sc.catalog[s].enabled]
    if new:
        changes.append({"date": sc.start_date, "enable": new, "districts": districts})
    return parse_plan({"name": f"{sc.name}-cli", "scenario": args.scenario, "changes": changes,
                       "plan_districts": districts, "plan_services": services})


def run(args: argparse.Namespace, command: str) -> int:
    """Plan, write the tables and the report, print the summary; exit status 0."""
    from reports.plan_report import write_plan_report
    from sim.plan_file import resolve_plan
    from sim.planner import PlanSettings, plan, write_plan_tables
    from sim.planner_decision import parse_targets
    from sim.planner_search import Replications

    _check(args)
    pf = cli_plan(args)
    targets = parse_targets(args.target or pf.target or DEFAULT_TARGET)
    rp = resolve_plan(pf, tuple(args.overrides), args.demand_growth)
    ps = PlanSettings(targets, reps=Replications(args.reps, args.reps, args.max_reps, args.boundary_reps,
                                                   args.resolution),
                      seed=rp.setting.seed if args.seed is None else args.seed, min_days=args.min_days,
                      rep_bookings=args.rep_bookings, max_days=args.max_days, warmup=args.warmup,
                      cap=args.max_workers)
    name = f"plan-{pf.name}" + (f"-x{args.demand_growth:g}" if args.demand_growth != 1 else "")
    out = Path(args.out) if args.out else Path("runs") / name
    # Checked before planning; the default folder is this plan's own, so a re-run replaces it.
    prepare_out_dir(out, args.force or not args.out)
    t0 = time.perf_counter()
    try:
        result = plan(rp, ps, cores=args.cores, dask=args.dask,
                      progress=progress_bar(args.quiet, "planning (district x similar services)", "task"))
    except OSError as e:
        if args.dask:
            raise InputError(f"--dask: cannot reach a scheduler at {args.dask!r} ({e})") from None
        raise
    result.meta["wall_s"] = round(time.perf_counter() - t0, 1)
    result.meta["demand_growth"] = args.demand_growth
    write_plan_tables(result, rp, out)
    summary = write_plan_report(out)
    print(summary.read_text(encoding="utf-8"), end="")
    print(f"planned in {result.meta['wall_s']:g} s; outputs: {out}")
    return 0
