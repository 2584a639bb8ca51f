"""Reports: loading run folders, figures, byte-stable rebuilds, comparison, CLI errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports.compare import write_compare
from reports.html import write_report
from reports.load import load_run
from reports.maps import district_shapes
from reports.plots import helpline_by_hour, lorenz, wallet_flows
from sim.errors import ScenarioError

ROOT = Path(__file__).resolve().parent.parent
DISTRICTS = {"Agra": 4418797, "Lucknow": 4589838, "Varanasi": 3676841}


def fake_run(folder: Path, seed: int = 1, helpline: bool = True, money: bool = True, days: int = 3) -> Path:
    """Fabricate a small run folder with every table of docs/ARCHITECTURE.md (few rows)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n = 60
    created = np.sort(rng.uniform(0, days * 1440.0, n))
    status = rng.choice(["completed", "cancelled", "unfulfilled"], n, p=[0.8, 0.1, 0.1])
    assigned = np.where(status == "unfulfilled", np.nan, created + rng.exponential(20.0, n))
    names = sorted(DISTRICTS)
    district = rng.choice(names, n)
    worker = pd.array(np.where(status == "unfulfilled", 0, rng.integers(0, 20, n)), dtype="Int64")
    worker[status == "unfulfilled"] = pd.NA
    done = status == "completed"
    bookings = pd.DataFrame({
        "booking_id": np.arange(n, dtype=np.int64), "district": district,
        "category": rng.choice(["electrician", "plumber"], n), "channel": rng.choice(["app", "web", "helpline"], n),
        "created_min": created, "status": status, "worker_id": worker, "assigned_min": assigned,
        "started_min": assigned + 15, "completed_min": np.where(done, assigned + 75, np.nan),
        "ended_min": assigned + 75, "travel_km": rng.uniform(1, 15, n),
        "price_paise": pd.array(rng.integers(20000, 60000, n), dtype="Int64"),
        "rating": np.where(done, rng.integers(1, 6, n), np.nan), "offers": rng.integers(1, 4, n),
        "lat": rng.uniform(26, 27, n), "lon": rng.uniform(80, 81, n), "citizen_id": np.arange(n, dtype=np.int64),
    })
    bookings.to_parquet(folder / "bookings.parquet", index=False)
    pd.DataFrame({"booking_id": bookings["booking_id"], "worker_id": np.arange(n) % 20,
                  "offered_min": created, "responded_min": created + 2.0,
                  "outcome": rng.choice(["accepted", "declined"], n)}).to_parquet(folder / "offers.parquet")
    jobs = rng.integers(0, 6, 20)
    workers = pd.DataFrame({
        "worker_id": np.arange(20, dtype=np.int64), "name": [f"Worker {i}" for i in range(20)],
        "phone": [str(9000000000 + i) for i in range(20)], "district": rng.choice(names, 20),
        "skills": "electrician", "primary_skill": "electrician", "active": np.arange(20) < 16,
        "lat": rng.uniform(26, 27, 20), "lon": rng.uniform(80, 81, 20), "shift_start_h": 8, "shift_end_h": 18,
        "accept_prob": 0.8, "jobs": jobs, "busy_min": jobs * 80.0, "gross_paise": jobs * 30000,
        "rating": 4.2,
    })
    workers.to_parquet(folder / "workers.parquet", index=False)
    rows = []
    for d in names:
        b = bookings[bookings["district"] == d]
        w = (b["assigned_min"] - b["created_min"]).dropna()
        rows.append({"district": d, "population_2011": DISTRICTS[d], "workers": 7, "active_workers": 5,
                     "bookings": len(b), "completed": int((b["status"] == "completed").sum()),
                     "cancelled": int((b["status"] == "cancelled").sum()),
                     "unfulfilled": int((b["status"] == "unfulfilled").sum()),
                     "fulfilment_rate": float((b["status"] == "completed").mean()),
                     "wait_assign_p50_min": float(w.quantile(0.5)), "wait_assign_p90_min": float(w.quantile(0.9)),
                     "utilisation": 0.1})
    pd.DataFrame(rows).to_csv(folder / "districts.csv", index=False)
    summary = {"version": "0.1.0", "scenario": "fixture", "seed": seed, "replication": 0, "horizon_days": days,
               "warmup_days": 0, "bookings": n, "completed": int(done.sum()), "fulfilment_rate": float(done.mean()),
               "wait_assign_p90_min": 40.0, "utilisation": 0.1, "workers_registered": 20, "workers_active": 16}
    if helpline:
        h = np.arange(days * 24)
        offered = rng.poisson(30, h.size)
        ab = rng.binomial(offered, 0.1)
        pd.DataFrame({"hour_index": h, "offered": offered, "answered": offered - ab, "abandoned": ab,
                      "service_level": rng.uniform(0.6, 1.0, h.size), "asa_s": rng.uniform(5, 60, h.size),
                      "occupancy": rng.uniform(0.5, 0.9, h.size), "agents": rng.integers(5, 20, h.size)},
                     ).to_parquet(folder / "helpline_hourly.parquet", index=False)
        summary["helpline"] = {"offered": int(offered.sum()), "abandoned": int(ab.sum())}
    if money:
        k = 10
        amounts = rng.integers(100, 5000, k) * 100
        pd.DataFrame({"entry_id": np.arange(2 * k), "txn_id": np.repeat(np.arange(k), 2),
                      "time_min": np.repeat(np.linspace(0, days * 1440, k), 2),
                      "account": np.tile(["citizen", "wallet"], k), "amount_paise": np.ravel(np.c_[-amounts, amounts]),
                      "kind": np.repeat(rng.choice(["payment", "payout"], k), 2),
                      "booking_id": np.repeat(np.arange(k), 2)}).to_parquet(folder / "ledger.parquet", index=False)
        pd.DataFrame({"worker_id": np.arange(20), "district": workers["district"],
                      "credited_paise": workers["gross_paise"], "commission_paise": 0,
                      "withdrawn_paise": 0, "balance_paise": workers["gross_paise"]},
                     ).to_parquet(folder / "wallets.parquet", index=False)
        summary["wallet"] = {"paid_paise": int(amounts.sum())}
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    (folder / "scenario.yaml").write_text(
        "name: fixture\ndescription: test fixture\nstart_date: '2025-07-01'\n"
        "geography: {districts: [Agra, Lucknow, Varanasi]}\ndispatch: {policy: nearest, params: {}}\n"
        "catalog: {electrician: {enabled: true}, plumber: {enabled: true}}\n")
    return folder


