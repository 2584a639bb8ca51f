"""Benchmark: the twin at scale against a bare SimPy queue measured in the same run.

Prints, for one run: bare SimPy M/M/50 customers/s (process per customer), then for the
baseline year, the 10x Uttar Pradesh year and (``--big``) the 100x-demand year (helpline off): wall time,
bookings, bookings/s, the ratio of bookings/s to bare SimPy customers/s, helpline calls and
peak RSS.  Each scenario runs in its own child process, so its peak RSS is its own.

Targets (issue 13): baseline <= 3 s and <= 400 MB; 10x <= 60 s, <= 1.5 GB and a ratio >= 5 %;
100x demand at 10x workers <= 10 min and <= 3 GB.  Timings on a shared machine are noisy:
compare ratios, and repeat (``--repeat``).

Usage: python bench/bench_scale.py [--big] [--repeat N] [--only baseline,10x] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import simpy

ROOT = Path(__file__).resolve().parent.parent
UP10 = ["demand.scale=10", "workforce.registered=523490"]
SCENARIOS: dict[str, tuple[list[str], str]] = {  # name -> (overrides, target)
    "baseline": ([], "<= 3 s, <= 400 MB"),
    "10x": (UP10, "<= 60 s, <= 1500 MB, ratio >= 5%"),
    # Helpline off: at 100x demand the statewide call centre would face ~160 M calls a year,
    # a different study (bench_helpline.py); this one is about the booking lifecycle.
    "100x": (["demand.scale=100", "workforce.registered=523490", "helpline.enabled=false"], "<= 600 s, <= 3000 MB"),
}


def bare_simpy(customers: int = 200_000, servers: int = 50, rho: float = 0.9, seed: int = 1) -> float:
    """Customers per CPU second of a process-per-customer M/M/c SimPy model (no records kept)."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / (rho * servers), customers).tolist()
    serv = rng.exponential(1.0, customers).tolist()
    env = simpy.Environment()
    desk = simpy.Resource(env, capacity=servers)

    def customer(s: float):
        with desk.request() as req:
            yield req
            yield env.timeout(s)

    def source():
        for g, s in zip(gaps, serv, strict=True):
            yield env.timeout(g)
            env.process(customer(s))

    env.process(source())
    t0 = time.process_time()
    env.run()
    return customers / (time.process_time() - t0)


def child(overrides: list[str], seed: int, again: bool = False) -> None:
    """Run one scenario year in this process and print its figures as JSON.

    The imports (pandas, scipy, numba: ~1 CPU s, ~200 MB, once per process) are timed apart
    from the run; their memory is in the peak RSS.  The first run also pays numba's one-time
    set-up (~0.5 CPU s when it loads its first compiled function); with ``again`` the same
    run is repeated in the process and timed too (``again_cpu_s``: what each further run of a
    study costs, e.g. the planner's hundreds).
    """
    c_imp = time.process_time()
    import sim
    from sim.runner import run_one

    sc = sim.load_scenario("baseline", overrides)
    imports = time.process_time() - c_imp
    t0, c0 = time.perf_counter(), time.process_time()
    res = run_one(sc, seed=seed)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    s = res.summary
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before a second run adds to the heap
    out = {"wall_s": wall, "cpu_s": cpu, "import_cpu_s": imports, "bookings": s["bookings"],
           "calls": s.get("helpline", {}).get("calls", 0), "peak_mb": peak}
    if again:
        del res
        c1 = time.process_time()
        run_one(sc, seed=seed)
        out["again_cpu_s"] = time.process_time() - c1
    print(json.dumps(out))


def run_child(overrides: list[str], seed: int, again: bool = False) -> dict:
    """One scenario in a fresh interpreter (clean peak RSS); ``again``: time a second run too."""
    cmd = [sys.executable, __file__, "--child", "--seed", str(seed)] + [f"--set={o}" for o in overrides]
    cmd += ["--again"] if again else []
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise SystemExit(f"child {overrides} failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--big", action="store_true", help="also run the 100x-demand year")
    ap.add_argument("--only", default="", help="comma-separated subset of: " + ",".join(SCENARIOS))
    ap.add_argument("--repeat", type=int, default=1, help="runs per scenario (the best is reported)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="extra override for every run")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--again", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.overrides, args.seed, args.again)
        return
    names = [n for n in SCENARIOS if n != "100x" or args.big]
    if args.only:
        names = [n for n in args.only.split(",") if n in SCENARIOS]
    bare = max(bare_simpy() for _ in range(max(args.repeat, 1)))
    print(f"bare SimPy M/M/50, process per customer: {bare:,.0f} customers per CPU second")
    print("rates and the ratio are per CPU second (the machine is shared: wall time counts other jobs too)")
    print("CPU s: the run (sim.run), without the imports (import s, once per process)")
    print(f"{'scenario':10} {'wall s':>8} {'CPU s':>7} {'import s':>8} {'bookings':>10} {'bookings/s':>11} "
          f"{'ratio':>7} {'calls':>11} {'peak MB':>8}  target")
    for name in names:
        overrides, target = SCENARIOS[name]
        # the baseline also times a second run in the same process (cheap; shows the one-time set-up)
        runs = [run_child(overrides + args.overrides, args.seed, again=name == "baseline")
                for _ in range(max(args.repeat, 1))]
        best = min(runs, key=lambda r: r["cpu_s"])
        rate = best["bookings"] / best["cpu_s"]
        cpus = "/".join(f"{r['cpu_s']:.1f}" for r in runs)
        print(f"{name:10} {best['wall_s']:8.1f} {best['cpu_s']:7.1f} {best['import_cpu_s']:8.1f} "
              f"{best['bookings']:10,} {rate:11,.0f} "
              f"{rate / bare:7.2%} {best['calls']:11,} {max(r['peak_mb'] for r in runs):8.0f}  {target}"
              + (f"  (CPU s {cpus})" if len(runs) > 1 else "")
              + (f"  [a second run in the same process: {min(r['again_cpu_s'] for r in runs):.1f} CPU s]"
                 if "again_cpu_s" in best else ""))
    print("timings on a shared machine are noisy: compare ratios measured in the same run, and repeat")


if __name__ == "__main__":
    main()
