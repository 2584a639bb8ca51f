"""Run replications of several scenario variants ("arms"), serially, in local processes or on Dask.

Each task is a pure function of (scenario as a plain dict, seed, replication): the same task
gives the same numbers wherever it runs, and results are sorted by (arm, replication) before
anyone sees them, so serial, process-pool and Dask runs are identical.  Replication ``r`` of
every arm uses ``Streams(seed, r)``: the same demand, workers and behaviour draws for every
policy — common random numbers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

import numpy as np
import pandas as pd

from sim.config import Scenario, validate
from sim.errors import InputError
from sim.experiments.stats import reps_needed

#: ``runner(scenario, seed, replication) -> {metric: value}``; must be a top-level function
#: (picklable) to run in worker processes or on a Dask cluster.
Runner = Callable[[Scenario, int, int], dict[str, float]]

#: Per-run metrics an experiment reports (keys of ``RunResult.summary`` plus ``cancel_rate``).
METRICS = (
    "fulfilment_rate", "wait_assign_mean_min", "wait_assign_p50_min", "wait_assign_p90_min",
    "travel_km_per_job", "utilisation", "gini_earnings", "share_workers_no_job",
    "cancelled", "cancel_rate", "avg_rating", "bookings",
)


def sim_metrics(scenario: Scenario, seed: int, replication: int) -> dict[str, float]:
    """The default runner: one statewide-model run, reduced to :data:`METRICS`."""
    from sim.runner import run_one

    s = run_one(scenario, seed=seed, replication=replication).summary
    out = {m: float(s.get(m, math.nan)) for m in METRICS if m != "cancel_rate"}
    out["cancel_rate"] = out["cancelled"] / out["bookings"] if out["bookings"] else math.nan
    return {m: out[m] for m in METRICS}


@dataclass(frozen=True)
class Arm:
    """One variant under study: a label (policy or sweep point) and its resolved scenario.

    ``values`` holds a sweep point's ``(key, value text)`` pairs (empty for a policy).
    """

    label: str
    scenario: Scenario
    values: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Task:
    """One replication of one arm, in a form that pickles cheaply and identically."""

    arm: int
    label: str
    raw: dict[str, Any]
    seed: int
    replication: int


def run_task(runner: Runner, task: Task) -> dict[str, Any]:
    """Run one task (in whatever process): ``{"arm", "replication", metric...}``."""
    metrics = runner(validate(task.raw), task.seed, task.replication)
    return {"arm": task.arm, "replication": task.replication, **{k: float(v) for k, v in metrics.items()}}


def make_tasks(arms: Sequence[Arm], seed: int, reps: Iterable[int]) -> list[Task]:
    """Tasks for replications ``reps`` of every arm (same replication numbers for all: CRN)."""
    raws = [a.scenario.model_dump(mode="json") for a in arms]
    return [Task(i, a.label, raws[i], seed, r) for r in reps for i, a in enumerate(arms)]


class Pool:
    """Where tasks run: in this process (``cores=1``), a local process pool, or a Dask cluster.

    Args:
        cores: worker processes on this machine (``None``: all CPUs); 1 runs in-process.
        dask: a Dask scheduler address (``tcp://host:8786``) or a ``distributed.Client``;
            overrides ``cores``.  Workers need this package importable.
        progress: ``progress(done, total)`` called as replications finish.
        connect_timeout_s: how long to try reaching the Dask scheduler [seconds].
    """

    def __init__(self, cores: int | None = None, dask: Any = None,
                 progress: Callable[[int, int], None] | None = None,
                 connect_timeout_s: float = 10.0) -> None:
        self.cores = cores or os.cpu_count() or 1
        self.dask = dask
        self.progress = progress
        self.connect_timeout_s = connect_timeout_s
        self._client: Any = None
        self._own_client = False
        self._procs: ProcessPoolExecutor | None = None

    def __enter__(self) -> Pool:
        if self.dask is not None:
            from distributed import Client

            if isinstance(self.dask, str):
                try:
                    self._client = Client(self.dask, timeout=f"{self.connect_timeout_s}s")
                except (OSError, TimeoutError) as e:
                    raise InputError(f"--dask: cannot reach a scheduler at {self.dask!r} ({e})") from None
                self._own_client = True
            else:
                self._client = self.dask
        elif self.cores > 1:
            # spawn: workers start clean (no forked SimPy/threads state), same on every OS
            self._procs = ProcessPoolExecutor(self.cores, mp_context=get_context("spawn"))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._procs is not None:
            self._procs.shutdown(cancel_futures=True)
            self._procs = None
        if self._own_client:
            self._client.close()
        self._client = None

    def run(self, tasks: Sequence[Task], runner: Runner) -> list[dict[str, Any]]:
        """Run ``tasks``; rows come back sorted by (arm, replication)."""
        rows: list[dict[str, Any]] = []

        def done(row: dict[str, Any]) -> None:
            rows.append(row)
            if self.progress is not None:
                self.progress(len(rows), len(tasks))

        if self._client is not None:
            from distributed import as_completed as dask_completed

            for f in dask_completed([self._client.submit(run_task, runner, t, pure=False) for t in tasks]):
                done(f.result())
        elif self._procs is not None:
            for f in as_completed([self._procs.submit(run_task, runner, t) for t in tasks]):
                done(f.result())
        else:
            for t in tasks:
                done(run_task(runner, t))
        return sorted(rows, key=lambda r: (r["arm"], r["replication"]))


def replicate(arms: Sequence[Arm], seed: int, reps: Iterable[int], runner: Runner = sim_metrics,
              pool: Pool | None = None) -> pd.DataFrame:
    """Wide results: one row per arm and replication (``arm, label, replication, metric...``)."""
    tasks = make_tasks(arms, seed, reps)
    if pool is None:
        with Pool(cores=1) as p:
            rows = p.run(tasks, runner)
    else:
        rows = pool.run(tasks, runner)
    df = pd.DataFrame(rows)
    df.insert(1, "label", [arms[i].label for i in df["arm"]])
    return df


def to_long(wide: pd.DataFrame, by: str) -> pd.DataFrame:
    """Tidy ``by, replication, metric, value`` from :func:`replicate`'s wide table (order kept)."""
    metrics = [c for c in wide.columns if c not in {"arm", "label", "replication"}]
    if {"metric", "value", by} & set(metrics):
        raise ValueError(f"metric names may not be 'metric', 'value' or {by!r}")
    long = wide.melt(id_vars=["arm", "label", "replication"], value_vars=metrics,
                     var_name="metric", value_name="value")
    long["_m"] = long["metric"].map({m: i for i, m in enumerate(metrics)})
    long = long.sort_values(["arm", "replication", "_m"], kind="stable").drop(columns=["arm", "_m"])
    return long.rename(columns={"label": by}).reset_index(drop=True)


@dataclass(frozen=True)
class Precision:
    """A precision goal: the 95% CI half-width of ``metric`` at most ``half_width``.

    With ``relative`` the goal is ``half_width × |mean|`` (e.g. 0.05 for ±5 %).  With
    ``paired`` it applies to each arm's paired difference from the first arm (relative to the
    first arm's mean) instead of to each arm's own mean.
    """

    metric: str
    half_width: float
    relative: bool = False
    paired: bool = False

    def __str__(self) -> str:
        hw = f"{self.half_width * 100:g}%" if self.relative else f"{self.half_width:g}"
        return f"{self.metric}={hw}" + (" (paired)" if self.paired else "")

    def samples(self, done: pd.DataFrame) -> list[tuple[np.ndarray, float]]:
        """``(values, goal half-width)`` per arm (or per paired difference) from wide results."""
        by_arm = [g[self.metric].to_numpy() for _, g in done.groupby("arm", sort=True)]
        scale = [abs(float(np.nanmean(x))) if np.isfinite(x).any() else math.nan for x in by_arm]
        if self.paired:
            return [(x - by_arm[0], self.half_width * scale[0] if self.relative else self.half_width)
                    for x in by_arm[1:]]
        return [(x, self.half_width * sc if self.relative else self.half_width)
                for x, sc in zip(by_arm, scale, strict=True)]


def replicate_until(arms: Sequence[Arm], seed: int, targets: Sequence[Precision], min_reps: int,
                    max_reps: int, runner: Runner = sim_metrics, pool: Pool | None = None) -> pd.DataFrame:
    """Replicate every arm until each target holds for every arm, or ``max_reps`` is reached.

    Starts with ``min_reps`` replications, then repeatedly runs the extra replications that
    the sequential rule (:func:`~sim.experiments.stats.reps_needed`) asks for, all arms
    together so they stay paired.  Deterministic: the stopping decision depends only on
    results, which are the same serial or parallel.
    """
    done = replicate(arms, seed, range(min_reps), runner, pool)
    n = min_reps
    while n < max_reps:
        need = n
        for t in targets:
            if t.metric not in done.columns:
                raise ValueError(f"unknown metric {t.metric!r}")
            for x, hw in t.samples(done):
                if not math.isfinite(hw):
                    continue  # metric undefined in every replication so far: nothing to aim at
                need = max(need, reps_needed(x, hw, max_reps=max_reps))
        if need <= n:
            break
        more = replicate(arms, seed, range(n, need), runner, pool)
        done = pd.concat([done, more], ignore_index=True).sort_values(["arm", "replication"], kind="stable")
        n = need
    return done.reset_index(drop=True)


def parse_precision(items: Sequence[str], paired: bool = False) -> tuple[Precision, ...]:
    """``["fulfilment_rate=0.01", "travel_km_per_job=5%"]`` → precision goals (``InputError`` if bad)."""
    out = []
    for item in items:
        metric, eq, text = item.partition("=")
        metric, text = metric.strip(), text.strip()
        if not eq or metric not in METRICS:
            raise InputError(f"--precision {item!r}: expected METRIC=HW with METRIC one of {', '.join(METRICS)}")
        relative = text.endswith("%")
        try:
            hw = float(text.rstrip("%")) / (100.0 if relative else 1.0)
        except ValueError:
            raise InputError(f"--precision {item!r}: half-width is not a number") from None
        if not (hw > 0 and math.isfinite(hw)):
            raise InputError(f"--precision {item!r}: half-width must be > 0")
        out.append(Precision(metric, hw, relative, paired))
    return tuple(out)
