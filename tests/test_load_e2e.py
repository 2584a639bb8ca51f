"""End to end: the reference deployment, Locust replaying a compressed trace, then the twin check."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
LOCUST = str(Path(PY).parent / "locust")
TOKEN = "e2e-admin-token-0123456789"
SMALL = ["demand.scale=40", "geography.districts=[Lucknow, Kanpur Nagar]", "workforce.registered=2000"]
SPEEDUP = 1440 * 60 / 14  # one simulated day in 14 s

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    out = tmp_path_factory.mktemp("trace") / "trace.parquet"
    args = [PY, "run_sim.py", "trace", "--scenario", "baseline", "--days", "1", "--out", str(out)]
    for s in SMALL:
        args += ["--set", s]
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True, timeout=120)
    return out


@contextlib.contextmanager
def reference_service(tmp_path: Path, trace: Path, radius_km: float | None = None):
    """The reference deployment configured like the trace's twin (policy, radius, clocks, seed, time scale)."""
    from sim.trace import read_trace

    _, meta = read_trace(trace)
    params = meta["policy_params"] | ({"radius_km": radius_km} if radius_km else {})
    port = free_port()
    env = os.environ | {"SEWAMITRA_ADMIN_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [PY, "-m", "service", "--port", str(port), "--db", f"sqlite:///{tmp_path / 'svc.db'}",
         "--policy", meta["policy"], "--policy-params", json.dumps(params), "--rate-limit", "0",
         "--scenario", meta["scenario"], "--seed", str(meta["seed"]), "--time-scale", str(SPEEDUP),
         "--offer-timeout-min", str(meta["accept_timeout_min"]), "--max-offers", str(meta["max_offers"]),
         "--retry-interval-min", str(meta["retry_interval_min"]), "--max-search-min", str(meta["max_search_min"])],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"service exited: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def service(tmp_path, trace):
    with reference_service(tmp_path, trace) as url:
        yield url


