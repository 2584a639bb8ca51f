"""Rate and size limits, start-up errors, and the token bucket itself."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from service.limits import TokenBucket
from tests.service_fixtures import ADMIN, ROOT, Server

pytestmark = pytest.mark.timeout(120)


def test_token_bucket_refills_at_its_rate():
    b = TokenBucket(rate_per_s=2.0, burst=3.0)
    assert [b.take("k", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take("k", now=0.0) == pytest.approx(0.5)  # one token arrives after 1/rate
    assert b.take("other", now=0.0) == 0.0  # callers are independent
    assert b.take("k", now=0.6) == 0.0
    assert TokenBucket(0.0, 1.0).take("k") == 0.0  # rate 0 disables the limit


def test_rate_limit_429_with_retry_after_and_size_limit_413(tmp_path):
    srv = Server(f"sqlite:///{tmp_path / 'l.db'}", "--rate-limit", "1", "--rate-burst", "3").start()
    try:
        http = httpx.Client(base_url=srv.url)
        body = {"name": "C", "phone": "+919811111111", "district": "Lucknow", "lat": 26.85, "lon": 80.95}
        codes = [http.post("/v1/citizens", json=body) for _ in range(6)]
        assert [r.status_code for r in codes[:3]] == [201, 201, 201]
        limited = [r for r in codes if r.status_code == 429]
        assert limited and int(limited[0].headers["Retry-After"]) >= 1
        big = http.post("/v1/admin/agents", json={"name": "x" * 20_000}, headers={"Authorization": f"Bearer {ADMIN}"})
        assert big.status_code == 413 and "larger" in big.json()["detail"]
        # the admin is not rate-limited
        assert all(http.get("/v1/admin/stats", headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 200
                   for _ in range(10))
    finally:
        srv.stop()


@pytest.mark.parametrize("args,field", [
    (["--policy", "nope"], "dispatch.policy"),
    (["--db", "mysql://x/y"], "db"),
])
def test_bad_start_options_exit_2_with_one_line(args, field):
    env = {**os.environ, "SEWAMITRA_ADMIN_TOKEN": ADMIN, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "service", *args], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and field in lines[0], p.stderr
