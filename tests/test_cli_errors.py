"""Bad input: exit status 2 and one line naming the field, never a traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sim.errors import ScenarioError
from tests.conftest import ROOT, run_cli

CASES = [
    (["--set", "foo.bar=1"], "foo"),
    (["--set", "demand.scale=-1"], "demand.scale"),
    (["--set", "workforce.registered=0"], "workforce.registered"),
    (["--set", "geography.districts=[Atlantis]"], "geography.districts"),
    (["--set", "workforce.active_counts={Lucknow: {astrologer: 3}}"], "workforce.active_counts.Lucknow"),
    (["--set", "demand.surges=[{start_day: 1, end_day: 2, multiplier: 2, categories: [astrologer]}]"],
     "demand.surges.0.categories"),
    (["--set", "dispatch.policy=telepathy"], "dispatch.policy"),
    (["--set", "dispatch.params={radius_km: -3}"], "dispatch.params.radius_km"),
    (["--set", "lifecycle.max_offers=abc"], "lifecycle.max_offers"),
    (["--set", "warmup_days=5"], "warmup_days"),
    (["--set", "catalog.plumber.price_paise=-5"], "catalog.plumber.price_paise"),
    (["--scenario", "no_such_scenario"], "scenario"),
    (["--seed", "-4"], "--seed"),
]


@pytest.mark.parametrize(("args", "field"), CASES)
def test_bad_input_exits_2_naming_the_field(args, field):
    p = run_cli(*args, "--days", "1", "--no-report", "--quiet", "--out", "/tmp/never-written")
    assert p.returncode == 2, p.stdout + p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert field in lines[0]
    assert "Traceback" not in p.stderr


def test_unreadable_and_invalid_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    p = run_cli("--scenario", str(bad), "--days", "1")
    assert p.returncode == 2 and "not valid YAML" in p.stderr
    unreadable = tmp_path / "dir.yaml"
    unreadable.mkdir()
    p = run_cli("--scenario", str(unreadable), "--days", "1")
    assert p.returncode == 2 and "error:" in p.stderr and "Traceback" not in p.stderr


def test_extends_chain_and_cycle(tmp_path):
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text(f"extends: {b}\n")
    b.write_text(f"extends: {a}\n")
    p = run_cli("--scenario", str(a), "--days", "1")
    assert p.returncode == 2 and "extends" in p.stderr


# ------------------------------------------------- inputs that must never crash (issue 17)
# Run in-process (fast): ``run_sim.main`` must return 2 and print one line, whatever the input.


def main_in_process(capsys, *args: str) -> tuple[int, str]:
    """``run_sim.main(ARGS)`` in this process; returns (exit status, stderr).

    Simulating is replaced by a failure: every input here must be refused before a run starts.
    """
    import run_sim
    import sim

    def no_run(*a, **k):
        raise AssertionError("the input was accepted and a simulation started")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sim, "run", no_run, raising=False)
        code = run_sim.main([*args, "--no-report", "--quiet", "--out", "/tmp/never-written"])
    return code, capsys.readouterr().err


def assert_one_line(code: int, err: str, *needles: str) -> None:
    """Exit 2, exactly one ``error:`` line holding every needle, no traceback."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert len(lines[0]) < 300, lines[0]
    for n in needles:
        assert n in lines[0], (n, lines[0])


def scenario_file(tmp_path: Path, body: str, name: str = "s.yaml") -> Path:
    """A scenario file extending the baseline with ``body`` appended."""
    p = tmp_path / name
    p.write_text(f"extends: baseline\n{body}", encoding="utf-8")
    return p


