"""How fast one Locust process replays a trace on time.

Runs a minimal keep-alive HTTP stub that answers like the API (pinned to CPU 1, so the
deployment's own speed does not count) and replays synthetic traces of worker status
updates at increasing request rates from this process (pinned to CPU 0) through Locust's
FastHttpSession and ``load.replay.Replayer``.  For each rate it prints the achieved rate,
schedule lag p50/p99/max and the generator's CPU per request; the answer is the highest
rate with lag p99 under 50 ms (target: at least 5,000 requests/s per core).

    .venv/bin/python bench/bench_load.py [--rates 1000,2000,...] [--seconds 5]
    .venv/bin/python bench/bench_load.py --preload 52349   # the preload's time on the reference deployment
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import sys
import time
from pathlib import Path

import locust  # noqa: F401  (first: gevent monkey-patching)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

LAG_TARGET_MS = 50.0
BODY = b'{"id":1,"district":"Lucknow","available":true,"lat":26.8,"lon":80.9,"active_booking_id":null}'
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


def serve(port: int, cpu: int | None) -> None:
    """A keep-alive HTTP/1.1 stub: every request gets the same small JSON (pinned to ``cpu``)."""
    import asyncio

    if hasattr(os, "sched_setaffinity") and cpu is not None:
        os.sched_setaffinity(0, {cpu})

    class Stub(asyncio.Protocol):
        def connection_made(self, transport):  # noqa: ANN001
            self.t = transport
            self.buf = b""

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while True:
                head, sep, rest = self.buf.partition(b"\r\n\r\n")
                if not sep:
                    return
                n = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        n = int(line[15:])
                if len(rest) < n:
                    return
                self.buf = rest[n:]
                self.t.write(RESPONSE)

    loop = asyncio.new_event_loop()
    srv = loop.run_until_complete(loop.create_server(Stub, "127.0.0.1", port, backlog=1024))
    try:
        loop.run_forever()
    finally:
        srv.close()


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_trace(rate: float, seconds: float, workers: int = 2000) -> pd.DataFrame:
    """Evenly spaced status updates of ``workers`` workers at ``rate`` requests/s (speedup 60)."""
    from sim.trace import COLUMNS

    n = int(rate * seconds)
    df = pd.DataFrame({
        "seq": np.arange(n), "t_min": np.arange(n) / rate,  # speedup 60: a simulated minute per second
        "actor": "worker", "action": "status", "worker_ref": np.arange(n) % workers,
        "available": np.arange(n) % 2 == 0, "lat": 26.8, "lon": 80.9,
    })
    df = df.reindex(columns=list(COLUMNS))
    return df


def replay_once(url: str, rate: float, seconds: float) -> dict:
    """Replay one synthetic trace; lag, achieved rate and CPU [ms per request]."""
    from locust.env import Environment

    from load.actions import LiveIds
    from load.http import LeanSender
    from load.profile import load_profile
    from load.replay import Replayer
    from load.users import TraceReplayUser

    env = Environment(user_classes=[TraceReplayUser], host=url)
    env.create_local_runner()
    TraceReplayUser.host = url
    user = TraceReplayUser(env)
    tr = status_trace(rate, seconds)
    ids = LiveIds({i: i + 1 for i in range(2000)}, {i + 1: f"tok{i}" for i in range(2000)}, None, None)
    send = LeanSender(env.events.request.fire, url, user.concurrency)
    rep = Replayer(tr, ids, send, speedup=60.0, t0=time.time() + 0.5, prof=load_profile("reference"))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    rep.run()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0 - 0.5
    fails = env.stats.total.num_failures
    env.runner.quit()
    s = rep.lag.summary()
    return {"target_rps": rate, "sent": rep.sent, "achieved_rps": rep.sent / max(wall, 1e-9),
            "lag_p50_ms": s["p50_ms"], "lag_p99_ms": s["p99_ms"], "lag_max_ms": s["max_ms"],
            "cpu_ms_per_req": 1000 * cpu / max(rep.sent, 1), "cpu_share": cpu / max(wall, 1e-9), "failures": fails}


def preload_time(n: int, repeats: int) -> None:
    """Time the reference profile's preload of ``n`` workers into a fresh reference deployment (SQLite)."""
    import subprocess
    import tempfile

    import httpx

    from load.profile import load_profile
    from load.setup import preload
    from sim.trace import COLUMNS

    rng = np.random.default_rng(0)
    reg = pd.DataFrame({"seq": np.arange(n), "t_min": 0.0, "actor": "admin", "action": "register_worker",
                        "worker_ref": np.arange(n), "district": "Lucknow", "category": "plumber,electrician",
                        "lat": 26.8 + rng.normal(0, 0.05, n), "lon": 80.9 + rng.normal(0, 0.05, n),
                        "name": [f"Worker {i}" for i in range(n)], "phone": [f"9{i:09d}" for i in range(n)]})
    reg = reg.reindex(columns=list(COLUMNS))
    token = "bench-admin-token-0123456789"
    root = Path(__file__).resolve().parent.parent
    for rep in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            env = os.environ | {"SEWAMITRA_ADMIN_TOKEN": token}
            proc = subprocess.Popen([sys.executable, "-m", "service", "--port", str(port), "--db",
                                     f"sqlite:///{tmp}/svc.db", "--rate-limit", "0"], cwd=root, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            url = f"http://127.0.0.1:{port}"
            try:
                for _ in range(200):
                    try:
                        if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.1)
                t = time.perf_counter()
                ids = preload(url, reg, load_profile("reference"), token)
                took = time.perf_counter() - t
            finally:
                proc.terminate()
                proc.wait(10)
            print(f"preload {len(ids.worker_id):,} workers: {took:.2f} s ({len(ids.worker_id) / took:,.0f}/s), "
                  f"repeat {rep + 1} (target: 52,349 in <= 3 s)", flush=True)


