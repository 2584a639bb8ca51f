"""Experiments: CIs and their coverage, the stopping rule, CRN, serial = parallel = Dask, the CLI."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from cli import experiments as cli
from sim.config import load_scenario
from sim.errors import InputError, ScenarioError
from sim.experiments import run_study
from sim.experiments.arms import parse_grid, parse_policy, policy_arms, split_top
from sim.experiments.replications import Pool, Precision, replicate, replicate_until, to_long
from sim.experiments.stats import mean_ci, paired_ci, paired_table, reps_needed, summary_table
from sim.runner import run_one
from sim.seeds import Streams
from tests.conftest import TEST_SCENARIOS, run_cli

SMALL = str(TEST_SCENARIOS / "small.yaml")
TINY = ["horizon_days=5", "helpline.enabled=false", "money.enabled=false"]   # ~0.1 s per run
EFFECT = {"nearest": 0.0, "fair": 1.0, "batch": -0.5}


def known_runner(sc, seed: int, replication: int) -> dict[str, float]:
    """A cheap stand-in for the model with a known answer.

    ``score`` is the mean of 20 draws from N(patience_mean_min + EFFECT[policy], 10²); the
    noise comes from the replication's streams, so policies share it (CRN), as in the model.
    """
    x = Streams(seed, replication)["arrivals"].normal(0.0, 10.0, 20)
    return {"score": float(sc.lifecycle.patience_mean_min + EFFECT[sc.dispatch.policy] + x.mean()),
            "const": 1.0}


def small(extra=()):
    return load_scenario(SMALL, [*TINY, *extra])


def args_for(command: str, *argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    cli.add_arguments(p, command)
    return p.parse_args(list(argv))


def execute(args: argparse.Namespace, command: str, runner=None):
    """Run the study the options describe, in this process; ``(tables, meta)``."""
    kw = {"runner": runner} if runner else {}
    res = run_study(cli.spec_from_args(args, command), Pool(cores=1), **kw)
    return res.tables, res.meta


# ------------------------------------------------------------------ statistics


def test_mean_ci_matches_scipy_and_handles_small_samples():
    x = [3.0, 5.0, 4.0, 8.0, np.nan]
    ci = mean_ci(x)
    lo, hi = sps.t.interval(0.95, 3, loc=5.0, scale=sps.sem([3, 5, 4, 8]))
    assert (ci.mean, ci.n) == (5.0, 4) and ci.lo == pytest.approx(lo) and ci.hi == pytest.approx(hi)
    one = mean_ci([2.0])
    assert one.mean == 2.0 and np.isnan(one.lo) and one.n == 1
    assert mean_ci([]).n == 0
    d = paired_ci(np.array([1.0, 2.0, np.nan]), np.array([2.0, 4.0, 5.0]))
    assert d.n == 2 and d.mean == pytest.approx(1.5)


def test_t_interval_covers_the_true_mean_95_percent_of_the_time():
    # Normal data: the t interval is exact, so coverage is Binomial(trials, 0.95).
    trials, n, mu = 4000, 8, 3.7
    rng = np.random.default_rng(20250630)
    x = rng.normal(mu, 2.0, (trials, n))
    hits = sum(mean_ci(row).lo <= mu <= mean_ci(row).hi for row in x)
    assert sps.binomtest(int(hits), trials, 0.95).pvalue > 1e-4


def test_pipeline_coverage_on_a_known_answer():
    """Through replicate() and the tables: each study's CIs cover the true mean and effect ~95%."""
    base = small()
    arms = policy_arms(base, ["nearest", "fair"])
    mu = base.lifecycle.patience_mean_min
    studies, cover_mean, cover_diff = 150, 0, 0
    for s in range(studies):
        long = to_long(replicate(arms, 1000 + s, range(6), known_runner), "policy")
        summ = summary_table(long, "policy").set_index(["policy", "metric"])
        lo, hi = summ.loc[("nearest", "score"), ["ci_lo", "ci_hi"]]
        cover_mean += lo <= mu <= hi
        pr = paired_table(long, "policy").set_index(["policy", "metric"]).loc[("fair", "score")]
        cover_diff += pr["ci_lo"] <= 1.0 <= pr["ci_hi"]
    assert sps.binomtest(cover_mean, studies, 0.95).pvalue > 1e-4
    # CRN in the stand-in is perfect: the paired difference is exactly the effect
    assert cover_diff == studies


