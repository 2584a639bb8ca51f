"""``run_sim.py twin-check``: whether the live deployment did with a replayed trace what the twin predicted.

Exit status: 0 when live and twin agree within the printed tolerances, 1 when they do not
(a configuration mismatch or an incomplete replay is reported first and also gives 1), 2 on
bad input (missing files, unreachable deployment, refused token).  See ``load.twincheck``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd

from load.profile import load_profile
from load.setup import check_loopback, client, preflight
from load.twincheck import (
    JUDGED,
    compare,
    config_mismatches,
    deployment_config,
    incomplete,
    live_state,
    parse_tolerances,
    plot,
    read_replay_log,
    same_worker,
    trace_config,
    twin_bookings,
)
from sim.trace import read_trace


def add_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """Options of ``twin-check``."""
    p.add_argument("--trace", required=True, help="the replayed trace [parquet]")
    p.add_argument("--service-url", required=True, help="base URL of the deployment (loopback)")
    p.add_argument("--locust-csv", required=True, help="Locust --csv prefix of the replay (its booking log)")
    p.add_argument("--profile", default="reference", help="target profile: name in load/profiles/ or YAML path")
    p.add_argument("--out", default="twin-check", help="folder for twin_check.csv and twin_check.png")
    p.add_argument("--tolerance", action="append", default=[], metavar="METRIC=ABS:REL",
                   help=f"allowed |live-twin| = max(ABS, REL*twin) for {', '.join(JUDGED)}; "
                        "same_worker=SHARE for the least same-worker share (repeatable)")
    p.add_argument("--admin-token", default=os.environ.get("SEWAMITRA_ADMIN_TOKEN", ""),
                   help="admin token of the deployment (default $SEWAMITRA_ADMIN_TOKEN)")
    p.add_argument("--allow-remote-host", action="store_true", help="allow a non-loopback --service-url")


def run(args: argparse.Namespace, command: str) -> int:
    """Check configuration, completeness and agreement; write the table and plot; print the verdict."""
    prof = load_profile(args.profile)
    tol, same_min = parse_tolerances(args.tolerance)
    trace, meta = read_trace(args.trace)
    check_loopback(args.service_url, args.allow_remote_host)
    log, workers, summary = read_replay_log(args.locust_csv)
    token = args.admin_token or None
    with client(args.service_url, 30.0) as c:
        preflight(c, prof, token)
        live_cfg, why_unknown = deployment_config(c, prof, token)
        state = live_state(c if prof.live_state == "endpoint" else None, prof, log, workers, token)
    book = twin_bookings(trace).merge(state, on="booking_ref", how="left")
    book["live_offered"] = book["live_offered"].fillna(False).astype(bool)
    book["live_accepted"] = book["live_accepted"].fillna(False).astype(bool)

    problems = []
    if why_unknown:
        print(f"configuration unknown: {why_unknown} (cannot check policy, radius, scenario, seed)")
    else:
        bad, unknown = config_mismatches(live_cfg, trace_config(meta, summary.get("speedup")))
        for b in bad:
            print(f"CONFIGURATION MISMATCH: {b}")
        if unknown:
            print(f"configuration not compared (unknown on one side): {', '.join(unknown)}")
        problems += [f"configuration mismatch ({len(bad)} settings)"] if bad else []
    gaps = incomplete(summary, book)
    for g in gaps:
        print(f"INCOMPLETE REPLAY: {g}")
    problems += ["incomplete replay"] if gaps else []

    table = compare(book, tol)
    sw = same_worker(book)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "twin_check.csv", index=False)
    pd.DataFrame([sw]).to_csv(out / "twin_check_summary.csv", index=False)
    plot(table, out / "twin_check.png")
    print(table[table["district"] == "ALL"].drop(columns="district").to_string(index=False))
    off = table[~table["ok"]]
    for r in off.itertuples(index=False):
        print(f"disagree: {r.district} {r.metric}: twin {r.twin}, live {r.live} (tolerance {r.tolerance})")
    problems += [f"{len(off)} counts outside tolerance"] if len(off) else []
    share = sw["share_of_both_assigned"]
    print(f"same worker live and in the twin: {sw['same_worker']} of {sw['both_assigned']} assigned by both "
          f"({share:.1%}; least {same_min:.0%}); twin assigned {sw['twin_assigned']}")
    if sw["both_assigned"] and share < same_min:
        problems.append(f"same-worker share {share:.1%} < {same_min:.0%}")
    if summary.get("lag"):
        lag = summary["lag"]
        print(f"replay: schedule lag p50 {lag['p50_ms']:.1f} ms, p99 {lag['p99_ms']:.1f} ms; "
              f"steps skipped (live state differed) {summary.get('skipped') or 'none'}; "
              f"divergences {summary.get('diverged') or 'none'}")
    print(f"written: {out / 'twin_check.csv'}, {out / 'twin_check.png'}")
    if problems:
        print(f"verdict: DISAGREE - {'; '.join(problems)}")
        return 1
    print("verdict: AGREE - live and twin agree within the tolerances above")
    return 0
