"""Benchmark: the reference deployment (``python -m service``) on the twin's mix and on bookings alone.

Two workloads under Locust's FastHttpUser, on SQLite and on PostgreSQL, with the server and
the load generator pinned to different cores (generator CPU is reported: a saturated
generator means the figure is the generator's):

* ``mixed``: the request mix of the twin's one-day statewide trace (``run_sim.py trace --days 1``:
  worker status updates, and bookings with their accept, start, complete, payment and rating),
  weights read from the trace;
* ``bookings``: ``POST /v1/bookings`` alone.

Phase 1 finds the maximum rate (no think time); phase 2 offers half of it (or ``--latency-rate``,
e.g. half the target) at a constant rate and reports latency there.  Server CPU per request is
printed too: on a shared machine it is the steadier figure (the rate a free core would reach is
about 1 / CPU per request); on PostgreSQL also the CPU of the backends serving the server's
connections (they share the machine's cores with the server).

Targets (issue 15), one server process: mixed >= 2,000 requests/s on SQLite and >= 1,000/s on
PostgreSQL, p99 < 50 ms at half that rate; bookings alone >= 2,000/s on SQLite.
Usage: python bench/bench_service.py [--db sqlite,postgres] [--mix mixed,bookings] [--seconds 10]
       [--users 64] [--workers 5000] [--trace trace.parquet] [--port P] [--profile PREFIX] [--latency-rate R]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ADMIN = "bench-admin-token-0123456789"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

LOCUSTFILE = '''
import itertools, json, os, random
from locust import FastHttpUser, constant, constant_throughput, task
D = json.load(open(os.environ["SVC_BENCH_DATA"]))
RATE = float(os.environ["SVC_BENCH_USER_RATE"])
RUN = os.environ["SVC_BENCH_RUN"]
MIX = os.environ["SVC_BENCH_MIX"]
N = itertools.count()
WTOK = dict(zip(D["worker_ids"], D["worker_tokens"]))

def auth(tok):
    return {"Authorization": "Bearer " + tok}

class User(FastHttpUser):
    wait_time = constant_throughput(RATE) if RATE > 0 else constant(0)

    def book(self, i):
        d, lat, lon, cat = D["jobs"][i % len(D["jobs"])]
        tok = D["citizens"][i % len(D["citizens"])]
        with self.client.post("/v1/bookings", name="create_booking", catch_response=True,
                              json={"category": cat, "district": d, "lat": lat, "lon": lon, "channel": "app"},
                              headers={**auth(tok), "Idempotency-Key": f"{RUN}-{i}"}) as r:
            return tok, D["prices"][cat], (r.json() if r.status_code == 201 else None)

    @task(int(D["weights"]["status"]) if MIX == "mixed" else 0)
    def status(self):
        i = next(N) % len(D["worker_ids"])
        lat, lon = D["worker_spots"][i]
        self.client.put(f"/v1/workers/{D['worker_ids'][i]}/status", name="status",
                        json={"available": random.random() < 0.9, "lat": lat, "lon": lon},
                        headers=auth(D["worker_tokens"][i]))

    @task(int(D["weights"]["create_booking"]) if MIX == "mixed" else 0)
    def booking_life(self):
        tok, price, b = self.book(next(N))
        if not b or b.get("status") != "offered":
            return
        bid, wt = b["id"], WTOK[b["worker_id"]]
        for step in ("accept", "start"):
            self.client.post(f"/v1/bookings/{bid}/{step}", name=step, headers=auth(wt))
        self.client.post(f"/v1/bookings/{bid}/payments", name="pay", json={"method": "cash", "amount_paise": price},
                         headers={**auth(tok), "Idempotency-Key": f"{RUN}-pay-{bid}"})
        self.client.post(f"/v1/bookings/{bid}/complete", name="complete", headers=auth(wt))
        if random.random() < 0.6:
            self.client.post(f"/v1/bookings/{bid}/rating", name="rate", json={"stars": 5}, headers=auth(tok))

    @task(1 if MIX == "bookings" else 0)
    def book_only(self):
        self.book(next(N))
'''


def pin(core: int):
    """A ``preexec_fn`` pinning the child to one core (if the machine has it)."""
    cores = sorted(os.sched_getaffinity(0))
    return lambda: os.sched_setaffinity(0, {cores[core % len(cores)]})


def cpu_s(pid: int, part: slice = slice(11, 13)) -> float:
    """CPU of a process and its live children so far [seconds] (from /proc): user + system, or ``part``."""
    with open(f"/proc/{pid}/stat") as fh:
        f = fh.read().rsplit(")", 1)[1].split()
    own = sum(int(x) for x in f[part]) / os.sysconf("SC_CLK_TCK")
    kids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as fh:
            kids += [int(k) for k in fh.read().split()]
    return own + sum(cpu_s(k, part) for k in kids)


SYSTEM = slice(12, 13)


def pg_backends_cpu(app: str) -> float:
    """CPU so far [seconds] of the PostgreSQL backends serving connections named ``app`` (from /proc)."""
    import psycopg

    with psycopg.connect("host=127.0.0.1 port=5432 dbname=test user=postgres", autocommit=True) as c:
        pids = [p for (p,) in c.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (app,))]
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += cpu_s(pid)
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: str, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "SEWAMITRA_ADMIN_TOKEN": ADMIN, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-m", "service", "--port", str(port), "--db", db, "--rate-limit", "0",
                          "--workers", str(workers)], cwd=ROOT, env=env, preexec_fn=pin(0),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return p
        except httpx.HTTPError:
            time.sleep(0.1)
    p.kill()
    raise SystemExit("server did not start")


def load_world(url: str, n_workers: int, n_citizens: int, seed: int) -> dict:
    """Bulk-register available workers around the district HQs; return citizens' tokens and jobs."""
    from service.reference import load_reference
    from sim.geography import load_districts
    from sim.seeds import Streams

    rng = Streams(seed)["places"]
    cats = sorted(load_reference().prices)
    ds = load_districts()
    h = {"Authorization": f"Bearer {ADMIN}"}

    def spot(i: int) -> tuple[str, float, float]:
        d = ds[i % len(ds)]
        return d.name, float(d.hq_lat + rng.normal(0, 0.04)), float(d.hq_lon + rng.normal(0, 0.04))

    with httpx.Client(base_url=url, timeout=300) as c:
        wids, wtoks, wspots = [], [], []
        for lo in range(0, n_workers, 5000):
            ws = []
            for i in range(lo, min(n_workers, lo + 5000)):
                d, lat, lon = spot(i)
                ws.append({"name": f"W{i}", "phone": "9800000000", "district": d, "lat": lat, "lon": lon,
                           "skills": [cats[i % len(cats)], cats[(i * 7 + 3) % len(cats)]][: 1 + i % 2]})
            r = c.post("/v1/admin/workers:bulk", json={"workers": ws, "available": True}, headers=h)
            r.raise_for_status()
            wids += r.json()["ids"]
            wtoks += r.json()["tokens"]
            wspots += [(w["lat"], w["lon"]) for w in ws]
        cz = []
        for i in range(n_citizens):
            d, lat, lon = spot(i)
            cz.append({"name": f"C{i}", "phone": "9811111111", "district": d, "lat": lat, "lon": lon})
        r = c.post("/v1/admin/citizens:bulk", json={"citizens": cz}, headers=h)
        r.raise_for_status()
    jobs = [(*spot(i), cats[int(rng.integers(len(cats)))]) for i in range(20_000)]
    return {"citizens": r.json()["tokens"], "jobs": jobs, "worker_ids": wids, "worker_tokens": wtoks,
            "worker_spots": wspots, "prices": load_reference().prices}


