"""Locust wiring: custom options, the preload and setup messages, lag reports, SLO exit code, shape.

Trace mode (``--trace FILE``): the master (or the single process) checks the target and
preloads the trace's workers as the target profile says (``--profile``) during ``init``, so a
dead host, a refused token or a refused preload ends the run at once (exit 2, one line); at
``test_start`` it picks a common start time and sends every worker process its partition
index with the live ids; each process runs one ``TraceReplayUser``.  Shape mode
(no ``--trace``): the scenario's booking-rate curve, compressed by ``--speedup``, sets the
number of actor users.  In both modes ``quitting`` turns the SLO checks into the exit code.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import gevent
import pandas as pd
from locust import LoadTestShape, events
from locust.runners import MasterRunner, WorkerRunner

from load import users
from load.profile import load_profile
from load.schedule import LagHistogram, merge_all
from load.setup import check_loopback, client, ids_from_message, ids_to_message, preflight, preload, start_time
from load.shape import curve_for_scenario
from load.slo import Limits, Observed, violations
from load.state import STATE
from sim.errors import InputError
from sim.trace import read_trace

log = logging.getLogger("sewamitra.load")
SETUP_MSG = "sewamitra_setup"




@events.init_command_line_parser.add_listener
def add_options(parser: Any) -> None:
    """The twin's options (also settable in ``locust.conf`` or ``LOCUST_*`` variables)."""
    g = parser.add_argument_group("Sewa Mitra twin")
    g.add_argument("--scenario", default="baseline", help="scenario whose load to offer (shape mode)")
    g.add_argument("--speedup", type=float, default=1440.0, help="simulated seconds per wall second")
    g.add_argument("--trace", default="", help="trace.parquet to replay (open model); empty = shape mode")
    g.add_argument("--days", type=float, default=None,
                   help="simulated days to play: the first days of the trace, or of the scenario curve "
                        "(default: all of the trace / the scenario's horizon)")
    g.add_argument("--pacing", type=float, default=10.0, help="wall seconds between bookings of one citizen")
    g.add_argument("--admin-token", default="", env_var="SEWAMITRA_ADMIN_TOKEN",
                   help="bearer token of the deployment's admin (preload, agents, re-reads)")
    g.add_argument("--drain", type=float, default=3.0, help="seconds to wait after the last trace request")
    g.add_argument("--replay-log", default="", help="CSV of live vs twin per booking (default: <csv>_replay.csv)")
    g.add_argument("--max-fail-ratio", type=float, default=0.01, help="SLO: largest failure ratio [0-1]")
    g.add_argument("--max-p99-ms", type=float, default=2000.0, help="SLO: largest p99 response time [ms]")
    g.add_argument("--max-lag-p99-ms", type=float, default=1000.0, help="SLO: largest p99 schedule lag [ms]")
    g.add_argument("--allow-remote-host", action="store_true", help="allow a non-loopback --host")
    g.add_argument("--measure-after", type=float, default=0.0,
                   help="reset statistics and lag this many wall seconds after the schedule starts "
                        "(single process; capacity steps measure their window, not the lead-in) [s]")
    # The target profile is Locust's own --profile (a label of the test run): load/profiles/NAME.yaml
    # or a YAML path, default "reference".


@events.init.add_listener
def on_init(environment: Any, **_: Any) -> None:
    """Refuse non-loopback targets; set up the replay or end the run at once (exit 2, one line)."""
    opts = environment.parsed_options
    if opts is None:
        return
    try:
        if environment.host:
            check_loopback(environment.host, opts.allow_remote_host)
        if opts.trace:
            STATE.profile = load_profile(opts.profile or "reference")
            master = not isinstance(environment.runner, WorkerRunner)
            if master:  # a dead host or a refused token is found before the trace is even read
                if not environment.host:
                    raise InputError("--host: a trace replay needs the deployment's URL")
                with client(environment.host, 10.0) as c:
                    preflight(c, STATE.profile, opts.admin_token or None)
            _load_trace(opts.trace, opts.days)
            if master:
                _preload(environment)
    except InputError as e:
        fail(str(e), forked=isinstance(environment.runner, MasterRunner))
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message(SETUP_MSG, _on_setup_message)


def fail(message: str, forked: bool = False) -> None:
    """End the whole run now with exit status 2 and one line (no traceback, no idle run time).

    A master first ends the worker processes ``--processes`` forked from it and reaps them,
    then leaves without Locust's exit handlers (which would wait for them again).
    """
    if forked:
        _end_forked_workers()
    print(f"error: {message}", file=sys.stderr, flush=True)
    if forked:
        sys.stdout.flush()
        os._exit(2)
    sys.exit(2)


