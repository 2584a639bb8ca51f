"""Fixtures for the service tests: a real ``python -m service`` process on a free loopback
port, on SQLite (temp file) or PostgreSQL (a fresh schema per server, dropped afterwards).

Import the fixtures into a test module with ``from tests.service_fixtures import *``.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.db import drop_scratch_schema, scratch_schema

ROOT = Path(__file__).resolve().parent.parent
PG_BASE = os.environ.get("SEWAMITRA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ADMIN = "test-admin-token-0123456789"
LUCKNOW = (26.8467, 80.9462)

__all__ = ["ADMIN", "LUCKNOW", "Api", "Server", "api", "backend", "pg_available", "server"]


def free_port() -> int:
    """A free TCP port on loopback; within ``SEWAMITRA_TEST_PORTS=LO-HI`` if set (a shared machine)."""
    lo, _, hi = os.environ.get("SEWAMITRA_TEST_PORTS", "0-0").partition("-")
    candidates = random.sample(range(int(lo), int(hi) + 1), int(hi) - int(lo) + 1) if int(lo) else [0]
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError(f"no free port in {lo}-{hi}")


def pg_available() -> str | None:
    """``None`` if PostgreSQL answers, else the reason it does not."""
    try:
        import psycopg

        psycopg.connect(PG_BASE.replace("+psycopg", ""), connect_timeout=2).close()
        return None
    except Exception as e:  # noqa: BLE001
        return f"PostgreSQL at {PG_BASE} unreachable: {type(e).__name__}"


class Server:
    """One server process; ``start``/``kill``/``stop`` manage it by pid."""

    def __init__(self, db_url: str, *extra: str, log: Path | None = None) -> None:
        self.db_url = db_url
        self.extra = list(extra)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = log

    def start(self, timeout_s: float = 30.0) -> Server:
        """Start and wait until ``/healthz`` answers."""
        env = {**os.environ, "SEWAMITRA_ADMIN_TOKEN": ADMIN, "PYTHONPATH": str(ROOT)}
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service", "--port", str(self.port), "--db", self.db_url, *self.extra],
            cwd=ROOT, env=env, stdout=out, stderr=out,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not become ready")

    def kill(self) -> None:
        """``kill -9`` the server process."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """Terminate the server process (SIGTERM, then SIGKILL)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request, tmp_path_factory) -> Iterator[str]:
    """A database URL: a temp SQLite file, or a fresh PostgreSQL schema (skipped if unreachable)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('svc') / 'svc.db'}"
        return
    reason = pg_available()
    if reason:
        pytest.skip(reason)
    url, name = scratch_schema(PG_BASE)
    try:
        yield url
    finally:
        drop_scratch_schema(PG_BASE, name)


@pytest.fixture(scope="module")
def server(backend) -> Iterator[Server]:
    """A running server on ``backend`` with reset allowed and generous rate limits."""
    s = Server(backend, "--allow-reset", "--rate-limit", "0").start()
    try:
        yield s
    finally:
        s.stop()


class Api:
    """A thin client with helpers to register people and book."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.n = 0

    def call(self, method: str, path: str, token: str | None = None, key: str | None = None, **kw) -> httpx.Response:
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if key:
            headers["Idempotency-Key"] = key
        return self.http.request(method, path, headers=headers, **kw)

    def worker(self, lat: float = LUCKNOW[0], lon: float = LUCKNOW[1], skills=("electrician",), available=True):
        self.n += 1
        body = {"name": f"W{self.n}", "phone": "+919800000000", "district": "Lucknow", "lat": lat, "lon": lon,
                "skills": list(skills)}
        r = self.call("POST", "/v1/workers", json=body)
        assert r.status_code == 201, r.text
        w = r.json()
        if available:
            st = {"available": True, "lat": lat, "lon": lon}
            r = self.call("PUT", f"/v1/workers/{w['id']}/status", w["token"], json=st)
            assert r.status_code == 200, r.text
        return w

    def citizen(self, lat: float = LUCKNOW[0], lon: float = LUCKNOW[1]):
        self.n += 1
        r = self.call("POST", "/v1/citizens", json={"name": f"C{self.n}", "phone": "+919811111111",
                                                   "district": "Lucknow", "lat": lat, "lon": lon})
        assert r.status_code == 201, r.text
        return r.json()

    def book(self, citizen, key: str | None = None, category="electrician", lat=LUCKNOW[0], lon=LUCKNOW[1]):
        return self.call("POST", "/v1/bookings", citizen["token"], key or uuid.uuid4().hex,
                         json={"category": category, "district": "Lucknow", "lat": lat, "lon": lon, "channel": "app"})

    def reset(self) -> None:
        assert self.call("POST", "/v1/admin/reset", ADMIN).status_code == 204

    def invariants(self) -> dict:
        r = self.call("GET", "/v1/admin/invariants", ADMIN)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def api(server) -> Iterator[Api]:
    """A client of ``server`` on a freshly reset database."""
    a = Api(server.url)
    a.reset()
    yield a
    a.http.close()