def trace_weights(path: str | None) -> dict[str, int]:
    """Requests per day by kind in the twin's one-day statewide trace (made if not given)."""
    from sim.trace import read_trace

    if path is None:
        path = str(Path(tempfile.gettempdir()) / "bench_service_trace.parquet")
        if not Path(path).exists():
            subprocess.run([sys.executable, "run_sim.py", "trace", "--days", "1", "--out", path], cwd=ROOT,
                           check=True, stdout=subprocess.DEVNULL)
    tr, _ = read_trace(path)
    n = tr["action"].value_counts()
    return {"status": int(n.get("status", 0)), "create_booking": int(n.get("create_booking", 0))}


def run_locust(url: str, tmp: Path, users: int, user_rate: float, seconds: int, mix: str) -> dict:
    """One headless Locust run pinned to core 1; aggregated figures and generator CPU."""
    run = uuid.uuid4().hex[:8]
    env = {**os.environ, "SVC_BENCH_DATA": str(tmp / "data.json"), "SVC_BENCH_USER_RATE": str(user_rate),
           "SVC_BENCH_RUN": run, "SVC_BENCH_MIX": mix}
    prefix = tmp / f"run-{run}"
    # cwd=tmp: the repository's locust.conf belongs to the load tests, not to this benchmark
    p = subprocess.Popen([sys.executable, "-m", "locust", "-f", str(tmp / "locustfile.py"), "--headless",
                          "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", url, "--csv",
                          str(prefix), "--only-summary", "--loglevel", "ERROR"],
                         env=env, cwd=tmp, preexec_fn=pin(1), stdout=subprocess.DEVNULL,
                         stderr=open(tmp / "locust.err", "ab"))  # noqa: SIM115
    time.sleep(2.0)  # imports and spawning done: measure the steady part
    c0, t0 = cpu_s(p.pid), time.monotonic()
    c1, t1 = c0, t0
    while p.poll() is None:
        try:
            c1, t1 = cpu_s(p.pid), time.monotonic()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            break
        time.sleep(0.25)
    p.wait()
    if not Path(f"{prefix}_stats.csv").exists():
        raise SystemExit("locust failed:\n" + (tmp / "locust.err").read_text()[-2000:])
    with open(f"{prefix}_stats.csv") as fh:
        row = next(r for r in csv.DictReader(fh) if r["Name"] == "Aggregated")
    return {"rps": float(row["Requests/s"]), "p50_ms": float(row["50%"]), "p99_ms": float(row["99%"]),
            "requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
            "generator_cpu": (c1 - c0) / max(t1 - t0, 1e-9)}