def test_reps_needed_is_the_smallest_count_meeting_the_target():
    x = np.random.default_rng(1).normal(0, 1, 10)
    s, target = x.std(ddof=1), 0.3
    n = reps_needed(x, target)
    hw = lambda k: sps.t.ppf(0.975, k - 1) * s / np.sqrt(k)  # noqa: E731
    assert hw(n) <= target < hw(n - 1)
    assert reps_needed(x, 100.0) == 10           # already precise enough: no more
    assert reps_needed(x, 1e-9, max_reps=50) == 50
    assert reps_needed([1.0], 0.1) == 2


def test_replicate_until_meets_the_target_and_is_deterministic():
    arms = policy_arms(small(), ["nearest", "batch"])
    targets = [Precision("score", 1.5)]
    a = replicate_until(arms, 7, targets, 3, 200, known_runner)
    b = replicate_until(arms, 7, targets, 3, 200, known_runner)
    pd.testing.assert_frame_equal(a, b)
    n = a["replication"].nunique()
    assert n > 3 and (a.groupby("arm")["replication"].nunique() == n).all()   # arms stay paired
    for _, g in a.groupby("arm"):
        assert mean_ci(g["score"]).half_width <= 1.5
    capped = replicate_until(arms, 7, [Precision("score", 0.001)], 3, 12, known_runner)
    assert capped["replication"].nunique() == 12
    rel = replicate_until(arms, 7, [Precision("score", 0.002, relative=True)], 3, 200, known_runner)
    ci = mean_ci(rel.loc[rel["arm"] == 0, "score"])
    assert ci.half_width <= 0.002 * abs(ci.mean)


def test_paired_target_needs_fewer_replications_under_crn():
    arms = policy_arms(small(), ["nearest", "fair"])
    on_means = replicate_until(arms, 7, [Precision("score", 1.0)], 3, 200, known_runner)
    on_diffs = replicate_until(arms, 7, [Precision("score", 1.0, paired=True)], 3, 200, known_runner)
    # the stand-in's noise is common to both arms, so the difference is known after 3
    assert on_diffs["replication"].nunique() == 3 < on_means["replication"].nunique()


# ------------------------------------------------------------------ arms and parsing


def test_policy_specs_and_grids_parse():
    assert parse_policy("fair:criterion=longest_idle:share_radius_km=5") == (
        "fair", {"criterion": "longest_idle", "share_radius_km": 5})
    assert split_top("[Lucknow,Agra],[Kanpur Nagar]") == ["[Lucknow,Agra]", "[Kanpur Nagar]"]
    assert parse_grid(["workforce.registered=100,200", "geography.districts=[Lucknow],[Lucknow,Agra]"]) == [
        ("workforce.registered", ["100", "200"]), ("geography.districts", ["[Lucknow]", "[Lucknow,Agra]"])]
    with pytest.raises(ScenarioError, match="--grid"):
        parse_grid(["nokey"])
    with pytest.raises(ScenarioError, match="--policies"):
        parse_policy("fair:criterion")


def test_policy_arms_keep_shared_params_and_drop_foreign_ones():
    base = small(["dispatch.policy=rating_weighted", "dispatch.params={radius_km: 12, alpha: 0.2}"])
    arms = policy_arms(base, ["nearest", "rating_weighted", "batch:window_s=30"])
    assert [a.scenario.dispatch.params for a in arms] == [
        {"radius_km": 12}, {"radius_km": 12, "alpha": 0.2}, {"radius_km": 12, "window_s": 30}]
    with pytest.raises(ScenarioError, match="dispatch.policy"):
        policy_arms(base, ["teleport"])
    with pytest.raises(ScenarioError, match="dispatch.params.k"):
        policy_arms(base, ["broadcast:k=0"])