def _end_forked_workers() -> None:
    """SIGTERM the worker processes ``--processes`` forked from this one (they shut down cleanly)."""
    import psutil

    kids = psutil.Process().children()
    for k in kids:
        k.terminate()
    _, alive = psutil.wait_procs(kids, timeout=3)
    for k in alive:  # one still busy in its own shutdown, talking to a master that is gone
        k.kill()
    psutil.wait_procs(alive, timeout=2)


def _preload(environment: Any) -> None:
    opts = environment.parsed_options
    t = time.perf_counter()
    assert STATE.trace is not None and STATE.profile is not None
    STATE.ids = preload(environment.host, STATE.trace, STATE.profile, opts.admin_token or None)
    log.info("preloaded %d workers in %.1f s", len(STATE.ids.worker_id), time.perf_counter() - t)


def _load_trace(path: str, days: float | None) -> None:
    STATE.trace, STATE.meta = read_trace(path)
    if days is not None:
        STATE.trace = STATE.trace[STATE.trace["t_min"] < days * 1440.0]


def _on_setup_message(msg: Any, **_: Any) -> None:
    STATE.ids, STATE.t0, STATE.part, STATE.parts = ids_from_message(msg.data)
    STATE.log_path = msg.data.get("log", "")
    if STATE.trace is None:  # a worker started without --trace reads the master's (same path)
        _load_trace(msg.data["trace"], msg.data.get("days"))
    STATE.ready.set()


@events.test_start.add_listener
def on_test_start(environment: Any, **_: Any) -> None:
    """Master / single process: fix the start time, hand out partitions and the live ids."""
    runner = environment.runner
    if STATE.ids is None or isinstance(runner, WorkerRunner) or STATE.t0 is not None:
        return
    opts = environment.parsed_options
    ids = STATE.ids
    # Time for worker processes to receive the ids (and read the trace) before the clock starts.
    STATE.t0 = start_time(1.0 + len(ids.worker_id) / 20_000)
    STATE.log_path = opts.replay_log or (f"{opts.csv_prefix}_replay.csv" if opts.csv_prefix else "")
    if isinstance(runner, MasterRunner):
        clients = sorted(c.id for c in runner.clients.ready + runner.clients.running + runner.clients.spawning)
        STATE.parts = len(clients)
        for i, cid in enumerate(clients):
            msg = ids_to_message(ids, STATE.t0, i, len(clients)) | {
                "log": STATE.log_path, "trace": str(Path(opts.trace).resolve()), "days": opts.days}
            runner.send_message(SETUP_MSG, msg, client_id=cid)
    else:
        STATE.part, STATE.parts = 0, 1
        if opts.measure_after > 0:
            gevent.spawn_later(max(0.0, STATE.t0 + opts.measure_after - time.time()), _reset_stats, environment)
    STATE.ready.set()


def _reset_stats(environment: Any) -> None:
    """Forget what was measured so far (Locust statistics and schedule lag)."""
    environment.stats.reset_all()
    for r in STATE.replayers:
        r.lag = LagHistogram.empty()
    log.info("statistics reset: measuring from now on")


@events.report_to_master.add_listener
def on_report(client_id: str, data: dict, **_: Any) -> None:
    """Worker → master: cumulative lag histogram and skip counts of this process."""
    data["sewamitra_lag"] = STATE.local_lag().to_dict()
    data["sewamitra_counts"] = _counts()


@events.worker_report.add_listener
def on_worker_report(client_id: str, data: dict, **_: Any) -> None:
    """Master: keep the latest cumulative report of each worker process."""
    if "sewamitra_lag" in data:
        STATE.node_lag[client_id] = data["sewamitra_lag"]
        STATE.node_counts[client_id] = data["sewamitra_counts"]


def _counts() -> dict[str, dict[str, int]]:
    """Replay counts of this process: skips, divergences, 2xx and failed answers by action, rows."""
    out: dict[str, dict[str, int]] = {k: {} for k in ("skipped", "diverged", "acked", "failed")}
    for r in STATE.replayers:
        for k in out:
            for name, v in getattr(r, k).items():
                out[k][name] = out[k].get(name, 0) + v
    out["rows"] = {"scheduled": sum(len(r.rows) for r in STATE.replayers),
                   "dispatched": sum(r.dispatched for r in STATE.replayers),
                   "requests": sum(r.sent for r in STATE.replayers)}
    return out


