"""Benchmark: the full history run (launch, 1 Dec 2021 -> 30 Jun 2025) on one core.

Prints wall time (target <= 60 s: calibration runs it dozens of times), CPU time, peak
memory and the June 2025 snapshot against the published anchors.  The machine may be shared:
CPU time is the steadier figure; repeat with --repeat to see the spread.
Usage: python bench/bench_history.py [--scenario history] [--seed 1] [--repeat 1] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import resource
import time

from sim.config import load_scenario
from sim.runner import run_one


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default="history")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    sc = load_scenario(args.scenario, args.overrides)
    walls, cpus = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        res = run_one(sc, seed=args.seed)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    last = res.tables["snapshots"].iloc[-1]
    print(f"scenario            {sc.name} ({sc.start_date} + {sc.horizon_days:g} days)")
    print(f"bookings            {int(last['bookings_cum']):,}   (published 39,857)")
    print(f"calls               {int(last['calls_cum']):,}   (published 38,49,028)")
    print(f"registered workers  {int(last['registered_workers']):,}   (published 52,349)")
    print(f"wallet credit       Rs {int(last['wallet_credit_cum_paise']) / 100:,.0f}   (published Rs 27,53,794)")
    print(f"wall time           {min(walls):.1f} s best of {len(walls)} (all: {', '.join(f'{w:.1f}' for w in walls)})"
          "   (target <= 60 s)")
    print(f"CPU time            {min(cpus):.1f} s")
    print(f"peak memory (RSS)   {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
