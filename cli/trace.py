"""``run_sim.py trace``: simulate a scenario and export its request trace for load replay."""

from __future__ import annotations

import argparse

from sim.trace import ACTION_RANK, build_trace, trace_meta, write_trace


def add_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """Options of ``trace``."""
    p.add_argument("--scenario", default="baseline", help="scenario name in scenarios/ or a YAML path")
    p.add_argument("--days", type=float, help="simulated days to export (overrides horizon_days)")
    p.add_argument("--seed", type=int, help="override the scenario seed")
    p.add_argument("--out", default="trace.parquet", help="trace file to write [parquet]")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any scenario field (repeatable)")


def run(args: argparse.Namespace, command: str) -> int:
    """Simulate, export the trace, print its size by action."""
    from sim.cli_run import scenario_overrides
    from sim.config import load_scenario
    from sim.run import run_one

    sc = load_scenario(args.scenario, scenario_overrides(args))
    res = run_one(sc)
    tr = build_trace(res.tables, sc.horizon_min)
    meta = trace_meta(sc, res.seed) | {"rows": len(tr)}
    out = write_trace(tr, args.out, meta)
    counts = tr["action"].value_counts().reindex(list(ACTION_RANK)).dropna().astype(int)
    print(f"trace: {len(tr):,} requests over {sc.horizon_min:,.0f} simulated minutes -> {out}")
    for action, n in counts.items():
        print(f"  {action:<17}{n:>10,}")
    return 0
