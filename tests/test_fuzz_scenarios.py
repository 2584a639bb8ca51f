"""Fuzz: malformed scenarios (Hypothesis) always end in exit 2 and one ``error:`` line.

Each example starts from the baseline scenario and breaks it in one way that can never be
valid: an unknown key, a wrong type, NaN or infinity, a negative or all-zero profile, an
integer beyond 64 bits, a non-string ``extends:``, an empty district list, or broken YAML
text (duplicate keys, bad tags, impossible dates, unclosed brackets, giant integers).  The
CLI runs in this process with simulation disabled, so an accepted input fails the test.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.config import SCENARIO_DIR, _read_raw
from tests.test_cli_errors import assert_one_line

BASE: dict[str, Any] = _read_raw(SCENARIO_DIR / "baseline.yaml")
PROFILE_LEN = {"hour_profile": 24, "weekday_profile": 7, "month_profile": 12, "seasonal": 12}
PROFILES = [("demand", "hour_profile"), ("demand", "weekday_profile"), ("helpline", "hour_profile"),
            ("helpline", "weekday_profile"), ("helpline", "month_profile"), ("catalog", "plumber", "seasonal")]


def _leaves(d: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    if isinstance(d, dict):
        return [x for k, v in d.items() for x in _leaves(v, (*path, k))]
    return [(path, d)]


NUMERIC = [p for p, v in _leaves(BASE) if isinstance(v, int | float) and not isinstance(v, bool)]


def _maps(d: dict, path: tuple = ()) -> list[tuple]:
    out = [path]
    for k, v in d.items():
        if isinstance(v, dict) and not path[:1] == ("dispatch",):
            out += _maps(v, (*path, k))
    return out


MAPS = _maps(BASE)  # every mapping but dispatch.params (a policy's own, checked by the policy)


def _set(d: dict, path: tuple, value: Any) -> dict:
    out = copy.deepcopy(d)
    node = out
    for k in path[:-1]:
        node = node.setdefault(k, {})
    node[path[-1]] = value
    return out


junk_text = st.text(alphabet="xyzqwXYZQW_ ", min_size=1, max_size=12).filter(str.strip)


@st.composite
def broken_mapping(draw) -> dict:
    """The baseline mapping broken in one always-invalid way."""
    kind = draw(st.sampled_from(["unknown_key", "wrong_type", "nonfinite", "profile", "huge_int", "extends",
                                 "districts"]))
    if kind == "unknown_key":
        where = draw(st.sampled_from(MAPS))
        return _set(BASE, (*where, "zz_" + draw(st.text(alphabet="abcxyz", min_size=1, max_size=6))), 1)
    if kind == "wrong_type":
        bad = draw(st.one_of(junk_text, st.lists(st.integers(), max_size=3), st.just({"k": 1})))
        return _set(BASE, draw(st.sampled_from(NUMERIC)), bad)
    if kind == "nonfinite":
        return _set(BASE, draw(st.sampled_from(NUMERIC)), draw(st.sampled_from([float("nan"), float("inf"),
                                                                               float("-inf")])))
    if kind == "profile":
        path = draw(st.sampled_from(PROFILES))
        n = PROFILE_LEN[path[-1]]
        if draw(st.booleans()):
            values = [0.0] * n
        else:
            values = [1.0] * n
            values[draw(st.integers(0, n - 1))] = -draw(st.floats(1e-6, 1e6))
        return _set(BASE, path, values)
    if kind == "huge_int":
        return _set(BASE, draw(st.sampled_from(NUMERIC)), draw(st.sampled_from([1, -1])) * 2**63
                    * draw(st.integers(1, 10**30)) + draw(st.integers(0, 5)))
    if kind == "extends":
        return {"extends": draw(st.one_of(st.integers(), st.booleans(), st.lists(st.just("baseline"), min_size=1,
                                                                                  max_size=3),
                                          st.just({"name": "baseline"}), st.just(""), st.none())), "name": "x"}
    return _set(BASE, ("geography", "districts"), [])


@st.composite
def broken_text(draw) -> str:
    """Baseline-extending YAML text with one line that cannot be read."""
    line = draw(st.sampled_from([
        "name: a\nname: b",
        "demand:\n  scale: 1\n  scale: 2",
        f"seed: !!int {draw(junk_text)}",
        f"demand: {{scale: !!float {draw(junk_text)}}}",
        f"name: !{draw(st.text(alphabet='abcxyz', min_size=1, max_size=8))} x",
        f"start_date: {draw(st.integers(1900, 2199))}-02-{draw(st.integers(30, 31))}",
        f"start_date: {draw(st.integers(1900, 2199))}-{draw(st.integers(13, 99))}-01",
        "seed: " + "7" * draw(st.integers(4301, 6000)),
        "demand: [" + draw(junk_text),
        "demand: {scale: 1" + draw(st.sampled_from(["", ",", ", x: [1"])),
        "geography:\n  districts: all\n road_factor: 1.3",
        "name: '" + draw(junk_text),
    ]))
    return f"extends: baseline\n{line}\n"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.one_of(broken_mapping().map(lambda m: yaml.safe_dump(m, sort_keys=False)), broken_text()))
def test_malformed_scenarios_exit_2_with_one_line(capsys, case):
    from tests.test_cli_errors import main_in_process

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.yaml"
        path.write_text(case, encoding="utf-8")
        code, err = main_in_process(capsys, "--scenario", str(path))
    assert_one_line(code, err)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(NUMERIC), value=st.one_of(
    junk_text, st.sampled_from([".nan", ".inf", "-.inf", "[1, 2]", "{a: 1}", "{a: 1, a: 2}", "!!int x", "!!float y",
                                "2025-02-30", "9" * 4400, str(2**64), "[" * 50])))
def test_malformed_set_values_exit_2_with_one_line(capsys, path, value):
    from tests.test_cli_errors import main_in_process

    code, err = main_in_process(capsys, "--set", f"{'.'.join(map(str, path))}={value}")
    assert_one_line(code, err)
