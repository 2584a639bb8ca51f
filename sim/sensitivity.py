"""Global sensitivity analysis with SALib (library side of ``sensitivity``).

A study samples parameter vectors (Saltelli/Sobol' or Morris trajectories) over bounds,
evaluates a model at each (any function of a parameter dict; for the twin, a scenario run
reduced to its outputs) and returns one tidy table of indices per output:

- ``sobol``: first-order ``S1`` and total ``ST`` indices with 95% confidence half-widths;
- ``morris``: ``mu_star`` (mean absolute elementary effect), ``sigma`` and its confidence.

Replication ``r`` of every sample point uses ``Streams(seed, r)`` (common random numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from sim.config import Scenario
from sim.errors import ScenarioError

Method = Literal["sobol", "morris"]


def problem(params: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """SALib's problem dict for ``{name: (low, high)}`` (order kept)."""
    return {"num_vars": len(params), "names": list(params), "bounds": [list(b) for b in params.values()]}


def sample(params: dict[str, tuple[float, float]], method: Method, n: int, seed: int = 0) -> np.ndarray:
    """Parameter vectors (rows) for ``method`` with base sample size ``n``."""
    prob = problem(params)
    if method == "sobol":
        from SALib.sample import sobol

        return sobol.sample(prob, n, calc_second_order=False, seed=seed)
    if method == "morris":
        from SALib.sample import morris

        return morris.sample(prob, n, num_levels=4, seed=seed)
    raise ScenarioError(f"--method: {method!r} is not sobol or morris")


def analyse(params: dict[str, tuple[float, float]], method: Method, x: np.ndarray,
            y: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Indices per output column of ``y`` (one row per sample): ``output, param, index..``."""
    prob = problem(params)
    rows = []
    for out in y.columns:
        v = y[out].to_numpy(dtype=np.float64)
        if method == "sobol":
            from SALib.analyze import sobol

            r = sobol.analyze(prob, v, calc_second_order=False, seed=seed)
            cols = {"S1": r["S1"], "S1_conf": r["S1_conf"], "ST": r["ST"], "ST_conf": r["ST_conf"]}
        else:
            from SALib.analyze import morris

            r = morris.analyze(prob, x, v, num_levels=4, seed=seed)
            cols = {"mu_star": r["mu_star"], "mu_star_conf": r["mu_star_conf"], "sigma": r["sigma"]}
        for i, name in enumerate(prob["names"]):
            rows.append({"output": out, "param": name, **{k: float(c[i]) for k, c in cols.items()}})
    return pd.DataFrame(rows)


def study(params: dict[str, tuple[float, float]], func: Callable[[dict[str, float]], dict[str, float]],
          method: Method = "sobol", n: int = 64, seed: int = 0,
          map_fn: Callable[[Callable, Sequence], list] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sample, evaluate ``func`` at every point (through ``map_fn``, default serial), analyse.

    Returns (samples with their outputs, indices table).
    """
    x = sample(params, method, n, seed)
    points = [dict(zip(params, row, strict=True)) for row in x]
    results = (map_fn or (lambda f, xs: [f(p) for p in xs]))(func, points)
    y = pd.DataFrame(results)
    return pd.concat([pd.DataFrame(x, columns=list(params)), y], axis=1), analyse(params, method, x, y, seed)


def scenario_outputs(values: dict[str, float], scenario: Scenario, outputs: tuple[str, ...], seed: int,
                     reps: int) -> dict[str, float]:
    """Mean of summary outputs (``summary.json`` keys or ``snapshots.csv`` columns at the end) over reps."""
    from sim.calibration import with_values
    from sim.runner import run_one

    sc = with_values(scenario, values)
    acc: dict[str, list[float]] = {o: [] for o in outputs}
    for r in range(reps):
        res = run_one(sc, seed=seed, replication=r)
        last = res.tables["snapshots"].iloc[-1] if len(res.tables["snapshots"]) else {}
        for o in outputs:
            if o in res.summary:
                acc[o].append(float(res.summary[o]))
            elif o in last:
                acc[o].append(float(last[o]))
            else:
                raise ScenarioError(f"--outputs: {o!r} is not a summary or snapshots output")
    return {o: float(np.mean(v)) for o, v in acc.items()}
