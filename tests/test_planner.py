"""Expansion planner: target parsing, the bracket search, analytic starts, and the real thing.

The end-to-end test plans a small, capacity-bound case (one district, one category, workers
always on shift, no coverage limit) and re-simulates the answer with fresh seeds: it must
meet the targets, and one fewer worker must not.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.config import load_scenario
from sim.errors import ScenarioError
from sim.planner import (
    PlanSettings,
    evaluate_counts,
    helpline_plan,
    mean_rate_per_day,
    plan,
    planned_categories,
    planning_scenario,
)
from sim.planner_search import (
    Bracket,
    analytic_start,
    meets,
    parse_targets,
    peak_rate_per_min,
    search,
)

ROOT = Path(__file__).resolve().parent.parent


def test_parse_targets():
    t = parse_targets("fulfilment>=0.95, p90_wait_min<=60")
    assert [str(x) for x in t] == ["fulfilment>=0.95", "p90_wait_min<=60"]
    assert t[0].met({"fulfilment_rate": 0.95}) and not t[0].met({"fulfilment_rate": 0.949})
    assert not t[1].met({"wait_assign_p90_min": float("nan")})
    for bad, msg in (("fulfilment>0.9", "cannot read"), ("speed<=3", "unknown metric"),
                     ("p90_wait_min>=60", "needs <="), ("fulfilment>=1.5", "in \\(0, 1\\]")):
        with pytest.raises(ScenarioError, match=msg):
            parse_targets(bad)


@pytest.mark.parametrize("start", [1, 3, 7, 8, 20, 64])
def test_search_finds_the_threshold_of_a_monotone_response(start):
    need = {"a": 7, "b": 1, "c": 30}
    targets = parse_targets("fulfilment>=0.9")
    seen = []

    def evaluate(counts):
        seen.append(dict(counts))
        return {c: {"bookings": 10, "fulfilment_rate": 1.0 if n >= need[c] else 0.5} for c, n in counts.items()}

    br = {c: Bracket(start=min(start, 50), cap=50) for c in need}
    search(br, targets, evaluate)
    assert {c: b.hi for c, b in br.items()} == need
    assert all(b.lo == b.hi - 1 for b in br.values())  # one fewer was simulated (or is zero) and failed
    assert all(min(d.values()) >= 1 for d in seen)  # zero workers is never simulated


def test_search_reports_unreachable_and_zero_demand():
    br = {"x": Bracket(start=2, cap=16), "none": Bracket(start=0, cap=16)}
    n = search(br, parse_targets("fulfilment>=0.99"),
               lambda counts: {c: {"bookings": 5, "fulfilment_rate": 0.5} for c in counts})
    assert br["x"].hi is None and br["x"].lo == 16 and br["none"].done
    assert n == 4  # 2, 4, 8 and 16 workers tried, then the cap stops the search
    assert meets({"bookings": 0}, parse_targets("fulfilment>=0.99"))


def test_analytic_start_grows_with_load_and_tightness():
    t60, t10 = parse_targets("p90_wait_min<=60"), parse_targets("p90_wait_min<=10")
    assert analytic_start(0.0, 60, t60) == 0
    assert analytic_start(1e-4, 60, t60) == 1
    lo, hi = analytic_start(0.05, 60, t60), analytic_start(0.2, 60, t60)
    assert 3 < lo < hi  # load 3 and 12 Erlangs: stability needs more than the load
    assert analytic_start(0.2, 60, t10) >= hi


def test_planning_scenario_keeps_each_category_rate():
    sc = load_scenario("baseline", ["demand.scale=5"])
    full = sc.model_copy(update={"catalog": {k: c.model_copy(update={"enabled": c.enabled or k == "dog_walker"})
                                             for k, c in sc.catalog.items()}})
    sp = planning_scenario(sc, "Lucknow", ["electrician", "dog_walker"], 14, 1)
    assert sp.geography.selected() == ["Lucknow"]
    assert [k for k, c in sp.catalog.items() if c.enabled] == ["electrician", "dog_walker"]
    for c in ("electrician", "dog_walker"):
        assert peak_rate_per_min(sp, 0.03, c) == pytest.approx(peak_rate_per_min(full, 0.03, c), rel=1e-12)
        # Planned alone: the same rate as in the catalogue that also has this category enabled.
        alone, ref = planning_scenario(sc, "Lucknow", [c], 14, 1), full if c == "dog_walker" else sc
        assert mean_rate_per_day(alone, 0.03, c) == pytest.approx(mean_rate_per_day(ref, 0.03, c), rel=1e-12)
    assert sum(mean_rate_per_day(sc, 1.0, c) for c in planned_categories(sc, None)) * 365 == pytest.approx(
        sc.demand.bookings_per_year * 5)
    assert planned_categories(sc, None) == [k for k, c in sc.catalog.items() if c.enabled]
    with pytest.raises(ScenarioError, match="--services: unknown category 'yoga'"):
        planned_categories(sc, ["yoga"])


def test_helpline_plan_scales_with_growth():
    sc = load_scenario("baseline")
    one, five = helpline_plan(sc, 1.0), helpline_plan(sc, 5.0)
    assert list(one["hour"]) == list(range(24))
    assert (five["agents"] >= one["agents"]).all() and five["agents"].sum() > one["agents"].sum()
    closed = one["agents_now"] == 0
    assert (one.loc[closed, "agents"] == 0).all() and (one.loc[~closed, "agents"] > 0).all()
    # Simulation corrects the Erlang A start by a few agents at most, and meets the SL target.
    assert ((five["agents"] - five["agents_analytic"]).abs() <= 3).all()
    assert (five.loc[~closed, "sim_service_level"] >= sc.helpline.sl_target).all()


#: A capacity-bound case: constant demand, workers always on shift and always accepting,
#: fast travel, no coverage radius and no cancellations, so outcomes hinge on the number of
#: workers (not on where the few workers happen to live).  About 1.3 Erlangs: one worker is
#: overloaded (fulfilment 0.86-0.90 over the seeds tried), two are not (0.99-1.0).
TIGHT = ["geography.districts=[Lucknow]", "demand.bookings_per_year=1300000",
         "demand.hour_profile=[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]",
         "demand.weekday_profile=[1,1,1,1,1,1,1]", "workforce.shift_start_h=[0,0]",
         "workforce.shift_hours=[24,24]", "workforce.accept_prob_mean=1.0",
         "lifecycle.cancel_after_assign_prob=0", "lifecycle.patience_mean_min=100000",
         "geography.speed_kmh_urban=120", "geography.speed_kmh_rural=120", "geography.road_factor=1.0",
         "dispatch.params={radius_km: 200}"]


def test_plan_meets_targets_with_fresh_seeds_and_one_fewer_does_not():
    sc = load_scenario("baseline", TIGHT)
    targets = parse_targets("fulfilment>=0.95,p90_wait_min<=240")
    ps = PlanSettings(targets, reps=2, seed=11, min_days=18, min_bookings=300, warmup=2)
    res = plan(sc, ["Lucknow"], ["electrician"], ps)
    row = res.workers.iloc[0]
    n = int(row["workers"])
    assert row["feasible"] and n > 1 and row["start"] >= 1
    assert row["days"] == 18 and row["bookings"] > 300
    sp = planning_scenario(sc, "Lucknow", ["electrician"], row["horizon_days"], 2)
    fresh = {k: evaluate_counts(sp, "Lucknow", {"electrician": k}, seed=97, reps=2)["electrician"]
             for k in (n, n - 1)}
    assert meets(fresh[n], targets), fresh[n]
    assert not meets(fresh[n - 1], targets), fresh[n - 1]


def test_cli_plan_writes_table_map_and_summary(tmp_path):
    out = tmp_path / "plan"
    p = subprocess.run([sys.executable, str(ROOT / "run_sim.py"), "plan", "--districts", "Lucknow,Agra",
                        "--services", "dog_walker,cook", "--days", "7", "--max-days", "60", "--reps", "1",
                        "--min-bookings", "100", "--max-reps", "2",
                        "--max-workers", "8",
                        "--quiet", "--out", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "Active workers needed" in p.stdout and "Helpline agents" in p.stdout
    for f in ("plan_workers.csv", "plan_districts.csv", "plan_helpline.csv", "plan_map.png", "plan_summary.txt"):
        assert (out / f).is_file()
    w = pd.read_csv(out / "plan_workers.csv")
    assert sorted(zip(w["district"], w["category"], strict=True)) == [
        ("Agra", "cook"), ("Agra", "dog_walker"), ("Lucknow", "cook"), ("Lucknow", "dog_walker")]
    assert ((w["workers"] >= 1) & (w["workers"] <= 8)).all()
    assert set(w["reps"]) <= {1, 2} and (w["days"] <= 60).all()


@pytest.mark.parametrize("args,msg", [
    (["--target", "fulfilment>0.9"], "error: --target: cannot read"),
    (["--districts", "Atlantis"], "error: --districts: unknown district 'Atlantis'"),
    (["--services", "yoga"], "error: --services: unknown category 'yoga'"),
    (["--reps", "0"], "error: --reps: must be >= 1 and at most --max-reps"),
    (["--jobs", "0"], "error: --jobs: must be >= 1"),
    (["--days", "5000"], "error: --days: must be > 0 and at most --max-days"),
    (["--warmup", "10"], "error: --max-days: with --warmup at most 3650 days"),
])
def test_cli_plan_bad_input_is_one_line_exit_2(args, msg):
    p = subprocess.run([sys.executable, str(ROOT / "run_sim.py"), "plan", "--quiet", *args],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2 and p.stderr.startswith(msg) and p.stderr.count("\n") == 1, p.stderr


def test_parallel_plan_equals_sequential():
    sc = load_scenario("baseline", ["demand.scale=5"])
    ps = PlanSettings(parse_targets("fulfilment>=0.5,p90_wait_min<=120"), reps=1, seed=3, min_days=7,
                      min_bookings=30, max_days=120, cap=16)
    one = plan(sc, ["Lucknow", "Shravasti"], ["plumber"], ps)
    two = plan(sc, ["Lucknow", "Shravasti"], ["plumber"], ps, jobs=2)
    pd.testing.assert_frame_equal(one.workers, two.workers)
    assert list(one.workers["district"]) == ["Lucknow", "Shravasti"]
