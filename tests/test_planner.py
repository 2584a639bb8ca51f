"""Launch planner: plan files, decisions on confidence intervals, monotone answers, helpline causes.

The end-to-end decision test plans a capacity-bound case whose answer is known (one worker
is overloaded, two are not) and re-simulates the answer with fresh seeds.
"""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.config import load_scenario
from sim.errors import InputError
from sim.experiments.stats import Interval, mean_ci
from sim.plan_file import Cell, parse_plan, resolve_plan
from sim.plan_helpline import BOOKING_CAUSED, caused_calls_per_day, extra_bookings_per_year
from sim.plan_runs import Reuse, evaluate_counts, planning_scenario
from sim.planner import (
    PlanSettings,
    district_share,
    group_days,
    ladder,
    level_reps,
    plan_district,
    rate_groups,
    rate_per_year,
)
from sim.planner_decision import decide, exceedance, judge, parse_targets, pooled_quantile, stack
from sim.planner_search import Bracket, Replications, search

ROOT = Path(__file__).resolve().parent.parent


def test_parse_targets_and_judge_on_intervals():
    t = parse_targets("fulfilment>=0.8, p90_wait_min<=60")
    assert [str(x) for x in t] == ["fulfilment>=0.8", "p90_wait_min<=60"]
    f, w = t
    assert judge(f, Interval(0.85, 0.81, 0.89, 5)) == "pass"
    assert judge(f, Interval(0.80, 0.78, 0.82, 5)) == "tie"
    assert judge(f, Interval(0.70, 0.65, 0.75, 5)) == "fail"
    assert judge(w, Interval(50, 40, 59, 5)) == "pass" and judge(w, Interval(70, 61, 79, 5)) == "fail"
    assert judge(f, Interval(0.9, float("nan"), float("nan"), 1)) == "tie"
    for bad, msg in (("fulfilment>0.9", "cannot read"), ("speed<=3", "unknown metric"),
                     ("p90_wait_min>=60", "needs <="), ("fulfilment>=1.5", "in \\(0, 1\\]")):
        with pytest.raises(InputError, match=msg):
            parse_targets(bad)


def test_wait_quantile_targets_are_judged_on_the_share_above_the_limit():
    targets = parse_targets("p90_wait_min<=60")
    calm = [np.r_[np.full(95, 10.0), np.full(5, 600.0)] for _ in range(6)]  # 5% over 60 min in every rep
    assert decide({"bookings": np.full(6, 100.0), "waits": calm}, targets) == "pass"
    busy = [np.r_[np.full(70, 10.0), np.full(30, 600.0)] for _ in range(6)]  # 30% over: the p90 is 600
    assert decide({"bookings": np.full(6, 100.0), "waits": busy}, targets) == "fail"
    assert list(exceedance([np.array([1.0, 100.0]), np.zeros(0)], 60)[:1]) == [0.5]
    p90, hi = pooled_quantile({"waits": calm}, 0.9)
    assert p90 == 10.0 and hi >= p90


def _noisy(need: dict[str, float], sd: float, seed: int = 0):
    """A synthetic response: fulfilment = min(1, n / need) plus noise, per replication (CRN by seed)."""

    def evaluate(counts, reps, categories):
        out = []
        for r in reps:
            rng = np.random.default_rng([seed, r])
            e = rng.normal(0, sd)
            out.append({c: {"bookings": 10.0, "fulfilment": min(1.0, n / need[c]) + e, "waits": np.ones(10)}
                        for c, n in counts.items()})
        return out

    return evaluate