YAML_FILE_CASES = [
    ("start_date: 2025-02-30\n", ["s.yaml:2:", "2025-02-30", "day is out of range"]),
    ("seed: !!int abc\n", ["s.yaml:2:", "'abc'"]),
    ("demand: {scale: !!float ten}\n", ["s.yaml:2:", "'ten'"]),
    ("demand: {scale: !!float _}\n", ["s.yaml:2:", "'_'"]),  # found by the fuzz test: IndexError in PyYAML
    ("name: !shout baseline\n", ["s.yaml:2:", "!shout"]),
    ("name: !!python/object:os.system x\n", ["s.yaml:2:", "python/object"]),
    ("seed: " + "9" * 5000 + "\n", ["s.yaml:2:", "4300 digits"]),
    ("seed: 0x" + "f" * 400 + "\n", ["seed", "64 bits"]),
    ("workforce: {registered: 99999999999999999999999}\n", ["workforce.registered"]),
    ("name: a\nname: b\n", ["s.yaml:3:1", "duplicate key 'name'", "first at line 2"]),
    ("demand:\n  scale: 1\n  scale: 2\n", ["s.yaml:4:3", "duplicate key 'scale'"]),
    ("demand: [unclosed\n", ["s.yaml:3:1", "flow sequence"]),
    ("demand:\n  scale: 1\n bad: 2\n", ["s.yaml:4:2"]),
    ("name: 'open\n", ["s.yaml:", "quoted scalar"]),
    ("warmup_days: .nan\n", ["warmup_days", "finite"]),
    ("demand: {hour_profile: [.nan, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]}\n",
     ["demand.hour_profile.0", "finite"]),
    ("demand: {weekday_profile: [1, 1, -1, 1, 1, 1, 1]}\n", ["demand.weekday_profile", ">= 0"]),
    ("demand: {hour_profile: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]}\n",
     ["demand.hour_profile", "not all zero"]),
    ("demand: {channel_shares: {app: .nan, web: 0.5, helpline: 0.5}}\n", ["demand.channel_shares.app"]),
    ("demand: {channel_shares: {app: 0, web: 0, helpline: 0}}\n", ["demand.channel_shares", "sum to 1"]),
    ("helpline: {type_shares: {booking: -0.5}}\n", ["helpline.type_shares"]),
    ("helpline: {month_profile: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]}\n", ["helpline.month_profile"]),
    ("catalog: {plumber: {seasonal: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]}}\n", ["catalog.plumber.seasonal"]),
    ("catalog: {plumber: {demand_weight: .inf}}\n", ["catalog.plumber.demand_weight", "finite"]),
    ("geography: {districts: []}\n", ["geography.districts", "no district"]),
    ("start_date: 9999-12-30\n", ["start_date", "2200-12-31"]),
    ("start_date: 2200-12-20\n", ["start_date", "start on or before"]),
    ("start_date: 0001-01-01\n", ["start_date", "1900-01-01"]),
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n", ["too many values"]),
    ("geography: " + "[" * 3000 + "]" * 3000 + "\n", ["s.yaml"]),
    ("1: one\n", ["1", "Keys should be strings"]),
    ("[a, b]: c\n", ["s.yaml:2:1", "plain value"]),
]


@pytest.mark.parametrize(("body", "needles"), YAML_FILE_CASES, ids=range(len(YAML_FILE_CASES)))
def test_bad_scenario_file_exits_2_naming_file_or_field(tmp_path, capsys, body, needles):
    code, err = main_in_process(capsys, "--scenario", str(scenario_file(tmp_path, body)), "--days", "1")
    assert_one_line(code, err, *needles)


SET_CASES = [
    ("start_date=2025-02-30", ["--set start_date", "day is out of range"]),
    ("seed=!!int abc", ["--set seed", "'abc'"]),
    ("workforce.registered=" + "9" * 5000, ["--set workforce.registered", "4300 digits"]),
    ("seed=0x" + "f" * 100, ["seed", "64 bits"]),
    ("demand={scale: 1, scale: 2}", ["--set demand", "duplicate key 'scale'"]),
    ("demand.hour_profile=[1, 1]", ["demand.hour_profile"]),
    ("geography.districts=[]", ["geography.districts"]),
    ("lifecycle.drain_days=.inf", ["lifecycle.drain_days", "finite"]),
]


@pytest.mark.parametrize(("item", "needles"), SET_CASES, ids=range(len(SET_CASES)))
def test_bad_set_value_exits_2(capsys, item, needles):
    code, err = main_in_process(capsys, "--set", item, "--days", "1")
    assert_one_line(code, err, *needles)


