"""Benchmark: one simulated year of the baseline.  Prints wall time, bookings/s and peak memory.

Target (issue 2): under 15 s on one core, peak memory under 500 MB.
Usage: python bench/bench_year.py [--scenario baseline] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import resource
import time

from sim.config import load_scenario
from sim.runner import run_one


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default="baseline")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    sc = load_scenario(args.scenario, args.overrides)
    t0 = time.perf_counter()
    res = run_one(sc, seed=args.seed)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    s = res.summary
    calls = s.get("helpline", {}).get("offered", 0)
    helpline = "on" if sc.helpline.enabled else "off"
    print(f"scenario            {sc.name} ({sc.horizon_days:g} days, helpline {helpline})")
    print(f"bookings            {s['bookings']:,}")
    print(f"helpline calls      {calls:,}")
    print(f"wall time           {wall:.2f} s   (target < 15 s)")
    print(f"bookings per second {s['bookings'] / wall:,.0f}")
    print(f"peak memory (RSS)   {peak_mb:.0f} MB   (target < 500 MB)")


if __name__ == "__main__":
    main()
