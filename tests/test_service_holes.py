"""Regression tests for holes found by attacking the reference deployment (real servers)."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.service_fixtures import *  # noqa: F403
from tests.service_fixtures import ADMIN, LUCKNOW, Api, Server

pytestmark = pytest.mark.timeout(180)


def test_duplicate_authorization_header_is_refused(api):
    c1, c2 = api.citizen(), api.citizen()
    twice = [("Authorization", f"Bearer {c1['token']}"), ("Authorization", f"Bearer {c2['token']}")]
    r = api.http.get("/v1/admin/stats", headers=[("Authorization", f"Bearer {ADMIN}"), *twice[:1]])
    assert r.status_code == 400, r.text
    body = {"category": "electrician", "district": "Lucknow", "lat": LUCKNOW[0], "lon": LUCKNOW[1]}
    r = api.http.post("/v1/bookings", json=body, headers=[*twice, ("Idempotency-Key", "k")])
    assert r.status_code == 400 and "Authorization" in r.json()["detail"]
    assert api.call("GET", "/v1/admin/stats", ADMIN).json()["bookings"] == 0


def _raw_request(port: int, head: str, body: bytes, timeout_s: float) -> bytes:
    """Send ``head`` and part of a body; return what the server answers before ``timeout_s``."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(head.encode() + body)
        try:
            return s.recv(4096)
        except TimeoutError:
            return b""


def test_admin_bulk_refuses_strangers_before_reading_the_body(server):
    """A 16 MiB body announced by a stranger is refused at once, not read (and parsed) first."""
    head = ("POST /v1/admin/workers:bulk HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {16 * 1024 * 1024 - 10}\r\n{{auth}}\r\n")
    for auth, code in (("", b" 401 "), ("Authorization: Bearer not-the-admin-token\r\n", b" 403 ")):
        t0 = time.monotonic()
        answer = _raw_request(server.port, head.replace("{auth}", auth), b'{"workers": [', timeout_s=5)
        assert code in answer.split(b"\r\n", 1)[0], answer[:200]
        assert time.monotonic() - t0 < 3


def test_body_limits_per_endpoint(api):
    c = api.citizen()
    big = {"category": "electrician", "district": "Lucknow", "lat": LUCKNOW[0], "lon": LUCKNOW[1],
           "channel": "app", "pad": "x" * 20_000}
    assert api.call("POST", "/v1/bookings", c["token"], "k", json=big).status_code == 413
    assert api.call("GET", "/v1/admin/stats", ADMIN, content=b"x" * 10).status_code == 413
    # bulk loads may be large (but the admin's only)
    workers = [{"name": f"W{i}", "phone": "+919800000001", "district": "Lucknow", "lat": LUCKNOW[0],
                "lon": LUCKNOW[1], "skills": ["plumber"]} for i in range(400)]
    assert api.call("POST", "/v1/admin/workers:bulk", ADMIN, json={"workers": workers}).status_code == 201


def test_sqlite_write_lock_never_blocks_the_event_loop(tmp_path):
    """Another process holds SQLite's write lock: writes wait (or get 503), /healthz answers at once."""
    path = tmp_path / "lock.db"
    srv = Server(f"sqlite:///{path}", "--rate-limit", "0").start()
    try:
        api = Api(srv.url)
        api.worker()
        c = api.citizen()
        holder = sqlite3.connect(path, isolation_level=None, timeout=1)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with ThreadPoolExecutor(4) as ex:
                waiting = [ex.submit(api.book, c) for _ in range(4)]
                time.sleep(0.5)  # the bookings are now waiting for the lock
                t0 = time.monotonic()
                r = httpx.get(srv.url + "/healthz", timeout=10)
                took = time.monotonic() - t0
                assert r.status_code == 200 and took < 1.0, took
                holder.execute("COMMIT")
                codes = [f.result().status_code for f in waiting]
            assert set(codes) <= {201, 503}, codes
        finally:
            holder.close()
        assert api.invariants()["ok"]
    finally:
        srv.stop()


