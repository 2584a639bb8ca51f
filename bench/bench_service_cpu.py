"""Benchmark: CPU per request of the reference deployment's ASGI app in-process (no HTTP server, no network).

For A/B comparisons of the service's own code on a shared machine: one process, requests sent
one after another straight into the ASGI app, CPU time (``time.process_time``) per request of
the two commonest calls, a worker status update and a booking (5,000 workers around 75 spots,
skills spread over the catalog as in ``bench_service.py``; tokens already seen). uvicorn and
the sockets are not counted (about 0.15 ms per request more in ``bench_service.py``).

Usage: python bench/bench_service_cpu.py [--db sqlite,postgres] [-n 2000] [--profile out.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ADMIN = "bench-admin-token-0123456789"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


async def call(app, method: str, path: str, body: dict | None = None, token: str | None = None,
               key: str | None = None) -> tuple[int, object]:
    """One request through the ASGI app; (status, JSON answer)."""
    raw = json.dumps(body).encode() if body is not None else b""
    hdrs = [(b"host", b"bench"), (b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    if token:
        hdrs.append((b"authorization", f"Bearer {token}".encode()))
    if key:
        hdrs.append((b"idempotency-key", key.encode()))
    scope = {"type": "http", "method": method, "path": path, "headers": hdrs, "query_string": b"",
             "client": ("127.0.0.1", 1)}
    msgs = [{"type": "http.request", "body": raw, "more_body": False}]
    out: dict = {}

    async def receive() -> dict:
        return msgs.pop() if msgs else {"type": "http.disconnect"}

    async def send(m: dict) -> None:
        out["status" if m["type"] == "http.response.start" else "body"] = m.get("status", m.get("body"))

    await app(scope, receive, send)
    return out["status"], (json.loads(out["body"]) if out.get("body") else None)


async def measure(db: str, n: int, profile: str | None) -> dict[str, float]:
    """CPU per status update and per booking [ms] on ``db``."""
    from service.app import create_app
    from service.config import build
    from service.reference import load_reference

    app = create_app(build({"db": db, "admin_token": ADMIN, "rate_per_s": 0}))
    life: asyncio.Queue = asyncio.Queue()
    started = asyncio.Event()

    async def life_send(m: dict) -> None:
        started.set()

    await life.put({"type": "lifespan.startup"})
    task = asyncio.create_task(app({"type": "lifespan"}, life.get, life_send))
    await started.wait()
    cats = sorted(load_reference().prices)
    rnd = random.Random(1)
    hq = [(rnd.uniform(24.5, 29.5), rnd.uniform(78.5, 83.5)) for _ in range(75)]

    def spot(i: int) -> dict:
        return {"district": "Lucknow", "lat": hq[i % 75][0] + rnd.gauss(0, 0.04),
                "lon": hq[i % 75][1] + rnd.gauss(0, 0.04)}

    ws = [{"name": f"W{i}", "phone": "9800000000", **spot(i),
           "skills": [cats[i % len(cats)], cats[(i * 7 + 3) % len(cats)]][: 1 + i % 2]} for i in range(5000)]
    _, w = await call(app, "POST", "/v1/admin/workers:bulk", {"workers": ws, "available": True}, ADMIN)
    _, c = await call(app, "POST", "/v1/admin/citizens:bulk",
                      {"citizens": [{"name": f"C{i}", "phone": "9811111111", **spot(i)} for i in range(200)]}, ADMIN)
    for wid, tok in zip(w["ids"], w["tokens"], strict=True):  # every token seen once
        await call(app, "GET", f"/v1/workers/{wid}", token=tok)
    for tok in c["tokens"]:
        await call(app, "GET", f"/v1/workers/{w['ids'][0]}", token=tok)
    prof = cProfile.Profile(time.process_time)
    res = {}
    for what in ("status", "booking"):
        if profile:
            prof.enable()
        t0 = time.process_time()
        for i in range(n):
            if what == "status":
                j = i % len(ws)
                st, ans = await call(app, "PUT", f"/v1/workers/{w['ids'][j]}/status",
                                     {"available": True, "lat": ws[j]["lat"], "lon": ws[j]["lon"]}, w["tokens"][j])
            else:
                st, ans = await call(app, "POST", "/v1/bookings", {"category": cats[rnd.randrange(len(cats))],
                                                                   **spot(i)}, c["tokens"][i % 200], key=f"k{i}")
            assert st < 300, ans
        res[what] = 1000 * (time.process_time() - t0) / n
        prof.disable()
    if profile:
        prof.dump_stats(profile)
    await life.put({"type": "lifespan.shutdown"})
    await task
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="sqlite,postgres")
    ap.add_argument("-n", type=int, default=2000, help="requests of each kind")
    ap.add_argument("--profile", help="cProfile (CPU clock) of the measured requests into this file")
    args = ap.parse_args()
    os.environ.setdefault("SEWAMITRA_ADMIN_TOKEN", ADMIN)
    import uvloop

    from service.db import drop_scratch_schema, scratch_schema

    for name in args.db.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            url, schema = (f"sqlite:///{tmp}/bench.db", None) if name == "sqlite" else scratch_schema(PG, "cpu")
            try:
                res = uvloop.run(measure(url, args.n, args.profile))
            finally:
                if schema:
                    drop_scratch_schema(PG, schema)
        print(f"{name}: CPU per request, in-process: status update {res['status']:.3f} ms, "
              f"booking {res['booking']:.3f} ms", flush=True)


if __name__ == "__main__":
    main()
