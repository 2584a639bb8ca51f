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
    assert len(_images(page)) == 8  # three maps, demand, wait, workers, helpline, wallet
    for word in ("Methods", "seed / replication", "warm-up", "run length", "model version", "By service",
                 "every transaction balances"):
        assert word in page
    assert sorted(p.name for p in (run / "figures").glob("*.png")) == [
        "demand.png", "helpline.png", "map_bookings_per_100k.png", "map_fulfilment_rate.png", "map_wait_p90_min.png",
        "wait.png", "wallet.png", "workers.png"]
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
    assert len(_images(page)) == 6
    assert "Not in this run: Helpline 155330, Wallet, History against published figures" in page


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
    # 8 figures of A, 7 of B (no wallet) and the difference map.
    assert len(_images(page)) == 8 + 7 + 1
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


# ------------------------------------------------------------ issue 17: a report that explains itself


def add_snapshots(folder: Path) -> Path:
    """Monthly snapshots (contract of OWNERS.md) and two anchors: one met, one missed."""
    months = pd.date_range("2025-07-31", periods=6, freq="ME")
    pd.DataFrame({"month_end": months.strftime("%Y-%m-%d"), "registered_workers": 50000 + 500 * np.arange(6),
                  "active_workers": 15000 + 100 * np.arange(6), "bookings_cum": 1000 * np.arange(1, 7),
                  "completed_cum": 800 * np.arange(1, 7), "calls_cum": 80000 * np.arange(1, 7),
                  "wallet_credit_cum_paise": 5_000_000 * np.arange(1, 7)}).to_csv(folder / "snapshots.csv", index=False)
    (folder / "anchors.yaml").write_text(
        "anchors:\n"
        "  - {date: 2025-09-30, quantity: registered_workers, value: 51000, source: D1, tolerance: 0.02}\n"
        "  - {date: 2025-10-31, quantity: bookings_cum, value: 9000, source: D4, tolerance: 0.05}\n"
        "  - {date: 2030-01-31, quantity: bookings_cum, value: 1, source: later, tolerance: 0.05}\n")
    return folder


def _png_text(png: bytes) -> dict[str, str]:
    import io

    from PIL import Image

    return dict(Image.open(io.BytesIO(png)).text)


def test_maps_name_notable_districts_with_a_sortable_table(tmp_path):
    from reports.maps import notable

    run = fake_run(tmp_path / "run")
    page = write_report(run).read_text()
    for col in ("bookings_per_100k", "fulfilment_rate", "wait_p90_min"):
        meta = _png_text((run / "figures" / f"map_{col}.png").read_bytes())
        assert meta["Description"] == "Labelled districts: Agra, Lucknow, Varanasi"
    assert page.count('alt="Bookings per 100,000 people by district; labelled: Agra, Lucknow, Varanasi"') == 1
    assert page.count('<table class="sortable">') == 3 and "<script>" in page
    for d in DISTRICTS:
        assert page.count(f"<td>{d}</td>") == 3  # one row per district in each map's table
    assert re.search(r'<td class="n" data-v="0\.\d+">\d+\.\d%</td>', page)  # fulfilment sorts by its number
    values = {f"D{i}": float(i) for i in range(20)} | {"Lucknow": 7.5, "Agra": float("nan")}
    assert notable(values) == ["D0", "D1", "D17", "D18", "D19", "D2", "Lucknow"]


def test_wait_cdf_is_logarithmic_only_when_waits_span_orders_of_magnitude(tmp_path):
    from reports.plots import wait_figure

    run = load_run(fake_run(tmp_path / "run"))
    bk = run.bookings
    spread = bk.assign(assigned_min=bk["created_min"] + np.geomspace(0.5, 900, len(bk)))
    narrow = bk.assign(assigned_min=bk["created_min"] + np.linspace(5, 20, len(bk)))
    run.bookings = spread
    assert wait_figure(run).axes[1].get_xscale() == "log"
    run.bookings = narrow
    assert wait_figure(run).axes[1].get_xscale() == "linear"
    run.bookings = bk.assign(assigned_min=np.nan)
    fig = wait_figure(run)
    assert "No booking was assigned" in fig.axes[1].texts[0].get_text()