def run_locust(url: str, trace: Path, csv: Path, extra: list[str]) -> subprocess.CompletedProcess:
    env = os.environ | {"SEWAMITRA_ADMIN_TOKEN": TOKEN}
    return subprocess.run(
        [LOCUST, "-f", "locustfile.py", "--headless", "--host", url, "--trace", str(trace),
         "--speedup", str(SPEEDUP), "--run-time", "45s", "--csv", str(csv), "--max-fail-ratio", "0",
         "--max-lag-p99-ms", "2000", *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)


def check_outcome(url: str, trace: Path, csv: Path, res: subprocess.CompletedProcess, tmp_path: Path) -> None:
    from sim.trace import read_trace

    assert res.returncode == 0, res.stderr[-3000:] + res.stdout[-2000:]
    stats = pd.read_csv(f"{csv}_stats.csv")
    total = stats[stats["Name"] == "Aggregated"].iloc[0]
    assert total["Failure Count"] == 0 and total["Request Count"] > 100
    assert "schedule lag: n=" in res.stdout
    tr, _ = read_trace(trace)
    h = {"Authorization": f"Bearer {TOKEN}"}
    live = httpx.get(f"{url}/v1/admin/stats", headers=h).json()
    assert live["bookings"] == int((tr["action"] == "create_booking").sum())
    inv = httpx.get(f"{url}/v1/admin/invariants", headers=h).json()
    assert inv["ok"], inv
    tc = twin_check(url, trace, csv, tmp_path / "tc")
    assert tc.returncode == 0, tc.stdout + tc.stderr
    assert "verdict: AGREE" in tc.stdout and "configuration unknown" not in tc.stdout
    out = tmp_path / "tc"
    table = pd.read_csv(out / "twin_check.csv")
    created = table[(table["district"] == "ALL") & (table["metric"] == "created")].iloc[0]
    assert created["twin"] == created["live"]
    assert (out / "twin_check.png").stat().st_size > 1000
    summary = pd.read_csv(out / "twin_check_summary.csv").iloc[0]
    assert summary["both_assigned"] > 0 and summary["share_of_both_assigned"] >= 0.8


def twin_check(url: str, trace: Path, csv: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "run_sim.py", "twin-check", "--trace", str(trace), "--service-url", url,
                           "--locust-csv", str(csv), "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          env=os.environ | {"SEWAMITRA_ADMIN_TOKEN": TOKEN}, timeout=60)


def test_other_radius_makes_twin_check_disagree_naming_it(tmp_path, trace):
    with reference_service(tmp_path, trace, radius_km=15.0) as url:
        csv = tmp_path / "lc"
        res = run_locust(url, trace, csv, [])
        assert res.returncode == 0, res.stderr[-3000:]
        tc = twin_check(url, trace, csv, tmp_path / "tc")
    assert tc.returncode == 1, tc.stdout + tc.stderr
    assert tc.stdout.splitlines()[0] == "CONFIGURATION MISMATCH: radius_km: deployment 15.0, trace 20.0", tc.stdout


def test_replay_single_process(service, trace, tmp_path):
    csv = tmp_path / "lc"
    res = run_locust(service, trace, csv, [])
    check_outcome(service, trace, csv, res, tmp_path)


def test_replay_distributed_two_workers(service, trace, tmp_path):
    csv = tmp_path / "lc"
    res = run_locust(service, trace, csv, ["--processes", "2"])
    check_outcome(service, trace, csv, res, tmp_path)
    assert "Traceback" not in res.stderr and "closed file" not in res.stderr, res.stderr[-3000:]
    assert len(list(tmp_path.glob("lc_replay.part*.csv"))) == 2


def test_exit_code_fails_when_a_limit_is_broken(service, trace, tmp_path):
    res = run_locust(service, trace, tmp_path / "lc", ["--max-p99-ms", "0.001", "--run-time", "9s"])
    assert res.returncode == 1
    assert "SLO failed: p99 response time" in res.stdout


def test_shape_mode_offers_the_scenario_curve(service, tmp_path):
    """No trace: actor users whose number follows the baseline booking-rate curve (a day in 6 s)."""
    env = os.environ | {"SEWAMITRA_ADMIN_TOKEN": TOKEN}
    csv = tmp_path / "shape"
    res = subprocess.run(
        [LOCUST, "-f", "locustfile.py", "--headless", "--host", service, "--scenario", "baseline",
         "--speedup", "14400", "--days", "1", "--pacing", "1", "--run-time", "8s", "--csv", str(csv)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-3000:]
    stats = pd.read_csv(f"{csv}_stats.csv").set_index("Name")
    assert stats.loc["/v1/bookings", "Request Count"] > 0
    assert stats.loc["Aggregated", "Failure Count"] == 0
    assert "Shape test updating to" in res.stderr


def test_capacity_prints_a_multiple_and_writes_its_plot(service, tmp_path):
    """Two short levels of the busiest hour: a headroom line, the CSV and the plot."""
    out = tmp_path / "cap"
    args = [PY, "run_sim.py", "capacity", "--scenario", "baseline", "--days", "1", "--service-url", service,
            "--multiples", "1,100,300", "--step-seconds", "3", "--max-minutes", "2", "--out", str(out)]
    for s in SMALL:
        args += ["--set", s]
    res = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=180,
                         env=os.environ | {"SEWAMITRA_ADMIN_TOKEN": TOKEN})
    assert res.returncode == 0, res.stderr[-3000:]
    assert re.search(r"^holds (at least |less than )?[\d.]+× today's busiest hour", res.stdout, re.M), res.stdout
    table = pd.read_csv(out / "capacity.csv")
    assert len(table) >= 1 and (table["requests"] > 0).all()
    assert (out / "capacity.png").stat().st_size > 1000


def test_capacity_fails_fast_on_a_wrong_port(tmp_path):
    t = time.perf_counter()
    res = subprocess.run([PY, "run_sim.py", "capacity", "--service-url", f"http://127.0.0.1:{free_port()}",
                          "--out", str(tmp_path / "cap")], cwd=ROOT, capture_output=True, text=True, timeout=30,
                         env=os.environ | {"SEWAMITRA_ADMIN_TOKEN": TOKEN})
    assert res.returncode == 2 and time.perf_counter() - t < 10
    assert res.stderr.count("\n") == 1 and "cannot connect" in res.stderr