def test_ci_decision_finds_the_known_answer_and_ties_go_up():
    targets = parse_targets("fulfilment>=0.75")
    # fulfilment n/10: 8 workers give 0.8 (passes with confidence), 7 give 0.7 (fails).
    br = {"a": Bracket(start=1, cap=50), "b": Bracket(start=30, cap=50)}
    search(br, targets, _noisy({"a": 10, "b": 10}, sd=0.01), Replications(4, 4, 12))
    assert br["a"].answer == 8 and br["b"].answer == 8
    assert br["a"].lo == 7 and decide(br["a"].at_lo, targets) == "fail"
    # n/8 at 6 workers is exactly 0.75: a tie at any number of replications, so the answer is 7,
    # once one fewer's CI is narrower than the resolution (a genuine tie, not too few replications).
    tie = {"c": Bracket(start=1, cap=50)}
    search(tie, targets, _noisy({"c": 8}, sd=0.04, seed=3), Replications(4, 4, 12, 200, 0.02))
    lo = tie["c"].at_lo["fulfilment"]
    assert tie["c"].answer == 7 and decide(tie["c"].at_lo, targets) == "tie"
    assert 12 < lo.size < 200 and mean_ci(lo).half_width <= 0.02  # more than the bisection's, fewer than the cap
    # A floor (the answer at lower demand) is never undercut; zero demand needs nobody.
    fl = {"d": Bracket(start=2, cap=50, floor=12), "none": Bracket(start=0, cap=50)}
    search(fl, targets, _noisy({"d": 10, "none": 1}, sd=0.01), Replications(4, 4, 12))
    assert fl["d"].answer == 12 and fl["none"].answer == 0


def test_boundary_replications_move_the_answer_to_the_smallest_count_that_passes():
    targets = parse_targets("fulfilment>=0.75")
    # fulfilment n/10 with a wide spread: 8 workers (0.8) are still undecided after 12 replications,
    # so the bisection alone answers 9; the boundary pair's extra replications show 8 passes.
    noisy = _noisy({"a": 10}, sd=0.1, seed=3)
    alone = {"a": Bracket(start=1, cap=50)}
    search(alone, targets, noisy, Replications(4, 4, 12, 12))
    assert alone["a"].answer == 9 and decide(alone["a"].at_lo, targets) == "tie"
    br = {"a": Bracket(start=1, cap=50)}
    search(br, targets, noisy, Replications(4, 4, 12, 60))
    b = br["a"]
    assert b.answer == 8 and decide(b.at_hi, targets) == "pass" and decide(b.at_lo, targets) == "fail"
    assert b.at_hi["fulfilment"].size == b.at_lo["fulfilment"].size > 12  # the pair on the same replications
    # At the floor (a lower demand's answer) one fewer is never an answer: the floor is confirmed
    # once it passes, and held when one fewer passes too on the same replications (no boundary
    # replications are spent on a count that cannot be chosen).
    fl = {"a": Bracket(start=1, cap=50, floor=12)}
    search(fl, targets, noisy, Replications(4, 4, 12, 40))
    f = fl["a"]
    assert f.answer == 12 and f.held and decide(f.at_hi, targets) == decide(f.at_lo, targets) == "pass"
    assert f.at_lo["fulfilment"].size == f.at_hi["fulfilment"].size < 40
    # At a demand level whose answer is only the next level's floor (not in the table), one fewer
    # than an answer at the floor is not simulated at all: the same answer, on fewer runs.
    nt = {"a": Bracket(start=1, cap=50, floor=12, table=False)}
    search(nt, targets, noisy, Replications(4, 4, 12, 40))
    assert nt["a"].answer == 12 and not nt["a"].held and 11 not in nt["a"].seen and nt["a"].confirmed


def test_unreachable_is_reported_at_the_cap():
    br = {"x": Bracket(start=2, cap=16)}
    n = search(br, parse_targets("fulfilment>=0.99"), _noisy({"x": 1000}, sd=0.01), Replications(3, 3, 6))
    assert br["x"].hi is None and br["x"].done and br["x"].answer == 16 and n == 4  # 2, 4, 8, 16


