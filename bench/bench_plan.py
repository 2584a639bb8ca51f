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
import resource
import time

from sim.plan_file import parse_plan, resolve_plan
from sim.planner import PlanSettings, plan, plan_district, rate_per_year, recheck
from sim.planner_decision import parse_targets
from sim.planner_search import Replications


def _cell(c: dict) -> str:
    return (f"{c['fulfilment']:.3f} [{c['fulfilment_ci_lo']:.3f}, {c['fulfilment_ci_hi']:.3f}] "
            f"p90 {c['p90_wait_min']:5.1f} (<= {c['p90_wait_ci_hi']:6.1f})")


def fresh_check(sc, k: str, g: float, n: int, days: float, targets, seed: int, fresh: int) -> dict:
    """``sim.planner.recheck`` of a Lucknow cell, with the acceptance checks.

    ``mean_ok``: the answer's fresh means inside the targets; ``fewer_ok``: one fewer does
    not meet them with confidence (its fresh verdict is not "pass").
    """
    out: dict = recheck(sc, "Lucknow", k, g, n, days, targets, seed, fresh)
    out["mean_ok"] = all(t.met(out[n][1]) for t in targets)
    out["fewer_ok"] = n - 1 not in out or out[n - 1][0] != "pass"
    return out


def lucknow(services: list[str], target: str, seed: int, fresh: int, reps: Replications, confirm: int = 0) -> int:
    """Plan x1, x2, x4 in Lucknow and check each answer with ``fresh`` new seeds; 0 if all hold.

    "Meets the targets" (the planner's test): every target's 95% CI over replications lies
    inside the target.  "One fewer does not meet them with confidence": one fewer worker
    does not pass that same test on the fresh seeds (``tie``: a CI straddles a target;
    ``fail``: one lies outside it).  "Meets its target on fresh seeds": the fresh means
    (fulfilment; the p90 wait pooled over replications) are inside the targets.  With
    ``confirm``, a cell failing a check is re-simulated with that many other fresh seeds
    (printed beside the first check, which still decides the verdict).
    """
    targets = parse_targets(target)
    ps = PlanSettings(targets, reps=reps, seed=seed)
    raw = {"name": "lucknow", "changes": [{"date": "2025-07-01", "demand_growth": 1.0, "districts": ["Lucknow"],
                                           "services": services}]}
    rp = resolve_plan(parse_plan(raw))
    ok, last = True, {s: 0 for s in services}
    print(f"targets {target}; plan seed {seed}, {reps}; fresh seed {seed + 1000} ({fresh} replications)")
    print("demand service      bookings/yr answer (reps) | fresh at answer: fulfilment [95% CI] p90 (CI hi) verdict"
          " | at answer-1 | mean inside, answer-1 not confident, monotone")
    for g in (1.0, 2.0, 4.0):
        cells = [c.__class__(c.district, c.category, g) for c in rp.cells]
        t0 = time.process_time()
        rows = plan_district(rp.setting, rp.today, "Lucknow", cells, ps)
        cpu = time.process_time() - t0
        for row in rows:
            k, n = row["category"], row["active_needed"]
            ch = fresh_check(rp.setting, k, g, n, row["days"], targets, seed + 1000, fresh)
            mono = n >= last[k]
            ok &= ch["mean_ok"] and ch["fewer_ok"] and mono
            last[k] = n
            v, c = ch[n]
            line = (f"x{g:<5g} {k:<12} {rate_per_year(rp.setting, 'Lucknow', k) * g:7.1f}  {n:4d} ({row['reps']:2d}) | "
                    f"{_cell(c)} {v:<4}")
            if n - 1 in ch:
                v1, c1 = ch[n - 1]
                line += f" | {n - 1:3d}: {_cell(c1)} {v1:<4}"
            held = " HELD" if row["held_by_lower_demand"] else ""
            print(line + f" | {'PASS' if ch['mean_ok'] else 'FAIL'} {'PASS' if ch['fewer_ok'] else 'FAIL'} "
                         f"{'PASS' if mono else 'FAIL'}{held}", flush=True)
            print(f"{'':27}plan ({row['reps']} reps): {row['fulfilment_ci_lo']:.3f}..{row['fulfilment_ci_hi']:.3f}"
                  f" | {n - 1}: {row['fewer_fulfilment_ci_lo']:.3f}..{row['fewer_fulfilment_ci_hi']:.3f}")
            if confirm and not (ch["mean_ok"] and ch["fewer_ok"]):  # a second opinion, reported beside the first
                more = fresh_check(rp.setting, k, g, n, row["days"], targets, seed + 2000, confirm)
                print(f"{'':27}with {confirm} other fresh seeds: {_cell(more[n][1])} {more[n][0]}"
                      + (f" | {n - 1}: {_cell(more[n - 1][1])} {more[n - 1][0]}" if n - 1 in more else "")
                      + f" | {'PASS' if more['mean_ok'] else 'FAIL'} {'PASS' if more['fewer_ok'] else 'FAIL'}",
                      flush=True)
        print(f"   planned x{g:g} in {cpu:.1f} CPU s (this process)", flush=True)
    print("ALL HOLD" if ok else "SOME CHECK FAILED")
    return 0 if ok else 1


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (the planner's process pool) [s]."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def time_plan(path: str, cores: int, dask: str | None) -> None:
    """Plan a plan file and print its wall and CPU time (with a Dask cluster, its CPU is not counted)."""
    from sim.plan_file import load_plan

    pf = load_plan(path)
    rp = resolve_plan(pf)
    ps = PlanSettings(parse_targets(pf.target or "fulfilment>=0.8,p90_wait_min<=60"), seed=rp.setting.seed)
    t0, c0 = time.perf_counter(), cpu_seconds()
    res = plan(rp, ps, cores=cores, dask=dask)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    w = res.workers
    print(f"{path}: {len(w)} cells in {w['district'].nunique()} districts planned in {wall:.1f} s wall, "
          f"{cpu:.1f} CPU s (cores {cores}{', dask ' + dask if dask else ''}); active needed "
          f"{int(w['active_needed'].sum())}, extra {int(w['extra_active_to_recruit'].sum())}, held "
          f"{int(w['held_by_lower_demand'].sum())}")


def main() -> int:
    """Command line of the bench script."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    lk = sub.add_parser("lucknow")
    lk.add_argument("--services", default="electrician,plumber,ac_repair")
    lk.add_argument("--target", default="fulfilment>=0.8,p90_wait_min<=60")
    lk.add_argument("--seed", type=int, default=20250630)
    lk.add_argument("--fresh", type=int, default=10)
    lk.add_argument("--confirm", type=int, default=0, help="re-check failing cells with this many other seeds")
    lk.add_argument("--reps", type=int, default=4, help="replications of a probe before its first decision")
    lk.add_argument("--max-reps", type=int, default=Replications.most)
    lk.add_argument("--boundary-reps", type=int, default=Replications.boundary)
    lk.add_argument("--resolution", type=float, default=Replications.resolution)
    tp = sub.add_parser("time")
    tp.add_argument("plan")
    tp.add_argument("--cores", type=int, default=2)
    tp.add_argument("--dask")
    a = p.parse_args()
    if a.what == "lucknow":
        rr = Replications(a.reps, a.reps, a.max_reps, a.boundary_reps, a.resolution)
        return lucknow(a.services.split(","), a.target, a.seed, a.fresh, rr, a.confirm)
    time_plan(a.plan, a.cores, a.dask)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
