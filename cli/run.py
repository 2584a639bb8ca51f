"""The ``run`` command: simulate a scenario, write its folder, print a summary, build the report."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import sim
from cli.args import add_out, add_quiet, add_scenario, progress_bar, scenario, scenario_overrides
from cli.outdir import add_force, prepare_out_dir
from sim.errors import InputError
from sim.provenance import provenance
from sim.spool import Spool


def add_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """Options of ``run``."""
    add_scenario(p)
    p.add_argument("--plan", metavar="PLAN.yaml", help="simulate a launch plan (plans/*.yaml) on its own scenario: "
                                                       "its dated changes applied (--scenario is then not used)")
    p.add_argument("--replication", type=int, default=0, help="replication number (independent streams)")
    add_out(p, "runs/<scenario>-<seed>-<time>")
    add_force(p)
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    add_quiet(p)


def run(args: argparse.Namespace, command: str) -> int:
    """Run and write; exit status 0."""
    if args.replication < 0:
        raise InputError("--replication: must be a non-negative integer")
    if args.plan:
        from sim.plan_file import load_planned_scenario

        sc = load_planned_scenario(args.plan, tuple(scenario_overrides(args)))
    else:
        sc = scenario(args)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else Path("runs") / f"{sc.name}-{sc.seed}-{stamp}"
    prepare_out_dir(out, args.force)  # before simulating: never lose a run to a bad --out
    # output.calls: full streams the per-call table straight into the run folder
    res = sim.run(sc, replication=args.replication, spool=Spool(out),
                  progress=progress_bar(args.quiet, f"{sc.name} seed {sc.seed}", "day"))
    sim.write_run(res, out)
    overrides = scenario_overrides(args)
    prov = (provenance(args.scenario, overrides) if not args.plan else
            {"file": f"plan {args.plan}", "parent": None, "changes_from_parent": {}, "set": overrides, "overrides": {}})
    (out / "provenance.json").write_text(json.dumps(prov, indent=2, sort_keys=True, default=str) + "\n")
    print(format_summary(res.summary))
    if not args.no_report:
        from reports.html import write_report

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
