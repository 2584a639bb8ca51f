"""Planner acceptance figures: Lucknow at demand x1, x2, x4 checked with fresh seeds; plan timings.

    python bench/bench_plan.py lucknow [--services electrician,plumber] [--cores 2]
    python bench/bench_plan.py time PLAN.yaml [--cores 2] [--dask ADDRESS]

``lucknow`` plans the services in Lucknow at x1, x2 and x4 (one plan each, the same seed),
then re-simulates every answer and one worker fewer with 10 fresh seeds and prints the
fulfilment and p90 wait with their 95% CIs: the answers must be non-decreasing, the answer
must meet the target on the fresh seeds (mean inside the target) and one fewer must not
meet it with confidence.  ``time`` plans a plan file and prints the wall time.  Prints
figures only (never a timed test); the machine may be shared, so repeat and compare.
"""

from __future__ import annotations

import argparse
import time

from sim.plan_file import parse_plan, resolve_plan
from sim.planner import (
    PlanSettings,
    evaluate_counts,
    kpi_columns,
    plan,
    plan_district,
    planning_scenario,
    rate_per_year,
)
from sim.planner_search import Replications, decide, parse_targets, stack


def _cell(c: dict) -> str:
    return (f"{c['fulfilment']:.3f} [{c['fulfilment_ci_lo']:.3f}, {c['fulfilment_ci_hi']:.3f}] "
            f"p90 {c['p90_wait_min']:.1f} (<= {c['p90_wait_ci_hi']:.1f}) min")


def lucknow(services: list[str], target: str, seed: int, fresh: int, reps: Replications) -> int:
    """Plan x1, x2, x4 in Lucknow and check each answer with ``fresh`` new seeds; 0 if all hold."""
    targets = parse_targets(target)
    ps = PlanSettings(targets, reps=reps, seed=seed)
    raw = {"name": "lucknow", "changes": [{"date": "2025-07-01", "demand_growth": 1.0, "districts": ["Lucknow"],
                                           "services": services}]}
    rp = resolve_plan(parse_plan(raw))
    ok, last = True, {s: 0 for s in services}
    print(f"targets {target}; plan seed {seed}, replications {reps}; fresh seed {seed + 1000} ({fresh} replications)")
    for g in (1.0, 2.0, 4.0):
        cells = [c.__class__(c.district, c.category, g) for c in rp.cells]
        t0 = time.perf_counter()
        rows = plan_district(rp.setting, rp.today, "Lucknow", cells, ps)
        wall = time.perf_counter() - t0
        for row in rows:
            k, n = row["category"], row["active_needed"]
            sp = planning_scenario(rp.setting, "Lucknow", {k: g}, row["days"], 0.0)
            check = {}
            for m in (n, n - 1):
                if m < 1:
                    continue
                reps = evaluate_counts(sp, "Lucknow", {k: m}, seed + 1000, range(fresh))
                kp = stack([r[k] for r in reps])
                check[m] = (decide(kp, targets), kpi_columns("", kp))
            v, c = check[n]
            mean_ok = all(t.met(c) for t in targets)
            fewer_ok = n - 1 not in check or check[n - 1][0] != "pass"
            mono = n >= last[k]
            ok &= mean_ok and fewer_ok and mono
            last[k] = n
            line = (f"x{g:g} {k:<12} {rate_per_year(rp.setting, 'Lucknow', k) * g:7.1f} bookings/yr  "
                    f"answer {n:4d} (plan: {row['fulfilment_ci_lo']:.3f}..{row['fulfilment_ci_hi']:.3f})  "
                    f"fresh: fulfilment {_cell(c)} ({v})")
            if n - 1 in check:
                v1, c1 = check[n - 1]
                line += f" | {n - 1}: fulfilment {_cell(c1)} ({v1})"
            print(line + f"  mean inside {mean_ok}, one fewer not confident {fewer_ok}, monotone {mono}")
        print(f"   planned x{g:g} in {wall:.1f} s", flush=True)
    print("ALL HOLD" if ok else "SOME CHECK FAILED")
    return 0 if ok else 1


def time_plan(path: str, cores: int, dask: str | None) -> None:
    """Plan a plan file and print its wall time and answer totals."""
    from sim.plan_file import load_plan

    pf = load_plan(path)
    rp = resolve_plan(pf)
    ps = PlanSettings(parse_targets(pf.target or "fulfilment>=0.8,p90_wait_min<=60"), seed=rp.setting.seed)
    t0 = time.perf_counter()
    res = plan(rp, ps, cores=cores, dask=dask)
    wall = time.perf_counter() - t0
    w = res.workers
    print(f"{path}: {len(w)} cells in {w['district'].nunique()} districts planned in {wall:.1f} s "
          f"(cores {cores}{', dask ' + dask if dask else ''}); active needed {int(w['active_needed'].sum())}, "
          f"extra {int(w['extra_active_to_recruit'].sum())}")


def main() -> int:
    """Command line of the bench script."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    lk = sub.add_parser("lucknow")
    lk.add_argument("--services", default="electrician,plumber")
    lk.add_argument("--target", default="fulfilment>=0.8,p90_wait_min<=60")
    lk.add_argument("--seed", type=int, default=20250630)
    lk.add_argument("--fresh", type=int, default=10)
    lk.add_argument("--reps", type=int, default=4, help="replications of a probe before its first decision")
    lk.add_argument("--max-reps", type=int, default=20)
    tp = sub.add_parser("time")
    tp.add_argument("plan")
    tp.add_argument("--cores", type=int, default=2)
    tp.add_argument("--dask")
    a = p.parse_args()
    if a.what == "lucknow":
        return lucknow(a.services.split(","), a.target, a.seed, a.fresh, Replications(a.reps, a.reps, a.max_reps))
    time_plan(a.plan, a.cores, a.dask)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
