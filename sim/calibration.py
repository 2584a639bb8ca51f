"""Calibrate a scenario to the published record with Optuna (library side of ``calibrate``).

Anchors (``scenarios/anchors.yaml``) are published values of ``snapshots.csv`` columns at
dates.  A trial sets the parameters to fit (dotted scenario keys, bounds from the scenario's
``calibration:`` block), runs ``reps`` replications with common random numbers (replication
``r`` uses ``Streams(seed, r)`` in every trial) and scores the mean simulated values by

    mismatch = mean over fitted anchors of ((simulated - published) / (published · tolerance))²

so an anchor exactly at the edge of its tolerance contributes 1.  **Out-of-sample by
default:** only the anchors on the latest anchor date are fitted; the earlier ones are held
out and reported as predictions with 95% confidence intervals (``fit_all`` fits every one).
Optuna's storage may be SQLite or PostgreSQL, so trials can run from several processes or
machines against one study.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import Field, ValidationError

from sim.config import SCENARIO_DIR, Scenario, apply_overrides, validate, value_at
from sim.errors import ScenarioError
from sim.experiments.replications import Arm, Pool, replicate
from sim.schema import StrictModel
from sim.snapshots import COLUMNS


class Anchor(StrictModel):
    """A published value of a ``snapshots.csv`` column on a date."""

    date: dt.date
    quantity: str
    value: float = Field(gt=0)
    source: str = ""
    tolerance: float = Field(gt=0, le=10, description="relative: 0.02 = ±2%")

    @property
    def key(self) -> str:
        """``quantity@date``: the anchor's name in tables."""
        return f"{self.quantity}@{self.date.isoformat()}"


class AnchorFile(StrictModel):
    """``scenarios/anchors.yaml``."""

    anchors: tuple[Anchor, ...] = Field(min_length=1)


def load_anchors(name_or_path: str | Path) -> list[Anchor]:
    """Anchors from a name in ``scenarios/`` or a path; errors name the field."""
    p = Path(name_or_path)
    path = p if p.suffix in {".yaml", ".yml"} or p.exists() else SCENARIO_DIR / f"{name_or_path}.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        anchors = AnchorFile(**(raw or {})).anchors
    except OSError as e:
        raise ScenarioError(f"anchors: cannot read {str(name_or_path)!r} ({e.strerror})") from None
    except yaml.YAMLError:
        raise ScenarioError(f"anchors: {path.name} is not valid YAML") from None
    except ValidationError as e:
        err = e.errors()[0]
        raise ScenarioError(f"anchors.{'.'.join(str(x) for x in err['loc'])}: {err['msg']}") from None
    for i, a in enumerate(anchors):
        if a.quantity not in COLUMNS[1:]:
            raise ScenarioError(f"anchors.{i}.quantity: {a.quantity!r} is not a snapshots.csv column")
    return list(anchors)


def split_anchors(anchors: Sequence[Anchor], fit_all: bool = False) -> tuple[list[Anchor], list[Anchor]]:
    """(fitted, held out): out-of-sample fits only the anchors on the latest date."""
    if fit_all:
        return list(anchors), []
    last = max(a.date for a in anchors)
    return [a for a in anchors if a.date == last], [a for a in anchors if a.date != last]


