"""The ``run`` command: simulate a scenario, write its folder, print a summary, build the report."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import sim
from cli.args import add_out, add_quiet, add_scenario, progress_bar, scenario
from sim.errors import InputError


def add_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """Options of ``run``."""
    add_scenario(p)
    p.add_argument("--replication", type=int, default=0, help="replication number (independent streams)")
    add_out(p, "runs/<scenario>-<seed>-<time>")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    add_quiet(p)


def run(args: argparse.Namespace, command: str) -> int:
    """Run and write; exit status 0."""
    if args.replication < 0:
        raise InputError("--replication: must be a non-negative integer")
    sc = scenario(args)
    res = sim.run(sc, replication=args.replication,
                  progress=progress_bar(args.quiet, f"{sc.name} seed {sc.seed}", "day"))
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else Path("runs") / f"{sc.name}-{res.seed}-{stamp}"
    sim.write_run(res, out)
    print(format_summary(res.summary))
    if not args.no_report:
        from reports.html import write_report

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