def test_stale_token_after_reset_with_two_processes(tmp_path):
    """A token deleted by a reset in one process is refused by the other, never reused."""
    srv = Server(f"sqlite:///{tmp_path / 'r.db'}", "--workers", "2", "--rate-limit", "0", "--allow-reset")
    srv.start(timeout_s=90)  # two processes on a busy machine
    try:
        old = [Api(srv.url).citizen() for _ in range(4)]
        seen = {}
        for c in old:  # warm both processes' caches (new connections spread over the two)
            for _ in range(6):
                with httpx.Client(base_url=srv.url) as h:
                    h.get("/v1/bookings/1", headers={"Authorization": f"Bearer {c['token']}"})
        for _ in range(4):
            with httpx.Client(base_url=srv.url) as h:
                assert h.post("/v1/admin/reset", headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 204
        api = Api(srv.url)
        new = [api.citizen() for _ in range(4)]
        assert {c["id"] for c in new} & {c["id"] for c in old}  # SQLite reuses the ids
        api.worker()
        for c in old:
            for _ in range(6):
                with httpx.Client(base_url=srv.url) as h:
                    r = h.post("/v1/bookings", headers={"Authorization": f"Bearer {c['token']}",
                                                         "Idempotency-Key": uuid.uuid4().hex},
                               json={"category": "electrician", "district": "Lucknow", "lat": LUCKNOW[0],
                                     "lon": LUCKNOW[1]})
                    seen[r.status_code] = seen.get(r.status_code, 0) + 1
        assert seen == {401: 24}, seen
    finally:
        srv.stop()


def test_lost_wake_up_is_closed_by_the_retry_clock(backend):
    """A worker set available as a booking arrives at that spot: the booking is offered soon anyway."""
    # 1 deployment minute of retry = 0.3 s of wall time
    srv = Server(backend, "--rate-limit", "0", "--allow-reset", "--time-scale", "200",
                 "--retry-interval-min", "1", "--offer-timeout-min", "1000", "--max-search-min", "100000").start()
    try:
        api = Api(srv.url)
        pairs = []
        for i in range(20):
            spot = (LUCKNOW[0] + 0.2 * (i % 5), LUCKNOW[1] + 0.3 * (i // 5))
            w = api.worker(*spot, available=False)
            c = api.citizen(*spot)
            go = threading.Barrier(2)

            def free(w=w, spot=spot, go=go):
                go.wait()
                return api.call("PUT", f"/v1/workers/{w['id']}/status", w["token"],
                                json={"available": True, "lat": spot[0], "lon": spot[1]})

            def book(c=c, spot=spot, go=go):
                go.wait()
                return api.book(c, lat=spot[0], lon=spot[1])

            with ThreadPoolExecutor(2) as ex:
                fs, fb = ex.submit(free), ex.submit(book)
                assert fs.result().status_code == 200 and fb.result().status_code == 201
            pairs.append(fb.result().json()["id"])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            st = [api.call("GET", f"/v1/bookings/{b}", ADMIN).json()["status"] for b in pairs]
            if "pending" not in st:
                break
            time.sleep(0.2)
        assert "pending" not in st, st
        assert api.invariants()["ok"]
    finally:
        srv.stop()


def test_helpline_bookings_are_bound_to_a_caller_record(api):
    """Self-registering a caller's number first gives no access until a one-time code is sent back."""
    api.worker()
    agent = api.call("POST", "/v1/admin/agents", ADMIN, json={"name": "Sita"}).json()
    spot = {"district": "Lucknow", "lat": LUCKNOW[0], "lon": LUCKNOW[1]}
    squatter = api.call("POST", "/v1/citizens", json={"name": "Mallory", "phone": "9812345678", **spot}).json()
    body = {"caller_name": "Ram", "caller_phone": "+91 98123 45678", "category": "electrician", **spot}
    first = api.call("POST", "/v1/helpline/bookings", agent["token"], "h1", json=body).json()
    second = api.call("POST", "/v1/helpline/bookings", agent["token"], "h2",
                      json={**body, "caller_phone": "098123-45678"}).json()
    assert first["citizen_id"] == second["citizen_id"] != squatter["id"]  # one caller, in E.164
    bid = first["id"]
    assert api.call("GET", f"/v1/bookings/{bid}", squatter["token"]).status_code == 404
    assert api.call("POST", f"/v1/bookings/{bid}/cancel", squatter["token"]).status_code == 404
    claims = f"/v1/citizens/{squatter['id']}/claims"
    assert api.call("POST", claims, squatter["token"], json={"code": "000000"}).status_code == 409  # none asked
    sent = api.call("POST", claims, squatter["token"], json={})
    assert sent.status_code == 202 and sent.json()["sent_to"].startswith("+91981234")
    box = api.call("GET", "/v1/admin/outbox", ADMIN, params={"phone": "9812345678"}).json()["messages"]
    code = box[0]["body"].rsplit(" ", 1)[1]
    assert box[0]["phone"] == "+919812345678" and len(code) == 6
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert api.call("POST", claims, squatter["token"], json={"code": wrong}).status_code == 422
    assert api.call("GET", f"/v1/bookings/{bid}", squatter["token"]).status_code == 404
    ok = api.call("POST", claims, squatter["token"], json={"code": code})
    assert ok.status_code == 200 and ok.json()["claimed"] == [first["citizen_id"]]
    assert api.call("POST", claims, squatter["token"], json={"code": code}).status_code == 409  # used once
    assert api.call("GET", f"/v1/bookings/{bid}", squatter["token"]).json()["channel"] == "helpline"
    assert api.call("POST", f"/v1/bookings/{bid}/cancel", squatter["token"]).status_code == 200
    other = api.citizen()
    assert api.call("POST", claims, other["token"], json={}).status_code == 403
    assert api.invariants()["ok"]