def parse_params(text: str, declared: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """``"a.b=LO:HI,c.d"`` → bounds (a bare key takes the scenario's declared bounds)."""
    out: dict[str, tuple[float, float]] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        key, _, rng = item.partition("=")
        if not rng:
            if key not in declared:
                raise ScenarioError(f"--params: {key!r} has no bounds here or in the scenario's calibration block")
            out[key] = declared[key]
            continue
        try:
            lo, hi = (float(x) for x in rng.split(":"))
        except ValueError:
            raise ScenarioError(f"--params: {item!r}: expected key=LOW:HIGH") from None
        if not lo < hi:
            raise ScenarioError(f"--params: {item!r}: LOW must be below HIGH")
        out[key] = (lo, hi)
    if not out:
        raise ScenarioError("--params: no parameter to fit")
    return out


def with_values(sc: Scenario, values: dict[str, float]) -> Scenario:
    """``sc`` with dotted keys set (validated again: a bad key raises ``ScenarioError``)."""
    return validate(apply_overrides(sc.model_dump(mode="json"), [f"{k}={float(v)!r}" for k, v in values.items()]))


def anchor_metrics(scenario: Scenario, seed: int, replication: int, anchors: tuple[Anchor, ...]) -> dict[str, float]:
    """Runner: one replication reduced to the simulated value of each anchor."""
    from sim.runner import run_one
    from sim.snapshots import value_at

    snap = run_one(scenario, seed=seed, replication=replication).tables["snapshots"]
    return {a.key: value_at(snap, a.quantity, a.date) for a in anchors}


def mismatch(means: dict[str, float], anchors: Sequence[Anchor]) -> float:
    """The objective (module docstring); 0 = every anchor hit exactly."""
    return float(np.mean([((means[a.key] - a.value) / (a.value * a.tolerance)) ** 2 for a in anchors]))


@dataclass
class Calibration:
    """What a calibration produces."""

    best: dict[str, float]
    table: pd.DataFrame          # one row per anchor: published, before, after, CI, inside, role
    trials: pd.DataFrame         # the Optuna trials (params, value)
    study: Any                   # the optuna.Study


def evaluate(sc: Scenario, anchors: Sequence[Anchor], reps: int, pool: Pool, seed: int | None = None) -> pd.DataFrame:
    """Replications × anchors: wide table of simulated anchor values."""
    runner = partial(anchor_metrics, anchors=tuple(anchors))
    return replicate([Arm("x", sc)], sc.seed if seed is None else seed, range(reps), runner, pool)


def _ci(x: np.ndarray) -> tuple[float, float, float]:
    from scipy import stats

    m = float(np.mean(x))
    if x.size < 2:
        return m, math.nan, math.nan
    h = float(stats.t.ppf(0.975, x.size - 1) * np.std(x, ddof=1) / math.sqrt(x.size))
    return m, m - h, m + h


def summary_table(anchors: Sequence[Anchor], fitted: Sequence[Anchor], before: pd.DataFrame,
                  after: pd.DataFrame) -> pd.DataFrame:
    """``calibration.csv``: anchor, published, before, after (mean, 95% CI), inside tolerance, role."""
    fit_keys = {a.key for a in fitted}
    rows = []
    for a in anchors:
        b, _, _ = _ci(before[a.key].to_numpy())
        m, lo, hi = _ci(after[a.key].to_numpy())
        rows.append({"anchor": a.key, "source": a.source, "published": a.value, "before": b, "after": m,
                     "after_ci_low": lo, "after_ci_high": hi, "tolerance": a.tolerance,
                     "rel_error": m / a.value - 1.0, "inside_tolerance": abs(m / a.value - 1.0) <= a.tolerance,
                     "role": "fitted" if a.key in fit_keys else "held_out"})
    return pd.DataFrame(rows)


def calibrate(sc: Scenario, anchors: Sequence[Anchor], params: dict[str, tuple[float, float]], *,
              trials: int = 30, reps: int = 2, eval_reps: int = 5, fit_all: bool = False,
              log_scale: Sequence[str] = (), storage: str | None = None, study_name: str = "calibration",
              pool: Pool | None = None, parallel_trials: int = 1,
              on_trial: Callable[[int, float], None] | None = None) -> Calibration:
    """Fit ``params`` (key → (low, high)) to the anchors; see the module docstring.

    ``reps`` replications per trial (CRN across trials); the scenario before and after is
    then evaluated over ``eval_reps`` replications for the table.  ``parallel_trials`` trials
    run at once (threads feeding ``pool``; TPE with a constant liar).  ``on_trial(number,
    value)`` reports progress (the library never prints).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    fitted, _held = split_anchors(anchors, fit_all)
    own = pool is None
    pool = pool or Pool(cores=1)
    if own:
        pool.__enter__()
    try:
        sampler = optuna.samplers.TPESampler(seed=sc.seed % 2**32, n_startup_trials=min(10, max(trials // 3, 1)),
                                             constant_liar=parallel_trials > 1)
        study = optuna.create_study(direction="minimize", sampler=sampler, storage=storage,
                                    study_name=study_name, load_if_exists=True)
        raw = sc.model_dump()
        start = {k: value_at(raw, k) for k in params}
        if not study.trials and all(isinstance(v, int | float) and lo <= v <= hi
                                    for v, (lo, hi) in zip(start.values(), params.values(), strict=True)):
            # The input is the first trial, so the fit is never worse than what it was given.
            study.enqueue_trial({k: float(v) for k, v in start.items()})

        def objective(trial: optuna.Trial) -> float:
            values = {k: trial.suggest_float(k, lo, hi, log=k in log_scale) for k, (lo, hi) in params.items()}
            wide = evaluate(with_values(sc, values), fitted, reps, pool)
            score = mismatch({a.key: float(wide[a.key].mean()) for a in fitted}, fitted)
            if on_trial is not None:
                on_trial(trial.number, score)
            return score

        study.optimize(objective, n_trials=trials, n_jobs=max(1, parallel_trials))
        best = dict(study.best_params)
        before = evaluate(sc, anchors, eval_reps, pool)
        after = evaluate(with_values(sc, best), anchors, eval_reps, pool)
    finally:
        if own:
            pool.__exit__(None, None, None)
    return Calibration(best, summary_table(anchors, fitted, before, after), study.trials_dataframe(), study)


def fitted_yaml(input_path: Path, best: dict[str, float], name: str) -> str:
    """A scenario that ``extends:`` the input and sets the fitted values."""
    raw: dict[str, Any] = {}
    for k, v in best.items():
        node = raw
        *head, last = k.split(".")
        for h in head:
            node = node.setdefault(h, {})
        node[last] = float(f"{v:.6g}")
    doc = {"extends": str(input_path.resolve()), "name": name, **raw}
    return "# Written by `run_sim.py calibrate`: the input scenario with the fitted values.\n" + yaml.safe_dump(
        doc, sort_keys=False)