def all_lag() -> LagHistogram:
    """Lag over every process (master: from worker reports; otherwise local)."""
    hists = [LagHistogram.from_dict(d) for d in STATE.node_lag.values()]
    return merge_all([STATE.local_lag(), *hists])


@events.test_stop.add_listener
def on_test_stop(environment: Any, **_: Any) -> None:
    """Write the live-vs-twin booking log (one file per process when distributed) and the worker map."""
    path = STATE.log_path
    if STATE.ids is None or not path:
        return
    stem = path.removesuffix(".csv").removesuffix("_replay")
    if not isinstance(environment.runner, WorkerRunner):
        ids = STATE.ids.worker_id
        pd.DataFrame({"worker_ref": list(ids), "live_id": list(ids.values())}).to_csv(
            f"{stem}_workers.csv", index=False)
    if not STATE.replayers:
        return
    if isinstance(environment.runner, WorkerRunner):
        path = f"{path.removesuffix('.csv')}.part{STATE.part}.csv"
    ref_of = STATE.ids.worker_ref()
    pd.concat([r.booking_log(ref_of) for r in STATE.replayers]).to_csv(path, index=False)


@events.quitting.add_listener
def on_quitting(environment: Any, **_: Any) -> None:
    """Print the replay summary and set the exit code from the SLO checks."""
    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
        return
    opts = environment.parsed_options
    total = environment.stats.total
    lag = all_lag() if STATE.trace is not None else None
    obs = Observed(total.num_requests, total.fail_ratio, total.get_response_time_percentile(0.99) or 0.0,
                   lag.quantile(0.99) if lag is not None else None)
    lim = Limits(opts.max_fail_ratio, opts.max_p99_ms, opts.max_lag_p99_ms)
    if lag is not None:
        s = lag.summary()
        counts = [_counts(), *STATE.node_counts.values()]
        summed = {k: _sum_counts(c.get(k, {}) for c in counts)
                  for k in ("skipped", "diverged", "acked", "failed", "rows")}
        summed["rows"]["expected"] = len(STATE.rows_all())
        print(f"schedule lag: n={s['n']} p50={s['p50_ms']:.1f} ms p99={s['p99_ms']:.1f} ms "
              f"max={s['max_ms']:.1f} ms")
        print(f"replay: {summed['rows'].get('dispatched', 0)} of {summed['rows']['expected']} trace rows "
              f"dispatched; failed {summed['failed'] or '{}'}; skipped {summed['skipped'] or '{}'}; "
              f"diverged {summed['diverged'] or '{}'}")
        if STATE.log_path:  # read back by the twin check to explain disagreements
            Path(STATE.log_path.removesuffix(".csv") + "_summary.json").write_text(json.dumps(
                {"lag": s, "profile": STATE.profile.name if STATE.profile else None, "meta": STATE.meta,
                 "speedup": opts.speedup,
                 **summed}, indent=2, sort_keys=True, default=str))
    bad = violations(obs, lim)
    for v in bad:
        print(f"SLO failed: {v}")
    environment.process_exit_code = 1 if bad else (environment.process_exit_code or 0)


def _sum_counts(ds: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in ds:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


class SewaShape(LoadTestShape):
    """Trace mode: one replayer per process until the trace is done; shape mode: the scenario curve."""

    use_common_options = True  # so --run-time still bounds the test

    def __init__(self) -> None:
        super().__init__()
        self._curve = None

    def _processes(self) -> int:
        r = self.runner
        return max(1, r.worker_count) if isinstance(r, MasterRunner) else 1

    def tick(self) -> tuple | None:
        """``(users, spawn_rate, user_classes)`` now, or ``None`` to stop."""
        opts = self.runner.environment.parsed_options
        if opts.run_time and self.get_run_time() > opts.run_time:
            return None  # headless Locust only arms --run-time after a shape ends
        if STATE.trace is not None:
            if STATE.t0 is not None:
                end = STATE.t0 + STATE.duration_s(opts.speedup) + opts.drain
                if time.time() > end:
                    return None
            n = self._processes()
            return (n, float(n), [users.TraceReplayUser])
        if self._curve is None:
            self._curve = curve_for_scenario(opts.scenario, [], opts.speedup, opts.days, opts.pacing)
        t = self._curve.tick(self.get_run_time())
        if t is None:
            return None
        return (*t, [users.CitizenUser, users.WorkerUser, users.HelplineAgentUser])