@pytest.mark.parametrize("value", ["[baseline, growth_5x]", "{name: baseline}", "5", "''", "null", "true"])
def test_extends_must_be_one_string(tmp_path, capsys, value):
    p = tmp_path / "child.yaml"
    p.write_text(f"extends: {value}\nname: child\n")
    code, err = main_in_process(capsys, "--scenario", str(p), "--days", "1")
    assert_one_line(code, err, "extends", "child.yaml")


def test_relative_extends_is_resolved_against_the_containing_file(tmp_path, monkeypatch):
    from sim.config import load_scenario

    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "parent.yaml").write_text("extends: baseline\nhorizon_days: 12\n")
    (tmp_path / "base" / "sibling.yaml").write_text("extends: parent\nwarmup_days: 1\n")
    (tmp_path / "deep" / "er").mkdir(parents=True)
    child = tmp_path / "deep" / "er" / "child.yaml"
    child.write_text("extends: ../../base/sibling.yaml\nname: child\n")
    monkeypatch.chdir(ROOT / "tests")  # the working folder must not matter
    sc = load_scenario(child)
    assert (sc.name, sc.horizon_days, sc.warmup_days) == ("child", 12, 1)
    # A missing parent names the containing file and where it looked.
    child.write_text("extends: ../nowhere.yaml\n")
    with pytest.raises(ScenarioError, match=r"extends: in .*child.yaml: no scenario '../nowhere.yaml'"):
        load_scenario(child)


def test_merge_keys_are_not_duplicates(tmp_path):
    from sim.config import load_scenario

    p = scenario_file(tmp_path, "x: &w {scale: 2.0}\n".replace("x:", "demand:") + "")
    assert load_scenario(p).demand.scale == 2.0
    q = tmp_path / "m.yaml"
    q.write_text("extends: baseline\ndemand:\n  <<: {scale: 3.0, urban_uplift: 1.0}\n  scale: 4.0\n")
    assert load_scenario(q).demand.scale == 4.0


def test_tiny_horizon_runs_and_prints_zero(tmp_path):
    p = run_cli("--days", "0.0001", "--set", "geography.districts=[Lucknow]", "--quiet",
                "--out", str(tmp_path / "tiny"))
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    assert re.search(r"bookings \(measured\)\s+0\n", p.stdout)
    assert re.search(r"fulfilment rate\s+–", p.stdout)
    assert (tmp_path / "tiny" / "report.html").is_file()


def test_run_too_big_for_memory_is_refused_with_the_estimate(tmp_path, capsys):
    import run_sim

    code = run_sim.main(["--days", "3650", "--set", "demand.scale=1000", "--quiet", "--no-report",
                         "--out", str(tmp_path / "big")])
    assert_one_line(code, capsys.readouterr().err, "needs about", "GB of memory", "238,000,000 bookings")


def test_memory_estimate_grows_with_each_size():
    from sim.config import load_scenario
    from sim.sizing import check_fits, estimate_bytes

    base = load_scenario("baseline")
    e0 = estimate_bytes(base)
    assert 0.3e9 < e0 < 1.5e9  # the baseline year peaks near 0.5 GB
    for item in ("demand.scale=10", "helpline.calls_per_day=50000", "workforce.registered=1000000",
                 "horizon_days=3650"):
        assert estimate_bytes(load_scenario("baseline", [item])) > e0, item
    assert check_fits(base, available=64e9) == e0
    with pytest.raises(ScenarioError, match=r"needs about 0\.\d GB"):
        check_fits(base, available=1e8)


# ------------------------------------------------- the command line (issue 17)


def test_typo_in_a_command_suggests_the_nearest(capsys):
    from cli.main import main

    assert main(["rnu", "--days", "1"]) == 2
    assert_one_line(2, capsys.readouterr().err, "unknown command 'rnu'", "did you mean 'run'?")
    assert main(["compar"]) == 2 and "did you mean 'compare'?" in capsys.readouterr().err
    assert main(["xyzzy"]) == 2 and "did you mean" not in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["compare", "--help"]])