def test_plots_with_nothing_to_show_say_so_and_money_has_no_offset(tmp_path):
    from reports.plots import wallet_figure, workers_figure
    from reports.units import indian_digits, rupees

    run = load_run(fake_run(tmp_path / "run"))
    wal = run.table("wallets")
    run.optional["wallets"] = wal.assign(balance_paise=np.where(np.arange(len(wal)) < 3, 123_400, 0))
    fig = wallet_figure(run)
    fig.canvas.draw()
    assert "Only 3 of 20 workers hold money at the end: ₹1,234" in fig.axes[1].texts[0].get_text().replace("\n", " ")
    flows = fig.axes[0]
    assert flows.xaxis.get_offset_text().get_text() == ""
    assert all(t.get_text().startswith("₹") for t in flows.get_xticklabels() if t.get_text())
    assert "payouts started to workers' banks" in [t.get_text() for t in flows.get_yticklabels()]
    run.workers = run.workers.assign(jobs=0, busy_min=0.0, gross_paise=0)
    texts = [t.get_text() for ax in workers_figure(run).axes for t in ax.texts]
    assert any("0 active workers had a job" in t for t in texts)
    assert indian_digits(2753794) == "27,53,794" and indian_digits(999) == "999"
    assert rupees(46101300, paise=True) == "₹4,61,013" and rupees(-5083, paise=True, decimals=2) == "-₹50.83"
    assert rupees(None) == "–" and rupees(float("nan")) == "–"


def test_helpline_and_wallet_sections_use_plain_labels_with_definitions(tmp_path):
    run = fake_run(tmp_path / "run")
    s = json.loads((run / "summary.json").read_text())
    s["helpline"] |= {"service_level": 0.81, "sl_seconds": 20, "sl_target": 0.8, "calls_per_booking": 214.4}
    s["wallet"] |= {"cash_volume_paise": 461_013_000, "gini_earnings": 0.9828}
    s["gini_earnings"] = 0.756
    (run / "summary.json").write_text(json.dumps(s))
    page = re.sub(r'src="data:image/png;base64,[^"]*"', "", write_report(run).read_text())
    assert page.count("How to read this:") == 6  # districts, demand, wait, workers, helpline, wallet
    assert "answered within 20 s ÷ offered (target 80%)" in page
    assert "calls per phone booking" in page and "214.4" in page
    assert "paid in cash</td><td class=\"n\">₹46,10,130</td>" in page
    assert "wallet-credit Gini, all registered workers" in page and "0.983" in page
    assert "higher than the headline" in page and "the Wallet section’s Gini" not in page
    assert "the Wallet section&#x27;s Gini counts every registered worker" in page
    for raw in ("cash_volume_paise", "calls_per_booking", "gini_earnings", "1e6", "e+0"):
        assert raw not in page, raw


def test_methods_show_set_overrides_and_changes_from_the_parent(tmp_path):
    from sim.provenance import provenance

    run = fake_run(tmp_path / "run")
    (run / "provenance.json").write_text(json.dumps(provenance("growth_5x", ["horizon_days=3", "seed=7"])))
    page = write_report(run).read_text()
    assert "growth_5x (extends baseline)" in page
    assert "changes from baseline</td><td>demand.scale: 1.0 → 5.0" in page
    assert "horizon_days: 365.0 → 3.0; seed: 20250630 → 7" in page
    (run / "provenance.json").unlink()
    assert "not recorded" in write_report(run).read_text()