def test_runs_of_a_rare_service_are_long_and_replications_make_up_what_the_longest_lack():
    """A run holds ``rep_bookings`` of its rarest cell, lengthened up to ``max_days``; past that,
    every replication count is multiplied by the shortfall (at most 16), never for common cells."""
    sc = load_scenario("baseline")
    targets = parse_targets("fulfilment>=0.8")
    rare = [Cell("Kaushambi", "building_construction", 1.0)]
    rate = rate_per_year(sc, "Kaushambi", "building_construction")
    assert 0.1 < rate < 0.3  # a booking every few years
    ps = PlanSettings(targets)
    assert group_days(sc, "Kaushambi", rare, ps, 1.0) == 36500.0  # a century; the same bookings as common runs
    k = math.ceil(30 / (rate * 100))  # bookings a century-long run holds short of 30
    assert k > 1 and level_reps(sc, "Kaushambi", rare, ps, 1.0, 36500.0) == Replications(4 * k, 4 * k, 12 * k, 40 * k)
    ten = PlanSettings(targets, max_days=3650.0)
    k = math.ceil(30 / (rate * 10))
    assert level_reps(sc, "Kaushambi", rare, ten, 1.0, 3650.0) == Replications(4 * k, 4 * k, 12 * k, 40 * k)
    common = [Cell("Lucknow", "electrician", 1.0)]
    assert level_reps(sc, "Lucknow", common, ten, 1.0, group_days(sc, "Lucknow", common, ten, 1.0)) == Replications()


def test_ladder_and_rate_groups():
    assert ladder([1.0]) == [1.0] and ladder([0.5]) == [0.5]
    assert ladder([2.0, 1.0]) == [1.0, 2.0] and ladder([5.0]) == [1.0, 2.0, 4.0, 5.0]
    assert rate_groups({"a": 1.0, "b": 1.9, "c": 5.0, "d": 50.0}) == [["a", "b"], ["c"], ["d"]]


def _plan(**over) -> dict:
    raw = {"name": "t", "scenario": "baseline", "changes": [
        {"date": "2026-01-01", "enable": ["caregiver", "dog_walker"], "districts": ["Ballia", "Mau"]},
        {"date": "2026-01-01", "demand_growth": 2.0, "districts": ["Lucknow"], "services": ["electrician"]},
        {"date": "2025-01-01", "recruit": 3, "districts": ["Mau"], "services": ["caregiver"]},
        {"date": "2025-07-01", "add_agents": 2, "hours": [8, 10]}]}
    raw.update(over)
    return raw


def test_plan_resolves_to_cells_and_a_dated_scenario():
    rp = resolve_plan(parse_plan(_plan(set={"demand.surges": [
        {"start_day": 10, "end_day": 20, "multiplier": 1.5}]})))
    cells = {(c.district, c.category): c for c in rp.cells}
    assert sorted(cells) == [("Ballia", "caregiver"), ("Ballia", "dog_walker"), ("Lucknow", "electrician"),
                             ("Mau", "caregiver"), ("Mau", "dog_walker")]
    assert cells["Lucknow", "electrician"].growth == 2.0 and cells["Mau", "caregiver"].recruited == 3
    assert cells["Ballia", "caregiver"].enabled_day == (dt.date(2026, 1, 1) - dt.date(2025, 7, 1)).days
    base = load_scenario("baseline")
    sur = rp.planned.demand.surges
    assert sur[: len(base.demand.surges)] == base.demand.surges  # added to the scenario's own, not replaced
    assert any(s.multiplier == 1.5 for s in sur)
    zero = [s for s in sur if s.multiplier == 0 and s.categories == ("caregiver",)]
    assert {d for s in zero for d in s.districts} == set(rp.planned.geography.selected())  # closed until enabled
    assert rp.planned.catalog["caregiver"].enabled and not rp.today.catalog["caregiver"].enabled
    assert rp.planned.helpline.agents_by_hour[8] == base.helpline.agents_by_hour[8] + 2
    replaced = resolve_plan(parse_plan(_plan(set={"demand.surges": []}, replace=["demand.surges"])))
    assert not [s for s in replaced.setting.demand.surges if s.multiplier != 0]


