"""Golden-file test: fixed scenario + seed ⇒ the same output tables as stored in tests/golden/.

Optimisations must not move any output.  When a change is meant to alter outputs,
regenerate with ``PYTHONHASHSEED=0 python -m tests.golden.golden --write`` in that commit
and say why in its message.  pytest runs with a random PYTHONHASHSEED, so this also checks
that outputs do not depend on Python's hash salt.
"""

from __future__ import annotations

import json

import pytest

from tests.golden.golden import RUNS, differences, fingerprint, golden_path


@pytest.mark.parametrize("name", sorted(RUNS))
def test_outputs_match_golden(name):
    expected = json.loads(golden_path(name).read_text())
    diff = differences(expected, fingerprint(name))
    assert not diff, f"{name} outputs moved:\n" + "\n".join(diff)


def test_differences_names_the_column():
    def fingerprint_of(b: str) -> dict:
        table = {"rows": 3, "order": ["a", "b"], "columns": {"a": "x", "b": b}}
        return {"summary": {"bookings": 3}, "tables": {"bookings": table}}

    fp, moved = fingerprint_of("y"), fingerprint_of("z")
    assert differences(fp, fp) == []
    assert differences(fp, moved) == ["table bookings column b differs"]
