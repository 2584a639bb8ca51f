"""Bad input: exit status 2 and one line naming the field, never a traceback."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli

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