def _images(page: str) -> list[str]:
    return re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)


def test_report_has_every_section_and_saves_pngs(tmp_path):
    run = fake_run(tmp_path / "run")
    out = write_report(run)
    assert out == run / "report.html"
    page = out.read_text()
    assert len(_images(page)) == 6  # map, demand, wait, workers, helpline, wallet
    for word in ("Methods", "seed / replication", "warm-up", "run length", "model version", "By service",
                 "every transaction balances"):
        assert word in page
    assert sorted(p.name for p in (run / "figures").glob("*.png")) == [
        "demand.png", "helpline.png", "map.png", "wait.png", "wallet.png", "workers.png"]
    assert "http://" not in page and "https://" not in page  # opens offline
    assert str(tmp_path) not in page  # no absolute paths: the page is portable


def test_report_rebuild_is_byte_stable(tmp_path):
    run = fake_run(tmp_path / "run")
    first = write_report(run).read_bytes()
    pngs = {p.name: p.read_bytes() for p in (run / "figures").glob("*.png")}
    second = write_report(run).read_bytes()
    assert first == second
    assert pngs == {p.name: p.read_bytes() for p in (run / "figures").glob("*.png")}
    # Same inputs in another folder with the same name: same page.
    other = fake_run(tmp_path / "elsewhere" / "run")
    assert write_report(other).read_bytes() == first