def test_compare_warns_when_runs_differ_in_horizon_districts_or_policy(tmp_path):
    a = fake_run(tmp_path / "a", days=3)
    b = fake_run(tmp_path / "b", seed=2, days=5)
    text = (b / "scenario.yaml").read_text().replace("[Agra, Lucknow, Varanasi]", "[Agra, Lucknow]")
    (b / "scenario.yaml").write_text(text.replace("policy: nearest", "policy: fair"))
    warnings: list[str] = []
    page = write_compare(a, b, warn=warnings.append).read_text()
    assert [w.split(" (")[0] for w in warnings] == ["run length differs", "districts differ", "dispatch policy differs"]
    assert '<div class="warn">' in page and "A 3 days, B 5 days" in page
    same = fake_run(tmp_path / "c", seed=3)
    assert '<div class="warn">' not in write_compare(a, same, warn=warnings.append).read_text()
    assert len(warnings) == 3
    p = subprocess.run([sys.executable, str(ROOT / "run_sim.py"), "report", str(a), "--compare", str(b)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0 and p.stderr.count("warning: ") == 3, p.stderr


def test_snapshots_are_plotted_against_anchors(tmp_path):
    from reports.snapshots import anchor_checks

    run = add_snapshots(fake_run(tmp_path / "run"))
    data = load_run(run)
    checks = anchor_checks(data.table("snapshots"), data.anchors)
    assert list(checks["quantity"]) == ["registered_workers", "bookings_cum"]  # the 2030 anchor is outside
    assert list(checks["simulated"]) == [51000.0, 4000.0] and list(checks["within"]) == [True, False]
    page = write_report(run).read_text()
    assert "History against published figures" in page and (run / "figures" / "snapshots.png").is_file()
    assert len(_images(page)) == 9


# ------------------------------------------------------------ study plots (compare / sweep)


def fake_metrics(scenario, seed: int, replication: int) -> dict[str, float]:
    """A cheap stand-in for a simulation: metrics that depend on the arm, with noise."""
    from sim.experiments.replications import METRICS

    rng = np.random.default_rng([seed, replication])
    shift = {"nearest": 0.0, "fair": 0.05, "batch": -0.02}.get(scenario.dispatch.policy, 0.0)
    scale = scenario.demand.scale
    return {m: 8674.0 * scale + 120 * rng.standard_normal() if m == "bookings"
            else 0.8 + shift + 0.01 * rng.standard_normal() for m in METRICS}


def test_compare_writes_a_forest_plot_and_plain_numbers(tmp_path):
    from reports.studies import ci_text, plain, write_study_report
    from sim.experiments import StudySpec, run_study, write_study

    res = run_study(StudySpec(kind="compare", policies=("nearest", "fair", "batch"), reps=4), runner=fake_metrics)
    folder = write_study(res, tmp_path / "cmp")
    page = write_study_report(folder).read_text()
    assert (folder / "forest.png").is_file() and len(_images(page)) == 1
    assert "Paired difference from nearest" in page and "fulfilment rate" in page
    text = re.sub(r'src="data:image/png;base64,[^"]*"', "", page)
    assert not re.search(r"\de[+-]\d", text)  # no scientific notation anywhere
    assert ci_text(8674.2, 8554.2, 8794.2) == "8674 ± 120"
    assert ci_text(0.74812, 0.73612, 0.76012) == "0.748 ± 0.012"
    assert plain(0.000123456) == "0.0001235" and plain(123456789.0) == "123456789"
    assert write_study_report(folder).read_text() == page  # rebuilt from the folder: same bytes


def test_sweep_writes_metric_versus_value_lines_with_ci_bands(tmp_path):
    from reports.studies import sweep_figure, write_study_report
    from sim.experiments import StudySpec, run_study, write_study

    res = run_study(StudySpec(kind="sweep", grid=("demand.scale=1,2,4",), reps=3), runner=fake_metrics)
    folder = write_study(res, tmp_path / "sweep")
    page = write_study_report(folder).read_text()
    assert (folder / "sweep.png").is_file() and "Mean ± 95% CI half-width" in page
    s = pd.read_csv(folder / "summary.csv")
    ax = sweep_figure(s, ["demand.scale"]).axes[-1]
    assert list(ax.lines[0].get_xdata()) == [1.0, 2.0, 4.0]
    assert len(ax.collections) == 1  # the CI band
