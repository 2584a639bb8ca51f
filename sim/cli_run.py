"""The ``run`` command: simulate a scenario, write its folder, print a summary, build the report."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from sim.config import load_scenario
from sim.errors import ScenarioError


def add_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """Options of ``run``."""
    p.add_argument("--scenario", default="baseline", help="scenario name in scenarios/ or a YAML path")
    p.add_argument("--days", type=float, help="override horizon_days")
    p.add_argument("--seed", type=int, help="override the scenario seed")
    p.add_argument("--replication", type=int, default=0, help="replication number (independent streams)")
    p.add_argument("--out", help="output folder (default runs/<scenario>-<seed>-<time>)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any scenario field, e.g. demand.scale=2 (repeatable)")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def scenario_overrides(args: argparse.Namespace) -> list[str]:
    """``--set`` items plus ``--days`` and ``--seed`` as overrides (shared by commands)."""
    overrides = list(args.overrides)
    if args.days is not None:
        if args.days <= 0:
            raise ScenarioError("--days: must be positive")
        overrides.append(f"horizon_days={args.days}")
    if args.seed is not None:
        if args.seed < 0:
            raise ScenarioError("--seed: must be a non-negative integer")
        overrides.append(f"seed={args.seed}")
    return overrides


def run(args: argparse.Namespace, command: str) -> int:
    """Run and write; exit status 0."""
    sc = load_scenario(args.scenario, scenario_overrides(args))
    from sim.run import run_one, write_run

    res = run_one(sc, replication=args.replication, progress=not args.quiet)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else Path("runs") / f"{sc.name}-{res.seed}-{stamp}"
    write_run(res, out)
    print(format_summary(res.summary))
    if not args.no_report:
        try:
            from reports.html import write_report
        except ImportError:
            print("(report skipped: the reports package is not installed)")
        else:
            print(f"report: {write_report(out)}")
    print(f"outputs: {out}")
    return 0


def format_summary(s: dict) -> str:
    """A short, aligned table of the headline KPIs."""
    rows = [
        ("bookings (measured)", f"{s['bookings']:,}"),
        ("bookings per year", f"{s['bookings_per_year']:,.0f}"),
        ("completed / cancelled / unfulfilled", f"{s['completed']:,} / {s['cancelled']:,} / {s['unfulfilled']:,}"),
        ("fulfilment rate", f"{s['fulfilment_rate']:.1%}"),
        ("wait to assignment p50 / p90 [min]", f"{s['wait_assign_p50_min']:.1f} / {s['wait_assign_p90_min']:.1f}"),
        ("travel per job [km]", f"{s['travel_km_per_job']:.1f}"),
        ("workers registered / active", f"{s['workers_registered']:,} / {s['workers_active']:,}"),
        ("active workers with no job", f"{s['share_workers_no_job']:.1%}"),
        ("earnings Gini (active)", f"{s['gini_earnings']:.3f}"),
        ("average rating", f"{s['avg_rating']:.2f}"),
    ]
    if "helpline" in s:
        h = s["helpline"]
        rows.append(("helpline calls offered", f"{h.get('offered', 0):,}"))
        if "service_level" in h:
            rows.append(("helpline service level", f"{h['service_level']:.1%}"))
    if "wallet" in s:
        w = s["wallet"]
        if "credit_per_booking_paise" in w:
            rows.append(("wallet credit per booking [Rs]", f"{w['credit_per_booking_paise'] / 100:.2f}"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