def test_cli_compare_with_injected_runner():
    args = args_for("compare", "--scenario", SMALL, "--policies", "nearest,fair,batch", "--reps", "5",
                    "--cores", "1", "--quiet", *[x for s in TINY for x in ("--set", s)])
    tables, meta = execute(args, "compare", runner=known_runner)
    rep = tables["replications"]
    assert list(rep.columns) == ["policy", "replication", "metric", "value"] and len(rep) == 3 * 5 * 2
    assert list(tables["summary"].columns) == ["policy", "metric", "mean", "ci_lo", "ci_hi", "n"]
    pr = tables["paired"].set_index(["policy", "metric"])
    assert pr.loc[("fair", "score"), "mean_diff"] == pytest.approx(1.0)
    assert pr.loc[("batch", "score"), "mean_diff"] == pytest.approx(-0.5)
    assert meta["replications"] == 5 and meta["arms"] == ["nearest", "fair", "batch"]
    text = cli.render(tables, "policy")
    assert "paired differences vs nearest" in text and "1 ± 0" in text


def test_cli_sweep_with_injected_runner():
    args = args_for("sweep", "--scenario", SMALL, "--grid", "lifecycle.patience_mean_min=100,200",
                    "--grid", "dispatch.policy=nearest,fair", "--reps", "3", "--cores", "1", "--quiet",
                    *[x for s in TINY for x in ("--set", s)])
    tables, meta = execute(args, "sweep", runner=known_runner)
    rep = tables["replications"]
    assert list(rep.columns[:4]) == ["point", "lifecycle.patience_mean_min", "dispatch.policy", "replication"]
    assert len(rep) == 4 * 3
    pm = "lifecycle.patience_mean_min"
    assert list(dict.fromkeys(rep["point"])) == [
        f"{pm}=100 dispatch.policy=nearest", f"{pm}=100 dispatch.policy=fair",
        f"{pm}=200 dispatch.policy=nearest", f"{pm}=200 dispatch.policy=fair"]
    s = tables["summary"].set_index(["point", "metric"])
    # the noise is common to all points: mean differences are exact
    assert (s.loc[(f"{pm}=200 dispatch.policy=fair", "score"), "mean"]
            - s.loc[(f"{pm}=100 dispatch.policy=nearest", "score"), "mean"]) == pytest.approx(101)
    assert "dispatch.policy" in tables["summary"].columns
    text = cli.render(tables, "point")
    assert f"p4: {pm}=200 dispatch.policy=fair" in text and "paired differences vs p1" in text


def test_cli_precision_adds_replications_until_precise():
    argv = ["--scenario", SMALL, "--policies", "nearest,fair", "--reps", "3", "--cores", "1", "--quiet",
            "--precision", "fulfilment_rate=2%", *[x for s in TINY for x in ("--set", s)]]
    tables, meta = execute(args_for("compare", *argv, "--precision", "wait_assign_mean_min=1.0"), "compare")
    s = tables["summary"].set_index(["policy", "metric"])
    for p in ("nearest", "fair"):
        f = s.loc[(p, "fulfilment_rate")]
        assert (f["ci_hi"] - f["ci_lo"]) / 2 <= 0.02 * f["mean"]
        w = s.loc[(p, "wait_assign_mean_min")]
        assert (w["ci_hi"] - w["ci_lo"]) / 2 <= 1.0
    assert 3 < meta["replications"] < 200


def test_cli_sweep_runs_the_model():
    argv = ["--scenario", SMALL, "--grid", "workforce.active_share=0.1,0.5", "--reps", "2", "--cores", "1",
            "--quiet", *[x for s in TINY for x in ("--set", s)]]
    tables, _ = execute(args_for("sweep", *argv), "sweep")
    rep = tables["replications"].set_index(["workforce.active_share", "replication"])
    # more active workers: every replication fulfils more (same demand under CRN)
    assert (rep.loc["0.5", "fulfilment_rate"] > rep.loc["0.1", "fulfilment_rate"]).all()
    assert (rep.loc["0.5", "bookings"] == rep.loc["0.1", "bookings"]).all()


