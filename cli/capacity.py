"""``run_sim.py capacity``: how many times today's busiest hour a deployment holds within its SLOs.

Simulates the scenario, takes its busiest hour, and replays it (Locust, open model, one
subprocess per step) at rising multiples of its real request rate until a service level
breaks, the time bound (``--max-minutes``) or the request bound (``--max-requests`` per
step) is reached.  Prints "holds N× today's busiest hour" and the first broken SLO, writes
``capacity.csv`` and ``capacity.png`` (latency and throughput against load).  Exit status 0
when it ran (whatever the headroom), 2 on bad input or a target it cannot set up.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from cli.args import add_scenario, scenario
from load.capacity import (
    base_rate,
    busiest_hour,
    hour_rows,
    parse_multiples,
    parse_slo,
    plan_step,
    plot,
    read_step,
    step_trace,
    window_requests,
)
from load.profile import load_profile
from load.setup import check_loopback, client, preflight
from load.slo import Observed, violations
from sim.errors import InputError
from sim.trace import build_trace, trace_meta, write_trace

ROOT = Path(__file__).resolve().parent.parent
STARTUP_S = 15.0  # a Locust process's start, preload and drain on top of the schedule [s]
LEAD_MIN_S, LEAD_RATE = 2.0, 100.0  # workers on shift go on duty before each window, ≤ 100/s [s, 1/s]
GAP_S = 2.0  # between the lead-in and the measured window: the lead-in's answers come back [s]


def add_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """Options of ``capacity``."""
    add_scenario(p)
    p.add_argument("--service-url", required=True, help="base URL of the deployment (loopback)")
    p.add_argument("--profile", default="reference", help="target profile: name in load/profiles/ or YAML path")
    p.add_argument("--slo", default="", metavar="p99_ms=…,fail_ratio=…,lag_p99_ms=…",
                   help="service levels (default p99_ms=2000,fail_ratio=0.01,lag_p99_ms=1000)")
    p.add_argument("--multiples", default="1,2,5,10,20,50,100,200,500,1000",
                   help="rising load levels to try [× the busiest hour's real request rate]")
    p.add_argument("--step-seconds", type=float, default=20.0, help="wall time each level is offered [s]")
    p.add_argument("--max-minutes", type=float, default=10.0, help="wall-time bound of the whole search [minutes]")
    p.add_argument("--max-requests", type=int, default=200_000, help="request bound of one step")
    p.add_argument("--out", default="capacity", help="folder for capacity.csv, capacity.png and step files")
    p.add_argument("--admin-token", default=os.environ.get("SEWAMITRA_ADMIN_TOKEN", ""),
                   help="admin token of the deployment (default $SEWAMITRA_ADMIN_TOKEN)")
    p.add_argument("--allow-remote-host", action="store_true", help="allow a non-loopback --service-url")


def _locust(args: argparse.Namespace, trace: Path, speedup: float, lead_s: float, run_s: float, csv: Path) -> int:
    """One step: Locust headless on the step's trace, measuring after the lead-in; its exit code (1 = SLO broke)."""
    lim = parse_slo(args.slo)
    cmd = [sys.executable, "-m", "locust", "-f", str(ROOT / "locustfile.py"), "--headless", "--host",
           args.service_url, "--trace", str(trace), "--profile", args.profile, "--speedup", f"{speedup:.6g}",
           "--run-time", f"{math.ceil(run_s)}s", "--csv", str(csv), "--drain", "2", "--measure-after", f"{lead_s:.3f}",
           "--max-fail-ratio", f"{lim.fail_ratio}", "--max-p99-ms", f"{lim.p99_ms}",
           "--max-lag-p99-ms", f"{lim.lag_p99_ms}", "--loglevel", "WARNING"]
    if args.allow_remote_host:
        cmd.append("--allow-remote-host")
    env = os.environ | {"SEWAMITRA_ADMIN_TOKEN": args.admin_token}
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=run_s + 60)
    if res.returncode not in (0, 1):
        err = [x for x in res.stderr.splitlines() if x.startswith("error: ")]
        raise InputError(err[-1].removeprefix("error: ") if err else f"locust exited {res.returncode}: "
                         f"{res.stderr.strip().splitlines()[-1] if res.stderr.strip() else ''}")
    return res.returncode


