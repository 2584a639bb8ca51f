"""Benchmark: one million calls through an M/M/c helpline (c = 50, occupancy 0.9).

Times, in one run on the same parameters, the twin's FCFS engine, a bare SimPy ``Resource``
model and Ciw; prints the ratios and the engine's peak memory.  Also times one simulated
year of the baseline helpline (about a million calls) and, with ``--full-baseline``, the
whole baseline year with the helpline on.

Targets (issue 3): engine <= 1.5x bare SimPy time, >= 2x faster than Ciw, < 200 MB for the
million calls; baseline year with the helpline < 15 s.

    .venv/bin/python bench/bench_helpline.py [--calls 1000000] [--compare-calls N] [--full-baseline]

``--compare-calls`` runs SimPy and Ciw on fewer calls (per-call times are compared) when
the full million would take too long on a shared machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.helpline.erlang import erlang_c_kpis  # noqa: E402
from sim.helpline.queue import serve_constant  # noqa: E402
from sim.seeds import Streams  # noqa: E402

AGENTS, OCC, AHT = 50, 0.9, 180.0
LAM = OCC * AGENTS / AHT  # [calls/s]


def draws(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    s = Streams(seed)
    arrive = np.cumsum(s["helpline_arrivals"].exponential(1 / LAM, n))
    return arrive, s["helpline_service"].exponential(AHT, n)


def run_engine(n: int) -> tuple[float, float, float]:
    """(seconds, mean wait [s], peak traced memory [MB]), draws included in both.

    Timed without tracing (tracemalloc slows every allocation), then run again traced.
    """
    gc.collect()
    t0 = time.perf_counter()
    wait, _ = serve_constant(*draws(n), None, AGENTS)
    dt_s = time.perf_counter() - t0
    del wait
    gc.collect()
    tracemalloc.start()
    wait, _ = serve_constant(*draws(n), None, AGENTS)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return dt_s, float(wait.mean()), peak


def peak_rss_mb() -> float:
    """This process's peak RSS [MB] (VmHWM: unlike ru_maxrss, not inherited through exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_probe(n: int) -> None:
    """Child process: whole-process peak RSS of drawing and serving ``n`` calls."""
    before = peak_rss_mb()
    serve_constant(*draws(n), None, AGENTS)
    print(f"{before:.0f} {peak_rss_mb():.0f}")


def run_simpy(n: int) -> tuple[float, float]:
    """Bare SimPy: a source process and one process per call on a ``Resource``."""
    import simpy

    arrive, handle = draws(n)
    arr, hnd = arrive.tolist(), handle.tolist()
    waits = [0.0] * n
    t0 = time.perf_counter()
    env = simpy.Environment()
    desk = simpy.Resource(env, capacity=AGENTS)

    def call(i: int):
        t = env.now
        with desk.request() as req:
            yield req
            waits[i] = env.now - t
            yield env.timeout(hnd[i])

    def source():
        for i in range(n):
            yield env.timeout(arr[i] - env.now)
            env.process(call(i))

    env.process(source())
    env.run()
    return time.perf_counter() - t0, float(np.mean(waits))


def run_ciw(n: int) -> tuple[float, float]:
    """Ciw M/M/50 until ``n`` customers have finished."""
    import ciw

    net = ciw.create_network(arrival_distributions=[ciw.dists.Exponential(rate=LAM)],
                             service_distributions=[ciw.dists.Exponential(rate=1 / AHT)],
                             number_of_servers=[AGENTS])
    ciw.seed(1)  # Ciw only has a global seed; this is a benchmark, not the twin
    t0 = time.perf_counter()
    q = ciw.Simulation(net)
    q.simulate_until_max_customers(n, method="Finish")
    elapsed = time.perf_counter() - t0
    recs = q.get_all_records()
    return elapsed, float(np.mean([r.waiting_time for r in recs]))


def baseline_year(full: bool) -> None:
    from sim.calendar import Calendar
    from sim.config import load_scenario
    from sim.helpline.engine import simulate_helpline

    sc = load_scenario("baseline")
    t0 = time.perf_counter()
    r = simulate_helpline(sc.helpline, Streams(sc.seed), sc.horizon_min, Calendar(sc.start_date))
    print(f"baseline helpline, one year: {r.summary['calls']:,} calls in {time.perf_counter() - t0:.2f} s "
          f"(target < 15 s); SL {r.summary['service_level']:.3f}, abandon {r.summary['abandon_rate']:.3f}")
    if full:
        from sim.runner import run_one

        t0 = time.perf_counter()
        res = run_one(sc)
        print(f"baseline whole model with the helpline, one year: {time.perf_counter() - t0:.2f} s "
              f"({getattr(res, 'summary', {}).get('bookings', '?')} bookings)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--compare-calls", type=int, default=None, help="calls for SimPy and Ciw (default --calls)")
    ap.add_argument("--no-ciw", action="store_true")
    ap.add_argument("--full-baseline", action="store_true")
    ap.add_argument("--rss-probe", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.rss_probe:
        return rss_probe(a.rss_probe)
    m = a.compare_calls or a.calls
    an = erlang_c_kpis(LAM, AHT, AGENTS)
    print(f"M/M/{AGENTS}, occupancy {OCC}, AHT {AHT:g} s; Erlang C mean wait {an.mean_wait_s:.2f} s "
          f"({dt.datetime.now():%Y-%m-%d %H:%M})")
    te, we, peak = run_engine(a.calls)
    probe = subprocess.run([sys.executable, __file__, "--rss-probe", str(a.calls)], capture_output=True,
                           text=True, check=True).stdout.split()
    print(f"engine: {a.calls:,} calls {te:.2f} s ({te / a.calls * 1e6:.2f} us/call), mean wait {we:.2f} s, "
          f"peak traced memory {peak:.0f} MB (target < 200); fresh process max RSS {probe[0]} MB "
          f"after imports, {probe[1]} MB after the calls")
    per_e = te / a.calls
    ts, ws = run_simpy(m)
    print(f"bare SimPy: {m:,} calls {ts:.2f} s ({ts / m * 1e6:.2f} us/call), mean wait {ws:.2f} s; "
          f"engine/SimPy time ratio {per_e / (ts / m):.3f} (target <= 1.5)")
    if not a.no_ciw:
        tc, wc = run_ciw(m)
        print(f"Ciw: {m:,} calls {tc:.2f} s ({tc / m * 1e6:.2f} us/call), mean wait {wc:.2f} s; "
              f"Ciw/engine time ratio {(tc / m) / per_e:.1f} (target >= 2)")
    baseline_year(a.full_baseline)


if __name__ == "__main__":
    main()