def test_unreachable_dask_scheduler_is_a_one_line_error():
    with pytest.raises(InputError, match="--dask"):
        with Pool(dask="tcp://127.0.0.1:9", connect_timeout_s=1):
            pass


@pytest.mark.parametrize("argv, message", [
    (["compare", "--policies", "nearest,teleport", "--reps", "2"], "dispatch.policy: unknown policy"),
    (["compare", "--policies", "nearest", "--reps", "1"], "reps: at least 2"),
    (["compare", "--policies", "nearest", "--precision", "speed=1"], "--precision"),
    (["compare", "--policies", "nearest", "--cores", "0"], "--cores"),
    (["sweep", "--grid", "workforce.registered=-5,10", "--reps", "2"], "workforce.registered"),
])
def test_cli_bad_input_is_one_line_and_exit_2(argv, message):
    r = run_cli(*argv, "--scenario", SMALL, "--quiet")
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: ") and message in r.stderr and r.stderr.count("\n") == 1


# ------------------------------------------------------------------ the real model


def test_common_random_numbers_same_demand_and_workers_for_every_policy():
    runs = {p: run_one(small([f"dispatch.policy={p}"]), seed=11, replication=2).tables
            for p in ("nearest", "fair", "broadcast")}
    cols = ["created_min", "district", "category", "channel", "lat", "lon", "price_paise"]
    wcols = ["worker_id", "district", "skills", "active", "lat", "lon", "shift_start_h", "accept_prob"]
    ref = runs["nearest"]
    for p in ("fair", "broadcast"):
        pd.testing.assert_frame_equal(runs[p]["bookings"][cols], ref["bookings"][cols])
        pd.testing.assert_frame_equal(runs[p]["workers"][wcols], ref["workers"][wcols])
    assert not (runs["fair"]["bookings"]["worker_id"].equals(ref["bookings"]["worker_id"]))  # policies differ
    other = run_one(small(), seed=11, replication=3).tables["bookings"]["created_min"].to_numpy()
    mine = ref["bookings"]["created_min"].to_numpy()
    assert other.shape != mine.shape or not np.array_equal(other, mine)   # replications differ


def test_paired_differences_vary_less_than_independent_ones():
    arms = policy_arms(small(), ["nearest", "fair"])
    r = 12
    wide = replicate(arms, 5, range(2 * r))
    a = wide[wide["arm"] == 0].set_index("replication")
    b = wide[wide["arm"] == 1].set_index("replication")
    for metric in ("fulfilment_rate", "wait_assign_mean_min"):
        paired = (b[metric].iloc[:r].to_numpy() - a[metric].iloc[:r].to_numpy())
        indep = (b[metric].iloc[r:].to_numpy() - a[metric].iloc[:r].to_numpy())  # B on other draws
        ratio = indep.var(ddof=1) / paired.var(ddof=1)
        # one-sided F test at the 1% level: CRN cuts the variance ~50-fold here (8-270 seen
        # over seeds), so failing by chance would need an observed ratio < 1/10 of the true one
        assert sps.f.sf(ratio, r - 1, r - 1) < 0.01, (metric, ratio)
    assert (a["bookings"] == b["bookings"]).all()


def test_model_bookings_ci_covers_the_analytic_expected_count():
    """A known answer through the real model: bookings are Poisson with mean ∫ rate dt."""
    from sim.catalog import catalog_arrays
    from sim.demand import DemandModel
    from sim.geography import district_map

    sc = small(["horizon_days=2"])   # helpline off: every booking comes from the NHPP
    dm = DemandModel(sc, [district_map()[n] for n in sc.geography.selected()], catalog_arrays(sc.catalog))
    expected = float((dm.rate_per_min(np.arange(0, sc.horizon_min, 60.0)) * 60.0).sum())  # hourly-constant rate
    wide = replicate(policy_arms(sc, ["nearest"]), 3, range(30))
    ci = mean_ci(wide["bookings"], level=0.999)   # wide enough to hold for practically any seed
    assert ci.lo <= expected <= ci.hi, (expected, ci)