def test_report_tolerates_missing_optional_tables(tmp_path):
    run = fake_run(tmp_path / "run", helpline=False, money=False)
    (run / "offers.parquet").unlink()
    page = write_report(run).read_text()
    assert len(_images(page)) == 4
    assert "Not in this run: Helpline 155330, Wallet flows" in page


def test_missing_required_file_is_a_scenario_error(tmp_path):
    run = fake_run(tmp_path / "run")
    (run / "summary.json").unlink()
    with pytest.raises(ScenarioError, match="summary.json"):
        load_run(run)
    with pytest.raises(ScenarioError, match="not a folder"):
        load_run(tmp_path / "nope")


def test_cli_report_bad_dir_exits_2_with_one_line(tmp_path):
    p = subprocess.run([sys.executable, str(ROOT / "run_sim.py"), "report", str(tmp_path / "nope")],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("error: RUN_DIR:")


def test_compare_shows_both_runs_and_differences(tmp_path):
    a, b = fake_run(tmp_path / "a", seed=1), fake_run(tmp_path / "b", seed=2, money=False)
    out = write_compare(a, b)
    assert out == a / "compare_b.html"
    page = out.read_text()
    assert "B − A" in page and "A: a" in page and "B: b" in page
    # 6 figures of A, 5 of B (no wallet) and the difference map.
    assert len(_images(page)) == 6 + 5 + 1
    fa, fb = load_run(a).summary["fulfilment_rate"], load_run(b).summary["fulfilment_rate"]
    assert f"{fb - fa:+.1%}" in page
    assert (a / "figures" / "compare_b" / "diff_map.png").is_file()


def test_helpers():
    p, c = lorenz(np.array([0, 0, 0, 10.0]))
    assert c[-1] == 1.0 and c[3] == 0.0 and p[-1] == 1.0
    names = [n for n, _ in district_shapes()]
    assert len(names) == 75 and names == sorted(names)


def test_helpline_and_wallet_aggregates(tmp_path):
    run = load_run(fake_run(tmp_path / "run"))
    g = helpline_by_hour(run)
    hh = run.table("helpline_hourly")
    assert list(g.index) == list(range(24))
    assert g["offered"].sum() == hh["offered"].sum()
    assert ((g["abandonment"] >= 0) & (g["abandonment"] <= 1)).all()
    flows = wallet_flows(run)
    led = run.table("ledger")
    assert flows.sum() == led.loc[led["amount_paise"] > 0, "amount_paise"].sum()


def test_report_from_a_real_run(tmp_path):
    from sim.config import load_scenario
    from sim.runner import run_one, write_run

    sc = load_scenario("baseline", ["horizon_days=3", "geography.districts=[Lucknow, Agra]"])
    out = write_run(run_one(sc), tmp_path / "real")
    page = write_report(out).read_text()
    assert len(_images(page)) >= 4
    assert write_report(out).read_text() == page


def test_cli_report_compare(tmp_path):
    a, b = fake_run(tmp_path / "a", seed=1), fake_run(tmp_path / "b", seed=2)
    p = subprocess.run([sys.executable, str(ROOT / "run_sim.py"), "report", str(a), "--compare", str(b)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == str(a / "compare_b.html") and (a / "compare_b.html").is_file()


def test_district_map_values_are_annual_rates_per_100k(tmp_path):
    from reports.figures import district_metrics

    run = load_run(fake_run(tmp_path / "run", days=3))
    m = district_metrics(run)
    d = run.districts.set_index("district")
    expected = d.loc["Agra", "bookings"] / DISTRICTS["Agra"] * 1e5 * 365 / 3
    assert m.loc["Agra", "bookings_per_100k"] == pytest.approx(expected)
    assert list(m.index) == sorted(DISTRICTS)
    assert m["fulfilment_rate"].between(0, 1).all()
