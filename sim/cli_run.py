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


def _v(value: object, pattern: str) -> str:
    """A summary number formatted, or "–" when the run had nothing to measure (None/NaN)."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    return "–" if v != v else pattern.format(v)


def format_summary(s: dict) -> str:
    """A short, aligned table of the headline KPIs ("–" where nothing was measured)."""
    rows = [
        ("bookings (measured)", _v(s.get("bookings"), "{:,.0f}")),
        ("bookings per year", _v(s.get("bookings_per_year"), "{:,.0f}")),
        ("completed / cancelled / unfulfilled", " / ".join(_v(s.get(k), "{:,.0f}")
                                                          for k in ("completed", "cancelled", "unfulfilled"))),
        ("fulfilment rate", _v(s.get("fulfilment_rate"), "{:.1%}")),
        ("wait to assignment p50 / p90 [min]",
         f"{_v(s.get('wait_assign_p50_min'), '{:.1f}')} / {_v(s.get('wait_assign_p90_min'), '{:.1f}')}"),
        ("travel per job [km]", _v(s.get("travel_km_per_job"), "{:.1f}")),
        ("workers registered / active",
         f"{_v(s.get('workers_registered'), '{:,.0f}')} / {_v(s.get('workers_active'), '{:,.0f}')}"),
        ("active workers with no job", _v(s.get("share_workers_no_job"), "{:.1%}")),
        ("earnings Gini (active)", _v(s.get("gini_earnings"), "{:.3f}")),
        ("average rating", _v(s.get("avg_rating"), "{:.2f}")),
    ]
    if "helpline" in s:
        h = s["helpline"]
        rows.append(("helpline calls offered", _v(h.get("offered", 0), "{:,.0f}")))
        if "service_level" in h:
            rows.append(("helpline service level", _v(h["service_level"], "{:.1%}")))
    if "wallet" in s:
        w = s["wallet"]
        if "credit_per_booking_paise" in w:
            cp = w["credit_per_booking_paise"]
            rows.append(("wallet credit per booking [Rs]", _v(None if cp is None else cp / 100, "{:.2f}")))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