@pytest.mark.parametrize("change,msg", [
    ({"plan": 1}, "plan.plan: unknown key"),
    ({"changes": [{"date": "2026-01-01", "enable": ["caregiver"], "colour": "red"}]},
     "plan.changes.0.colour: unknown key"),
    ({"changes": [{"date": "someday", "demand_growth": 2}]}, "plan.changes.0.date:"),
    ({"changes": [{"date": "2026-01-01", "demand_growth": 2, "recruit": 3, "services": ["cook"]}]},
     "plan.changes.0: needs exactly one of"),
    ({"changes": [{"date": "2026-01-01", "demand_growth": -1}]}, "plan.changes.0.demand_growth:"),
    ({"changes": [{"date": "2026-01-01", "enable": ["yoga"]}]}, "plan.changes.0.enable: unknown service 'yoga'"),
    ({"changes": [{"date": "2026-01-01", "demand_growth": 2, "districts": ["Atlantis"]}]},
     "plan.changes.0.districts: unknown district 'Atlantis'"),
    ({"replace": ["demand.surges"]}, "plan.replace:"),
    ({"set": {"demand.surges": [{"start_day": 5, "end_day": 1, "multiplier": 2}]}}, "plan.set: demand.surges"),
])
def test_plan_schema_errors_exit_2_naming_the_field(tmp_path, change, msg, capsys):
    import yaml

    from run_sim import main

    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump(_plan(**change)))
    assert main(["plan", str(f), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {msg}") and err.count("\n") == 1, err


def test_helpline_calls_follow_the_demand_change():
    raw = {"name": "lko", "changes": [{"date": "2026-01-01", "demand_growth": 2.0, "districts": ["Lucknow"]}]}
    rp = resolve_plan(parse_plan(raw))
    today = rp.today
    workers = pd.DataFrame({"expected_bookings_per_year": [rate_per_year(rp.setting, c.district, c.category)
                                                           * c.growth for c in rp.cells]})
    extra = extra_bookings_per_year(rp, workers)
    # Doubling a district adds its whole demand once: its share of the state's bookings ...
    share = district_share(today, "Lucknow")
    assert extra == pytest.approx(today.demand.bookings_per_year * share, rel=1e-9)
    # ... and so its share of today's booking-caused calls (not of all calls: no global multiplier).
    added = caused_calls_per_day(today, extra, 0.0)
    hl = today.helpline
    if hl.arrivals == "causes":  # calls from their causes (issue 12): so many calls per booking
        c = hl.causes
        per_booking = today.demand.channel_shares["helpline"] + c.followups_per_booking + c.complaints_per_booking
        booking_calls = today.demand.bookings_per_year * per_booking / 365.0
    else:
        booking_calls = hl.calls_per_day * sum(hl.type_shares[t] for t in BOOKING_CAUSED)
    assert added["booking_caused"] == pytest.approx(share * booking_calls, rel=1e-9)
    assert added["worker_caused"] == 0 and added["information"] == 0
    assert caused_calls_per_day(today, 2 * extra, 0.0)["booking_caused"] == pytest.approx(2 * added["booking_caused"])


def test_staff_keeps_closed_hours_closed():
    from sim.helpline.staffing import staffing_table

    sc = load_scenario("baseline", ["helpline.calls_per_day=300"])
    t = staffing_table(sc.helpline, sc.start_date, 7, 0.8, 20.0, reps=1, hours=1.0, min_calls=100)
    closed = t["agents_now"] == 0
    assert closed.any() and (t.loc[closed, "agents_simulated"] == 0).all()
    assert (t.loc[~closed, "agents_simulated"] >= 1).all()


#: Lucknow electricians planned in short runs: enough demand at x1 for a quick, real search.
QUICK = PlanSettings(parse_targets("fulfilment>=0.6"), reps=Replications(3, 3, 6, 12), seed=5, min_days=120,
                     max_days=120, cap=64)


@pytest.mark.parametrize("district", ["Lucknow", "Agra", "Varanasi"])
def test_more_demand_never_needs_fewer_workers(district):
    sc = load_scenario("baseline")
    answers = {}
    for g in (1.0, 2.0, 3.0, 4.0):
        row = plan_district(sc, sc, district, [Cell(district, "electrician", g)], QUICK)[0]
        answers[g] = row["active_needed"]
        assert row["feasible"] and row["fulfilment_ci_lo"] >= 0.6
    assert answers[1.0] <= answers[2.0] <= answers[3.0] and answers[2.0] <= answers[4.0], answers


#: A capacity-bound case: constant demand, workers always on shift and always accepting,
#: fast travel, no coverage radius and no cancellations, so outcomes hinge on the number of
#: workers.  About 1.3 Erlangs: one worker is overloaded (fulfilment ~0.88), two are not (~0.99).
TIGHT = ["geography.districts=[Lucknow]", "demand.bookings_per_year=1300000",
         "demand.hour_profile=[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]",
         "demand.weekday_profile=[1,1,1,1,1,1,1]", "demand.surges=[]", "workforce.shift_start_h=[0,0]",
         "workforce.shift_hours=[24,24]", "workforce.accept_prob_mean=1.0",
         "lifecycle.cancel_after_assign_prob=0", "lifecycle.patience_mean_min=100000",
         "geography.speed_kmh_urban=120", "geography.speed_kmh_rural=120", "geography.road_factor=1.0",
         "dispatch.params={radius_km: 200}"]


def test_known_answer_meets_targets_with_fresh_seeds_and_one_fewer_does_not():
    sc = load_scenario("baseline", TIGHT)
    targets = parse_targets("fulfilment>=0.95")
    ps = PlanSettings(targets, reps=Replications(3, 3, 9), seed=11, min_days=10, max_days=10, cap=16)
    row = plan_district(sc, sc, "Lucknow", [Cell("Lucknow", "electrician")], ps)[0]
    assert row["active_needed"] == 2 and row["fulfilment_ci_lo"] >= 0.95 and row["fewer_fulfilment_ci_hi"] < 0.95
    sp = planning_scenario(sc, "Lucknow", {"electrician": 1.0}, 10, 0)
    for n, verdict in ((2, "pass"), (1, "fail")):
        rows = evaluate_counts(sp, "Lucknow", {"electrician": n}, seed=97, reps=range(10))  # 10 fresh seeds
        assert decide(stack([r["electrician"] for r in rows]), targets) == verdict, rows


def test_reused_draws_and_a_subset_of_categories_give_the_joint_runs_kpis():
    """The search's cheap runs (bookings, draws and workers reused; only the categories that
    still need runs simulated) give each category exactly the KPIs of a full run from scratch."""
    sc = load_scenario("baseline")
    cats = ["ac_repair", "carpenter", "electrician", "plumber"]
    sp = planning_scenario(sc, "Agra", {c: 2.0 for c in cats}, 120, 10)
    sampled = Reuse()
    for counts, subset in (({c: 3 for c in cats}, ["carpenter"]), ({c: 5 for c in cats}, ["ac_repair", "plumber"]),
                           ({"ac_repair": 9, "carpenter": 2, "electrician": 4, "plumber": 7}, cats)):
        cheap = evaluate_counts(sp, "Agra", counts, seed=5, reps=range(2), sampled=sampled, categories=subset)
        full = evaluate_counts(sp, "Agra", counts, seed=5, reps=range(2))
        assert sum(r[c]["bookings"] for r in full for c in subset) > 0
        for a, b in zip(cheap, full, strict=True):
            assert sorted(a) == sorted(subset)
            for c in subset:
                assert a[c]["bookings"] == b[c]["bookings"] and np.array_equal(a[c]["waits"], b[c]["waits"])
                assert {k: v for k, v in a[c].items() if k != "waits"} == pytest.approx(
                    {k: v for k, v in b[c].items() if k != "waits"}, nan_ok=True, rel=0, abs=0)


def test_cli_plan_file_writes_tables_map_summary_and_html(tmp_path):
    import yaml

    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump({"name": "small", "target": "fulfilment>=0.6", "changes": [
        {"date": "2025-07-01", "demand_growth": 1.0, "districts": ["Lucknow", "Agra"], "services": ["electrician"]}]}))
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, str(ROOT / "run_sim.py"), "plan", str(f), "--min-days", "120", "--max-days",
                        "120", "--reps", "3", "--max-reps", "6", "--cores", "2", "--quiet", "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    for name in ("plan_workers.csv", "plan_helpline.csv", "plan.json", "plan_scenario.yaml", "plan_map.png",
                 "plan_summary.txt", "plan_report.html"):
        assert (out / name).is_file(), name
    w = pd.read_csv(out / "plan_workers.csv")
    assert list(w["district"]) == ["Agra", "Lucknow"]
    for col in ("expected_bookings_per_year", "active_today", "registered_today", "active_needed",
                "extra_active_to_recruit", "registered_equivalent", "fulfilment", "fulfilment_ci_lo",
                "fulfilment_ci_hi", "p90_wait_min", "p90_wait_ci_hi"):
        assert col in w.columns, col
    assert (w["fulfilment_ci_lo"] >= 0.6).all()
    hl = pd.read_csv(out / "plan_helpline.csv")
    assert list(hl["hour"]) == list(range(24)) and (hl.loc[hl["agents_today"] == 0, "agents_needed"] == 0).all()
    assert "Lucknow" in p.stdout and "bookings a year" in p.stdout and "helpline calls a day" in p.stdout


