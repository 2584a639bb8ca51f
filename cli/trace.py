"""``run_sim.py trace``: simulate a scenario and export its request trace for load replay."""

from __future__ import annotations

import argparse

import sim
from cli.args import add_scenario, scenario
from sim.trace import ACTION_RANK, build_trace, trace_meta, write_trace


def add_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """Options of ``trace``."""
    add_scenario(p)
    p.add_argument("--out", default="trace.parquet", help="trace file to write [parquet]")


def run(args: argparse.Namespace, command: str) -> int:
    """Simulate, export the trace, print its size by action."""
    sc = scenario(args)
    res = sim.run(sc)
    tr = build_trace(res.tables, sc.horizon_min)
    meta = trace_meta(sc, res.seed) | {"rows": len(tr)}
    out = write_trace(tr, args.out, meta)
    counts = tr["action"].value_counts().reindex(list(ACTION_RANK)).dropna().astype(int)
    print(f"trace: {len(tr):,} requests over {sc.horizon_min:,.0f} simulated minutes -> {out}")
    for action, n in counts.items():
        print(f"  {action:<17}{n:>10,}")
    return 0