def run(args: argparse.Namespace, command: str) -> int:
    """Search the load multiples; write the table and plot; print the headroom."""
    limits = parse_slo(args.slo)
    multiples = parse_multiples(args.multiples)
    if not args.step_seconds > 0 or not args.max_minutes > 0 or args.max_requests < 1:
        raise InputError("--step-seconds, --max-minutes and --max-requests must be positive")
    check_loopback(args.service_url, args.allow_remote_host)
    prof = load_profile(args.profile)
    with client(args.service_url, 10.0) as c:  # a dead host or a refused token ends here, at once
        preflight(c, prof, args.admin_token or None)
    from sim.runner import run_one

    sc = scenario(args)
    res = run_one(sc)
    trace = build_trace(res.tables, sc.horizon_min)
    h0 = busiest_hour(trace)
    meta = trace_meta(sc, res.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    full = hour_rows(trace, h0, 60.0)
    base = base_rate(full, 60.0)
    day, hour = divmod(h0 / 60.0, 24)
    print(f"busiest hour: day {int(day) + 1}, {int(hour):02d}:00-{int(hour) + 1:02d}:00; "
          f"{int((full['action'] == 'create_booking').sum())} bookings, {base * 3600:,.0f} requests "
          f"({base:.2f} requests/s at today's load)")
    t_start = time.monotonic()
    rows, holds, broke, stopped, copy = [], None, None, "", 0
    for i, m in enumerate(multiples):
        step = plan_step(m, args.step_seconds)
        rows_i = hour_rows(trace, h0, step.window_min)
        n = window_requests(rows_i) * step.copies
        lead_s = max(LEAD_MIN_S, int((rows_i["t_min"] < 0).sum()) * step.copies / LEAD_RATE)
        tr = step_trace(rows_i, step.copies, copy, lead_s * step.speedup / 60.0, GAP_S * step.speedup / 60.0)
        lead_s += GAP_S
        copy += step.copies
        if n == 0:  # a window this short holds no request of the hour: nothing to measure
            print(f"  {m:>7g}×: the window ({step.window_min * 60:.0f} simulated s) sends nothing; next level")
            continue
        if n > args.max_requests:
            stopped = f"the next level ({m:g}×, {n:,} requests) exceeds --max-requests {args.max_requests:,}"
            break
        left = args.max_minutes * 60.0 - (time.monotonic() - t_start)
        if lead_s + step.wall_s + STARTUP_S > left:
            stopped = f"the next level ({m:g}×) would pass --max-minutes {args.max_minutes:g}"
            break
        path = write_trace(tr, out / f"step{i:02d}.parquet", meta | {"capacity_multiple": m})
        csv = out / f"step{i:02d}"
        code = _locust(args, path, step.speedup, lead_s, lead_s + step.wall_s + STARTUP_S, csv)
        got = read_step(str(csv))
        got["rps"] = got["requests"] / step.wall_s  # Locust's own rate counts from the reset, not the window
        bad = violations(Observed(int(got["requests"]), got["fail_ratio"], got["p99_ms"], got["lag_p99_ms"]),
                         limits)
        # What this level's window really sends: a short window can hold a shift change (a burst).
        offered = n / step.wall_s
        rows.append({"multiple": m, "copies": step.copies, "speedup": step.speedup, "offered_rps": offered,
                     **got, "locust_exit": code, "slo_broken": "; ".join(bad)})
        print(f"  {m:>7g}×: offered {offered:8.1f}/s served {got['rps']:8.1f}/s  p50 {got['p50_ms']:6.0f} ms  "
              f"p99 {got['p99_ms']:6.0f} ms  lag p99 {got['lag_p99_ms']:7.1f} ms  fail {got['fail_ratio']:.2%}"
              f"{'  SLO broken: ' + bad[0] if bad else ''}")
        if bad:
            broke = (m, bad[0])
            break
        holds = m
    if not rows:
        print("no level sent any request: raise --step-seconds or the --multiples")
        return 0
    table = pd.DataFrame(rows)
    table.to_csv(out / "capacity.csv", index=False)
    if len(table):
        plot(table, holds, out / "capacity.png")
    if holds is None:
        print(f"holds less than {multiples[0]:g}× today's busiest hour" + (f"; first broken SLO at {broke[0]:g}×: "
                                                                           f"{broke[1]}" if broke else ""))
    elif broke:
        print(f"holds {holds:g}× today's busiest hour; first broken SLO at {broke[0]:g}×: {broke[1]}")
    else:
        print(f"holds at least {holds:g}× today's busiest hour (no SLO broke; stopped: "
              f"{stopped or 'last level tried'})")
    print(f"written: {out / 'capacity.csv'}, {out / 'capacity.png'}")
    return 0