def test_planned_scenario_simulates_the_dates(tmp_path):
    import yaml

    from sim.plan_file import load_planned_scenario
    from sim.runner import run_one

    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump({"name": "dated", "set": {"geography.districts": ["Ballia", "Mau"],
                                                          "horizon_days": 60, "demand.scale": 40},
                                 "changes": [{"date": "2025-08-01", "enable": ["caregiver"], "districts": ["Ballia"]},
                                             {"date": "2025-08-15", "demand_growth": 3.0, "districts": ["Mau"],
                                              "services": ["electrician"]}]}))
    sc = load_planned_scenario(f, ("money.enabled=false", "helpline.enabled=false"))
    bk = run_one(sc, 3, 0).tables["bookings"]
    care = bk[bk["category"] == "caregiver"]
    assert len(care) > 0 and set(care["district"]) == {"Ballia"} and care["created_min"].min() >= 31 * 1440
    el = bk[(bk["category"] == "electrician") & (bk["district"] == "Mau")]
    before, after = (el["created_min"] < 45 * 1440).sum() / 45, (el["created_min"] >= 45 * 1440).sum() / 15
    assert after > 2 * before  # x3 from 15 August (Poisson noise allowed)


@pytest.mark.parametrize("path", sorted((ROOT / "plans").glob("*.yaml")), ids=lambda p: p.name)
def test_every_plan_file_resolves(path):
    from sim.plan_file import load_plan

    pf = load_plan(path)
    rp = resolve_plan(pf)
    assert rp.cells and parse_targets(pf.target or "fulfilment>=0.8")