def print_profile(path: str, title: str, top: int = 30) -> None:
    """Where the server's samples went (py-spy's raw stacks): by function alone and with its callees."""
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = idle = 0
    with open(path) as fh:
        for line in fh:
            stack, _, n = line.rstrip().rpartition(" ")
            frames = stack.split(";")
            total += int(n)
            leaf = frames[-1]
            if any(w in leaf for w in ("select (", "_run_once (", "wait (", "_worker (", "poll (")):
                idle += int(n)  # an idle event loop or thread (--idle samples them too)
                continue
            own[leaf] = own.get(leaf, 0) + int(n)
            for f in set(frames):
                incl[f] = incl.get(f, 0) + int(n)
    busy = max(total - idle, 1)
    print(f"\n== {title}: {busy} busy samples of {total} (py-spy, {path})")
    by_pkg: dict[str, int] = {}
    for f, n in own.items():
        where = f.rpartition("(")[2]
        pkg = where.split("/")[0] if "/" in where else "python"
        by_pkg[pkg] = by_pkg.get(pkg, 0) + n
    print("  -- own, by package: " + ", ".join(f"{k} {100 * n / busy:.0f}%" for k, n in
                                                sorted(by_pkg.items(), key=lambda kv: -kv[1])[:12]))
    mine = {f: n for f, n in incl.items() if f.rpartition("(")[2].startswith(("service/", "sim/"))}
    for label, d in (("own", own), ("with callees, service/ and sim/", mine)):
        print(f"  -- {label} (% of busy samples)")
        for f, n in sorted(d.items(), key=lambda kv: -kv[1])[:top]:
            print(f"  {100 * n / busy:5.1f}  {f[:150]}")


