"""``run_sim.py helpline`` (stationary run vs Erlang) and ``run_sim.py staff`` (agents per hour)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from cli.args import add_out, add_quiet, add_scenario, progress_bar, scenario
from cli.outdir import add_force, prepare_out_dir
from sim.errors import InputError
from sim.helpline.erlang import kpis
from sim.helpline.stationary import KPIS, Stationary, run_stationary


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Options of ``helpline`` or ``staff``."""
    if command == "helpline":
        parser.add_argument("--arrivals-per-hour", type=float, required=True, help="call arrival rate [calls/h]")
        parser.add_argument("--aht-seconds", type=float, required=True, help="mean handle time [s]")
        parser.add_argument("--agents", type=int, required=True, help="agents on duty")
        parser.add_argument("--patience-seconds", type=float, default=None,
                            help="mean (exponential) patience [s]; omit for no abandonment (Erlang C)")
        parser.add_argument("--sl-seconds", type=float, default=20.0, help="service-level threshold [s]")
        parser.add_argument("--hours", type=float, default=200.0, help="length of each replication [h]")
        parser.add_argument("--warmup-hours", type=float, default=None, help="deleted warm-up [h] (default hours/5)")
        parser.add_argument("--reps", type=int, default=10, help="independent replications")
        parser.add_argument("--seed", type=int, default=1, help="root seed")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
    elif command == "staff":
        add_scenario(parser)  # --days: the horizon searched for the peak day
        parser.add_argument("--sl", default=None, help="target PERCENT/SECONDS, e.g. 80/20 (default: scenario's)")
        add_out(parser, "runs/staff-<scenario>/")
        add_force(parser)
        parser.add_argument("--reps", type=int, default=5, help="replications per simulated hour")
        parser.add_argument("--hours", type=float, default=24.0, help="simulated length per hour check [h]")
        parser.add_argument("--max-abandon", type=float, default=None,
                            help="also cap the abandonment rate, e.g. 0.05 (default: no cap)")
        parser.add_argument("--min-calls", type=int, default=5000,
                            help="quiet hours are simulated long enough for this many calls per replication")
        add_quiet(parser)
    else:
        raise ValueError(f"unknown command {command!r}")


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def helpline_result(args: argparse.Namespace) -> dict[str, Any]:
    """The ``{"sim": ..., "analytic": ...}`` object of a stationary run."""
    p = Stationary(args.arrivals_per_hour, args.aht_seconds, args.agents, args.patience_seconds,
                   args.sl_seconds, args.hours, args.warmup_hours)
    res = run_stationary(p, args.reps, args.seed, progress=progress_bar(args.json, "replications", "rep"))
    sim = {k: res[k] for k in ("calls", *KPIS, "occupancy")}
    sim["ci95"] = {k: [_num(v) for v in res["ci95"][k]] for k in KPIS}
    an = kpis(args.arrivals_per_hour / 3600.0, args.aht_seconds, args.agents, args.sl_seconds,
              args.patience_seconds).as_dict()
    return {"sim": sim, "analytic": an}


def _print_table(out: dict[str, Any], args: argparse.Namespace) -> None:
    sim, an = out["sim"], out["analytic"]
    model = "Erlang A" if an["model"] == "erlang_a" else "Erlang C"
    print(f"helpline: {args.arrivals_per_hour:g} calls/h, AHT {args.aht_seconds:g} s, {args.agents} agents, "
          f"patience {args.patience_seconds or 'none'}; {args.reps} reps x {args.hours:g} h, "
          f"{sim['calls']:,} calls after warm-up")
    print(f"{'KPI':<16}{'simulated':>12}{'95% CI':>26}{model:>12}")
    for k in (*KPIS, "occupancy"):
        ci = sim["ci95"].get(k)
        ci_s = f"[{ci[0]:.4f}, {ci[1]:.4f}]" if ci and ci[0] is not None else ""
        print(f"{k:<16}{sim[k]:>12.4f}{ci_s:>26}{an[k]:>12.4f}")


def _run_staff(args: argparse.Namespace) -> int:
    from reports.staffing import write_staffing
    from sim.helpline.staffing import DAYS, parse_sl, staffing_table

    sc = scenario(args)
    cfg = sc.helpline
    target, t_s = parse_sl(args.sl) if args.sl else (cfg.sl_target, cfg.sl_seconds)
    if args.reps < 1 or args.hours <= 0:
        raise InputError("reps: must be >= 1" if args.reps < 1 else "hours: must be > 0")
    out_dir = Path(args.out) if args.out else Path("runs") / f"staff-{sc.name}"
    prepare_out_dir(out_dir, args.force or not args.out)  # before the search; the default folder is replaced
    table = staffing_table(cfg, sc.start_date, math.ceil(sc.horizon_days), target, t_s, args.reps, args.hours,
                           sc.seed, args.min_calls, args.max_abandon,
                           progress=progress_bar(args.quiet, "hours", "hour"))
    csv, png = write_staffing(table, out_dir, f"{sc.name}: fewest agents for {target:.0%} in {t_s:g} s")
    wk = table[table["period"] == "typical_week"]
    print(f"fewest agents for {target:.0%} of calls answered within {t_s:g} s "
          f"(Erlang {'A' if cfg.patience_mean_s else 'C'}, corrected by simulation); hours 00..23")
    print("       " + " ".join(f"{h:>3d}" for h in range(24)))
    for d, day in enumerate(DAYS):
        vals = wk["agents_simulated"].to_numpy()[d * 24:(d + 1) * 24]
        print(f"{day:<6} " + " ".join(f"{v:>3d}" for v in vals))
    pk = table[table["period"] == "peak_day"]
    print(f"peak day {pk['day'].iloc[0]} ({pk['calls_per_hour'].sum():,.0f} calls):")
    print("       " + " ".join(f"{v:>3d}" for v in pk["agents_simulated"]))
    print(f"agent-hours per typical week: {int(wk['agents_simulated'].sum())} "
          f"(Erlang {int(wk['agents_analytic'].sum())}, on duty now {int(wk['agents_now'].sum())})")
    print(f"wrote {csv} and {png}")
    return 0


def run(args: argparse.Namespace, command: str) -> int:
    """Run ``helpline`` or ``staff``; bad input raises ``InputError`` (exit 2)."""
    if command == "staff":
        return _run_staff(args)
    out = helpline_result(args)
    if args.json:
        print(json.dumps(out))
    else:
        _print_table(out, args)
    return 0