def test_dask_and_serial_plans_are_identical():
    from distributed import Client

    from sim.planner import plan, run_tasks

    raw = {"name": "two", "changes": [{"date": "2025-07-01", "demand_growth": 1.0, "districts": ["Lucknow", "Agra"],
                                       "services": ["electrician"]}]}
    rp = resolve_plan(parse_plan(raw))
    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        assert run_tasks([4.0, 9.0], np.sqrt, dask=client) == [2.0, 3.0]
        on_dask = plan(rp, QUICK, dask=client, helpline_reps=1)
    serial = plan(rp, QUICK, helpline_reps=1)
    pd.testing.assert_frame_equal(on_dask.workers, serial.workers)


@pytest.mark.slow
def test_lucknow_answers_are_monotone_and_hold_on_fresh_seeds():
    """Issue 14's acceptance on one service (``bench/bench_plan.py lucknow`` prints all of them).

    x1, x2, x4 answers are non-decreasing; re-simulated with 10 fresh seeds, the answer is not
    shown to miss the targets and one fewer is not shown to meet them (their 95% verdicts).
    The fresh means are reported by the bench, not asserted: an answer just above the target
    has a fresh 10-replication mean below it by chance alone.
    """
    from sim.planner import recheck

    targets = parse_targets("fulfilment>=0.8,p90_wait_min<=60")
    sc = load_scenario("baseline")
    ps = PlanSettings(targets, seed=20250630)
    last = 0
    for g in (1.0, 2.0, 4.0):
        row = plan_district(sc, sc, "Lucknow", [Cell("Lucknow", "electrician", g)], ps)[0]
        n = row["active_needed"]
        assert n >= last and row["fulfilment_ci_lo"] >= 0.8, (g, row)
        fresh = recheck(sc, "Lucknow", "electrician", g, n, row["days"], targets, seed=20251630)
        assert fresh[n][0] != "fail" and fresh[n - 1][0] != "pass", (g, n, fresh)
        last = n