def main() -> int:
    """Sweep the rates and print the table and the answer."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="1000,2000,3000,4000,5000,6000,8000")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--no-pin", action="store_true", help="do not pin generator and stub to CPUs 0 and 1")
    ap.add_argument("--preload", type=int, default=0, metavar="N",
                    help="instead: time the preload of N workers into the reference deployment (52349)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if args.preload:
        preload_time(args.preload, args.repeats)
        return 0
    port = free_port()
    ncpu = os.cpu_count() or 1
    srv = mp.get_context("spawn").Process(target=serve, args=(port, None if args.no_pin else 1 % ncpu), daemon=True)
    srv.start()
    if hasattr(os, "sched_setaffinity") and not args.no_pin:
        os.sched_setaffinity(0, {0})
    time.sleep(1.0)
    rows = []
    try:
        for r in (float(x) for x in args.rates.split(",")):
            rows.append(replay_once(f"http://127.0.0.1:{port}", r, args.seconds))
            print({k: round(v, 2) if isinstance(v, float) else v for k, v in rows[-1].items()}, flush=True)
    finally:
        srv.terminate()
        srv.join(5)
    df = pd.DataFrame(rows)
    print(df.round(2).to_string(index=False))
    ok = df[(df["lag_p99_ms"] < LAG_TARGET_MS) & (df["failures"] == 0)]
    best = float(ok["achieved_rps"].max()) if len(ok) else 0.0
    print(f"highest replayed rate with lag p99 < {LAG_TARGET_MS:.0f} ms: {best:,.0f} requests/s on one core "
          f"(target 5,000)")
    # What a core fully given to the generator could send, from the CPU each request cost.
    print(f"generator CPU per request: {df['cpu_ms_per_req'].median():.3f} ms "
          f"(= {1000 / df['cpu_ms_per_req'].median():,.0f} requests/s per fully available core)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
