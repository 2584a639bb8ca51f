"""A replicated study as a typed spec: ``compare`` (policies) or ``sweep`` (a grid of values).

``run_study(spec)`` returns tables a CLI prints or a notebook plots; ``write_study`` stores them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from sim import __version__
from sim.config import load_scenario
from sim.errors import InputError
from sim.experiments.arms import grid_arms, parse_grid, policy_arms
from sim.experiments.replications import Arm, Pool, Precision, Runner, replicate, replicate_until, sim_metrics, to_long
from sim.experiments.stats import paired_table, summary_table
from sim.targets import Target


@dataclass(frozen=True)
class StudySpec:
    """What to replicate.

    Args:
        kind: ``compare`` (one arm per policy in ``policies``) or ``sweep`` (one arm per point of ``grid``).
        scenario: scenario name or YAML path; ``overrides`` are ``KEY=VALUE`` scenario overrides.
        policies: policy specs, first = baseline, e.g. ``("nearest", "fair:criterion=longest_idle")``.
        grid: ``KEY=V1,V2,...`` items (a cartesian product).
        reps: replications per arm (the minimum with ``precision``).
        max_reps: cap on replications with ``precision``.
        seed: root seed (None: the scenario's).
        precision: CI half-width goals; replications are added until every one holds.
        targets: service targets; each arm's CI gets a verdict (``met``, ``missed``, ``unsure``).
    """

    kind: Literal["compare", "sweep"]
    scenario: str = "baseline"
    overrides: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    grid: tuple[str, ...] = ()
    reps: int = 20
    max_reps: int = 200
    seed: int | None = None
    precision: tuple[Precision, ...] = field(default=())
    targets: tuple[Target, ...] = field(default=())

    def check(self) -> None:
        """Raise ``InputError`` naming the bad field."""
        if self.reps < 2:
            raise InputError("reps: at least 2 replications are needed for a confidence interval")
        if self.max_reps < self.reps:
            raise InputError("max_reps: must be at least reps")
        if self.seed is not None and self.seed < 0:
            raise InputError("seed: must be >= 0")
        if self.kind == "compare" and not self.policies:
            raise InputError("policies: name at least one policy")
        if self.kind == "sweep" and not self.grid:
            raise InputError("grid: give at least one KEY=V1,V2,...")

    @property
    def by(self) -> str:
        """The arm column of the tables: ``policy`` or ``point``."""
        return "policy" if self.kind == "compare" else "point"


@dataclass
class StudyResult:
    """Tables ``replications``, ``summary``, ``paired`` (and ``targets``) and the study's facts (``meta``)."""

    tables: dict[str, pd.DataFrame]
    meta: dict[str, Any]


def build_arms(spec: StudySpec) -> tuple[list[Arm], str, int]:
    """The study's arms, the scenario name and the root seed."""
    spec.check()
    base = load_scenario(spec.scenario, spec.overrides)
    seed = base.seed if spec.seed is None else spec.seed
    if spec.kind == "compare":
        arms = policy_arms(base, list(spec.policies))
    else:
        arms = grid_arms(spec.scenario, list(spec.overrides), parse_grid(list(spec.grid)))
    return arms, base.name, seed


def run_study(spec: StudySpec, pool: Pool | None = None, runner: Runner = sim_metrics) -> StudyResult:
    """Run the study on ``pool`` (default: in this process)."""
    arms, name, seed = build_arms(spec)
    if pool is None:
        pool = Pool(cores=1)
    with pool:
        if spec.precision:
            wide = replicate_until(arms, seed, spec.precision, spec.reps, spec.max_reps, runner, pool)
        else:
            wide = replicate(arms, seed, range(spec.reps), runner, pool)
    by = spec.by
    long = to_long(wide, by)
    tables = {"summary": summary_table(long, by), "paired": paired_table(long, by)}
    if spec.kind == "compare":
        tables["replications"] = long
    else:
        tables["replications"] = _with_values(wide.drop(columns="arm").rename(columns={"label": by}), arms)
        tables["summary"] = _with_values(tables["summary"], arms)
    if spec.targets:
        tables["targets"] = target_table(tables["summary"], spec.targets, by)
    meta = {"command": spec.kind, "scenario": name, "seed": seed, "version": __version__,
            "arms": [a.label for a in arms], "replications": int(wide["replication"].nunique()),
            "overrides": list(spec.overrides), "precision": [str(t) for t in spec.precision],
            "precision_paired": any(t.paired for t in spec.precision),
            "service_targets": [str(t) for t in spec.targets]}  # where it ran never changes results
    return StudyResult(tables, meta)


def target_table(summary: pd.DataFrame, targets: tuple[Target, ...], by: str) -> pd.DataFrame:
    """``by, target, mean, ci_lo, ci_hi, verdict``: each arm's 95% CI against each target."""
    rows = []
    s = summary.set_index([by, "metric"])
    for arm in dict.fromkeys(summary[by]):
        for t in targets:
            r = s.loc[(arm, t.metric)]
            rows.append({by: arm, "target": str(t), "mean": r["mean"], "ci_lo": r["ci_lo"], "ci_hi": r["ci_hi"],
                         "verdict": t.verdict(float(r["ci_lo"]), float(r["ci_hi"]))})
    return pd.DataFrame(rows, columns=[by, "target", "mean", "ci_lo", "ci_hi", "verdict"])


def _with_values(df: pd.DataFrame, arms: list[Arm]) -> pd.DataFrame:
    """Insert a column per sweep key after ``point``, holding the point's value text."""
    by_label = {a.label: dict(a.values) for a in arms}
    for i, (k, _) in enumerate(arms[0].values):
        df.insert(1 + i, k, df["point"].map(lambda p, k=k: by_label[p][k]))
    return df


def write_study(res: StudyResult, out: str | Path) -> Path:
    """Write ``replications.parquet``, ``summary.csv``, ``paired.csv``, ``targets.csv`` and ``experiment.json``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = res.tables
    tables["replications"].to_parquet(out / "replications.parquet", index=False)
    tables["summary"].to_csv(out / "summary.csv", index=False, float_format="%.10g")
    tables["paired"].to_csv(out / "paired.csv", index=False, float_format="%.10g")
    if "targets" in tables:
        tables["targets"].to_csv(out / "targets.csv", index=False, float_format="%.10g")
    (out / "experiment.json").write_text(json.dumps(res.meta, indent=2, default=str) + "\n")
    return out