def test_serial_equals_parallel():
    arms = policy_arms(small(), ["nearest", "batch"])
    serial = replicate(arms, 3, range(3))
    with Pool(cores=2) as pool:
        parallel = replicate(arms, 3, range(3), pool=pool)
    pd.testing.assert_frame_equal(serial, parallel)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_dask_local_cluster_equals_serial(tmp_path):
    from distributed import LocalCluster

    argv = ["--scenario", SMALL, "--policies", "nearest,fair", "--reps", "2", "--quiet",
            *[x for s in TINY for x in ("--set", s)]]
    serial, _ = execute(args_for("compare", *argv, "--cores", "1"), "compare")
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        args = args_for("compare", *argv, "--dask", cluster.scheduler_address, "--out", str(tmp_path))
        assert cli.run(args, "compare") == 0
    on_dask = pd.read_parquet(tmp_path / "replications.parquet")
    pd.testing.assert_frame_equal(serial["replications"], on_dask)
    assert json.loads((tmp_path / "experiment.json").read_text())["arms"] == ["nearest", "fair"]
    assert pd.read_csv(tmp_path / "summary.csv").shape[0] == 2 * len(serial["summary"]) // 2


def test_compare_command_end_to_end(tmp_path):
    r = run_cli("compare", "--scenario", SMALL, "--policies", "nearest,batch:window_s=120", "--reps", "2",
                "--cores", "1", "--out", str(tmp_path), *[x for s in TINY for x in ("--set", s)])
    assert r.returncode == 0, r.stderr
    assert "paired differences vs nearest" in r.stdout and "replications" in r.stderr   # tqdm bar on stderr
    summ = pd.read_csv(tmp_path / "summary.csv")
    assert set(summ["policy"]) == {"nearest", "batch:window_s=120"}
    assert {"fulfilment_rate", "gini_earnings", "share_workers_no_job", "avg_rating"} <= set(summ["metric"])
    paired = pd.read_csv(tmp_path / "paired.csv")
    assert list(paired.columns) == ["policy", "baseline", "metric", "mean_diff", "ci_lo", "ci_hi", "n"]
    assert paired.set_index("metric").loc["bookings", "mean_diff"] == 0       # same demand (CRN)


def test_study_targets_judge_each_arm_with_the_shared_grammar():
    from sim.experiments import StudySpec
    from sim.targets import parse_targets

    targets = parse_targets("score>=350,const<=1", {"score", "const"}) + parse_targets(["score<=300"], {"score"})
    spec = StudySpec("compare", SMALL, tuple(TINY), policies=("nearest", "fair", "batch"), reps=5,
                     targets=tuple(targets))
    res = run_study(spec, Pool(cores=1), known_runner)
    v = res.tables["targets"].set_index(["policy", "target"])["verdict"]
    # known_runner: score = 360 + EFFECT + mean of 20 N(0, 10²) draws; const = 1 exactly
    assert v[("fair", "score>=350")] == "met" and v[("batch", "score<=300")] == "missed"
    assert v[("nearest", "const<=1")] == "met"
    text = cli.render(res.tables, "policy")
    assert "targets (met / missed" in text and "score<=300" in text


def test_target_grammar_errors_name_the_flag():
    from sim.targets import Target, parse_targets

    assert parse_targets(" fulfilment_rate >= 0.9 ,", {"fulfilment_rate"}) == [Target("fulfilment_rate", ">=", 0.9)]
    for bad, msg in [("fulfilment_rate=0.9", "cannot read"), ("speed>=1", "unknown metric"),
                     ("fulfilment_rate>=x", "not a number"), ("fulfilment_rate<=inf", "finite")]:
        with pytest.raises(InputError, match=f"--target: .*{msg}"):
            parse_targets(bad, {"fulfilment_rate"})
    assert Target("m", "<=", 5).verdict(float("nan"), 1) == "unsure"
    assert Target("m", "<=", 5).verdict(4, 6) == "unsure"