def bench_one(name: str, db: str, mix: str, args: argparse.Namespace, tmp: Path, weights: dict) -> dict:
    port = args.port or free_port()
    srv = start_server(db, port, args.server_workers)
    url = f"http://127.0.0.1:{port}"
    try:
        world = load_world(url, args.workers, args.citizens, args.seed) | {"weights": weights}
        (tmp / "data.json").write_text(json.dumps(world))
        spy = None
        if args.profile:  # sample the server's stacks holding the GIL in the peak run (py-spy, generator's core)
            spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(srv.pid),
                                    "--format", "raw", "--rate", "200", "--nonblocking", "--subprocesses", "--gil",
                                    "--duration", str(args.seconds), "--output", f"{args.profile}-{name}-{mix}.txt"],
                                   preexec_fn=pin(1), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        app = dict(parse_qsl(urlsplit(db).query)).get("application_name")
        s0, k0, w0 = cpu_s(srv.pid), cpu_s(srv.pid, SYSTEM), time.monotonic()
        b0 = pg_backends_cpu(app) if app else 0.0
        peak = run_locust(url, tmp, args.users, 0.0, args.seconds, mix)
        peak["server_cpu"] = (cpu_s(srv.pid) - s0) / (time.monotonic() - w0)
        s1 = cpu_s(srv.pid)
        peak["server_ms"] = 1000 * (s1 - s0) / max(peak["requests"], 1)
        peak["db_ms"] = 1000 * (pg_backends_cpu(app) - b0) / max(peak["requests"], 1) if app else None
        peak["server_sys_ms"] = 1000 * (cpu_s(srv.pid, SYSTEM) - k0) / max(peak["requests"], 1)
        if spy is not None:
            spy.wait(30)
            print_profile(f"{args.profile}-{name}-{mix}.txt", f"{name} / {mix}")
        half_rate = args.latency_rate or peak["rps"] / 2
        half = run_locust(url, tmp, args.users // 2, half_rate / (args.users // 2), args.seconds, mix)
        inv = httpx.get(url + "/v1/admin/invariants", headers={"Authorization": f"Bearer {ADMIN}"}).json()
        return {"db": name, "mix": mix, "peak": peak, "half": half, "invariants_ok": inv["ok"]}
    finally:
        os.kill(srv.pid, signal.SIGTERM)
        srv.wait(20)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="sqlite,postgres")
    ap.add_argument("--mix", default="mixed,bookings", help="mixed (the twin's trace mix) and/or bookings")
    ap.add_argument("--trace", help="the twin's trace (default: run_sim.py trace --days 1, cached in /tmp)")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--users", type=int, default=64)
    ap.add_argument("--workers", type=int, default=5000, help="registered, available workers")
    ap.add_argument("--citizens", type=int, default=1000)
    ap.add_argument("--server-workers", type=int, default=1, help="server processes")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", help="sample the server with py-spy in the peak run: PREFIX-<db>-<mix>.txt")
    ap.add_argument("--latency-rate", type=float, default=0.0,
                    help="requests/s offered in the latency phase (default: half the peak just measured)")
    ap.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    args = ap.parse_args()
    targets = {("sqlite", "mixed"): 2000.0, ("postgres", "mixed"): 1000.0, ("sqlite", "bookings"): 2000.0,
               ("postgres", "bookings"): 1000.0}
    weights = trace_weights(args.trace)
    print(f"cores {len(os.sched_getaffinity(0))}, load average {os.getloadavg()[0]:.1f} (server on core 0, "
          f"Locust on core 1)")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_service_") as t:
        tmp = Path(t)
        (tmp / "locustfile.py").write_text(LOCUSTFILE)
        for name in args.db.split(","):
            for mix in args.mix.split(","):
                if name == "sqlite":
                    results.append(bench_one(name, f"sqlite:///{tmp / f'bench-{mix}.db'}", mix, args, tmp, weights))
                    continue
                from service.db import drop_scratch_schema, scratch_schema

                url, schema = scratch_schema(PG, "bench")
                try:  # the server's connections are named, so their backends' CPU can be read
                    results.append(bench_one(name, f"{url}&application_name={schema}", mix, args, tmp, weights))
                finally:
                    drop_scratch_schema(PG, schema)
    print(f"trace mix per day: {weights['status']:,} status updates, {weights['create_booking']:,} bookings "
          "(each with accept, start, payment, complete, rating 60 %)")
    for r in results:
        p, h = r["peak"], r["half"]
        tgt = targets[(r["db"], r["mix"])]
        print(f"\n{r['db']} / {r['mix']}: target >= {tgt:.0f}/s, p99 < 50 ms at half rate; invariants "
              f"{'ok' if r['invariants_ok'] else 'BROKEN'}")
        print(f"  peak  {p['rps']:8.0f} requests/s  p50 {p['p50_ms']:5.0f} ms  p99 {p['p99_ms']:5.0f} ms  "
              f"failures {p['failures']}/{p['requests']}  server CPU {p['server_cpu']:.0%}  "
              f"generator CPU {p['generator_cpu']:.0%}")
        phase = "fixed" if args.latency_rate else "half"
        print(f"  {phase}  {h['rps']:8.0f} requests/s  p50 {h['p50_ms']:5.0f} ms  p99 {h['p99_ms']:5.0f} ms  "
              f"failures {h['failures']}/{h['requests']}  generator CPU {h['generator_cpu']:.0%}")
        ms = p["server_ms"]
        print(f"  server CPU per request {ms:.2f} ms (system {p['server_sys_ms']:.2f}) -> at most ~{1000 / ms:.0f} "
              "requests/s on one free core")
        if p["db_ms"] is not None:
            both = ms + p["db_ms"]
            print(f"  PostgreSQL backends' CPU per request {p['db_ms']:.2f} ms; server + backends {both:.2f} ms -> "
                  f"at most ~{2000 / both:.0f} requests/s on two free cores")
        print(f"  throughput target {'met' if p['rps'] >= tgt else 'NOT met'}; "
              f"latency target at half rate {'met' if h['p99_ms'] < 50 else 'NOT met'}")


if __name__ == "__main__":
    main()