def test_help_lists_scenarios_policies_and_metrics(capsys, argv):
    from cli.main import main

    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    out = capsys.readouterr().out
    for word in ("baseline, growth_5x", "nearest", "rating_weighted", "fulfilment_rate", "p90_wait_min"):
        assert word in out, word


def test_out_is_checked_before_simulating(tmp_path, capsys):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    import run_sim
    import sim

    def no_run(*a, **k):
        raise AssertionError("simulated despite a bad --out")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sim, "run", no_run, raising=False)
        assert run_sim.main(["--days", "1", "--quiet", "--out", str(a_file)]) == 2
        assert_one_line(2, capsys.readouterr().err, "--out", "is a file")
        old = tmp_path / "old"
        old.mkdir()
        (old / "summary.json").write_text("{}")
        assert run_sim.main(["--days", "1", "--quiet", "--out", str(old)]) == 2
        assert_one_line(2, capsys.readouterr().err, "--out", "already holds 1 entries", "--force")
        other = tmp_path / "photos"
        other.mkdir()
        (other / "cat.jpg").write_text("meow")
        assert run_sim.main(["--days", "1", "--quiet", "--force", "--out", str(other)]) == 2
        assert_one_line(2, capsys.readouterr().err, "does not hold an earlier run")
        assert (other / "cat.jpg").is_file()


def test_force_clears_an_earlier_run_and_provenance_is_saved(tmp_path, capsys):
    import run_sim

    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    (out / "ledger.parquet").write_text("an older run's ledger")  # would be mixed into the new report
    (out / "figures").mkdir()
    argv = ["--days", "0.001", "--set", "geography.districts=[Lucknow]", "--quiet", "--no-report", "--out", str(out)]
    assert run_sim.main([*argv, "--force"]) == 0, capsys.readouterr().err
    assert not (out / "ledger.parquet").exists() or (out / "ledger.parquet").read_bytes()[:4] == b"PAR1"
    assert not (out / "figures").exists()
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["set"] == ["geography.districts=[Lucknow]", "horizon_days=0.001"]
    assert prov["overrides"]["horizon_days"] == [365.0, 0.001]


def test_trace_out_may_name_a_folder(tmp_path, capsys):
    from cli.main import main

    argv = ["trace", "--days", "0.001", "--set", "geography.districts=[Lucknow]", "--out"]
    assert main([*argv, str(tmp_path)]) == 0
    assert (tmp_path / "trace.parquet").is_file()
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    assert main([*argv, str(blocker / "t.parquet")]) == 2
    assert_one_line(2, capsys.readouterr().err, "--out", "is a file")


def test_study_tables_print_without_scientific_notation():
    from cli.experiments import render
    from sim.experiments import StudySpec, run_study
    from tests.test_reports import fake_metrics

    res = run_study(StudySpec(kind="compare", policies=("nearest", "fair"), reps=3), runner=fake_metrics)
    text = render(res.tables, "policy")
    assert "±" in text and not re.search(r"\de[+-]?\d", text)


@pytest.mark.parametrize("argv", [
    ["plan", "--districts", "Lucknow", "--services", "plumber", "--quiet"],
    ["staff", "--days", "1", "--quiet"],
    ["sensitivity", "--params", "demand.scale=0.5:2", "--samples", "2"],
])
def test_plan_staff_sensitivity_refuse_a_used_out_before_working(tmp_path, capsys, argv):
    import run_sim
    import sim.helpline.staffing
    import sim.planner
    import sim.sensitivity

    def no_work(*a, **k):
        raise AssertionError("worked despite a bad --out")

    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sim.planner, "plan", no_work)
        mp.setattr(sim.helpline.staffing, "staffing_table", no_work)
        mp.setattr(sim.sensitivity, "study", no_work)
        assert run_sim.main([*argv, "--out", str(used)]) == 2
        assert_one_line(2, capsys.readouterr().err, "--out", "already holds 1 entries", "--force")
        assert run_sim.main([*argv, "--out", str(used), "--force"]) == 2
        assert_one_line(2, capsys.readouterr().err, "does not hold an earlier run")
    assert (used / "notes.txt").read_text() == "mine"
