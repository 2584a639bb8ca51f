"""SALib indices on toy models with known answers (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.sensitivity import study

PARAMS = {"a": (0.0, 1.0), "b": (0.0, 1.0), "c": (0.0, 1.0)}


def linear(p: dict[str, float]) -> dict[str, float]:
    """y = 4a + 2b + 0c: first-order indices 16/20, 4/20, 0 (uniform inputs, no interactions)."""
    return {"y": 4 * p["a"] + 2 * p["b"] + 0 * p["c"]}


def product(p: dict[str, float]) -> dict[str, float]:
    """y = a·b: pure interaction part, so ST > S1 for a and b."""
    return {"y": p["a"] * p["b"]}


def test_sobol_indices_of_a_linear_model():
    _, idx = study(PARAMS, linear, "sobol", 1024, seed=1)
    s1 = idx.set_index("param")["S1"]
    assert s1["a"] == pytest.approx(0.8, abs=0.05)
    assert s1["b"] == pytest.approx(0.2, abs=0.05)
    assert abs(s1["c"]) < 0.02


def test_sobol_sees_interactions():
    _, idx = study(PARAMS, product, "sobol", 1024, seed=2)
    t = idx.set_index("param")
    assert t.loc["a", "ST"] > t.loc["a", "S1"] + 0.05
    assert abs(t.loc["c", "ST"]) < 0.02


def test_morris_ranks_by_effect():
    samples, idx = study(PARAMS, linear, "morris", 50, seed=3)
    mu = idx.set_index("param")["mu_star"]
    assert mu["a"] == pytest.approx(4.0, rel=1e-6) and mu["b"] == pytest.approx(2.0, rel=1e-6)
    assert mu["c"] == pytest.approx(0.0, abs=1e-9)
    assert np.isfinite(samples["y"]).all()
