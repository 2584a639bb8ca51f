"""``run_sim.py trace``: simulate a scenario and export its request trace for load replay."""

from __future__ import annotations

import argparse
from pathlib import Path

import sim
from cli.args import add_scenario, scenario
from cli.outdir import file_out
from sim.trace import (
    ACTION_RANK,
    bookings_only,
    build_trace,
    compress_idle,
    sample_workers,
    trace_meta,
    write_trace,
)


def add_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """Options of ``trace``."""
    add_scenario(p)
    p.add_argument("--out", default="trace.parquet", help="trace file to write [parquet]; a folder: "
                                                          "trace.parquet inside it")
    p.add_argument("--compress-idle", type=float, nargs="?", const=1.0, default=None, metavar="MINUTES",
                   help="shrink every hour without bookings (nights) to MINUTES simulated minutes (default 1)")
    p.add_argument("--bookings-only", action="store_true",
                   help="only bookings and their steps, and the workers they touch (no payouts)")
    p.add_argument("--sample-workers", type=float, default=None, metavar="FRACTION",
                   help="keep this fraction of workers (seeded), plus every worker a booking touches")


def run(args: argparse.Namespace, command: str) -> int:
    """Simulate, export the trace, print its size by action."""
    sc = scenario(args)
    target = file_out(Path(args.out), "trace.parquet")  # checked before simulating
    res = sim.run(sc)
    tr = build_trace(res.tables, sc.horizon_min)
    meta = trace_meta(sc, res.seed)
    if args.bookings_only:
        tr = bookings_only(tr)
        meta["bookings_only"] = True
    if args.sample_workers is not None:
        tr = sample_workers(tr, args.sample_workers, res.seed)
        meta["sample_workers"] = args.sample_workers
    if args.compress_idle is not None:
        tr, meta["time_map"] = compress_idle(tr, args.compress_idle)
        meta["compress_idle_min"] = args.compress_idle
    meta["rows"] = len(tr)
    out = write_trace(tr, target, meta)
    counts = tr["action"].value_counts().reindex(list(ACTION_RANK)).dropna().astype(int)
    span = float(tr["t_min"].max()) if len(tr) else 0.0
    print(f"trace: {len(tr):,} requests over {span:,.0f} simulated minutes -> {out}")
    for action, n in counts.items():
        print(f"  {action:<17}{n:>10,}")
    return 0
