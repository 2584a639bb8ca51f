"""``batch``: collect requests for a window, then assign them all at once at least total travel.

Every ``window_s`` seconds the model hands over the jobs that arrived (or came back after a
decline) with their candidates; this policy solves the rectangular assignment problem on the
job × worker distance matrix with ``scipy.optimize.linear_sum_assignment``.  A worker outside
a job's radius (absent from its candidates) cannot take it; among assignments that place the
most jobs, the one with least total distance wins.  A job left without a worker gets ``[]``
and the model retries it later.  Needs from the model: ``batch_window_min > 0`` makes it call
:meth:`choose_batch` at the end of each window (``Model._flush_batch``).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from sim.policies.base import Candidates, DispatchPolicy, JobRequest, PolicyParams
from sim.policies.registry import register


class BatchParams(PolicyParams):
    """Parameters of ``batch``."""

    window_s: float = Field(60.0, gt=0, le=86_400, description="batching window [seconds]")


def assign_min_distance(cands: list[Candidates]) -> list[int]:
    """Worker id per job (-1 = none) placing the most jobs at the least total distance [km]."""
    if not cands or not any(len(c) for c in cands):
        return [-1] * len(cands)
    workers = np.unique(np.concatenate([c.worker_id for c in cands]))  # sorted ids: stable columns
    big = 1.0 + sum(float(c.distance_km.max()) for c in cands if len(c))  # > any feasible total
    cost = np.full((len(cands), workers.size), big)
    for i, c in enumerate(cands):
        cost[i, np.searchsorted(workers, c.worker_id)] = c.distance_km
    from scipy.optimize import linear_sum_assignment  # only batch runs pay for scipy.optimize

    rows, cols = linear_sum_assignment(cost)
    out = [-1] * len(cands)
    for i, j in zip(rows, cols, strict=True):
        if cost[i, j] < big:
            out[int(i)] = int(workers[j])
    return out


@register
class Batch(DispatchPolicy):
    """Windowed optimal assignment minimising total travel distance."""

    name = "batch"
    Params = BatchParams

    @property
    def batch_window_min(self) -> float:
        """Batching window [minutes]."""
        return self.params.window_s / 60.0

    def choose(self, job: JobRequest, cands: Candidates, now_min: float) -> list[int]:
        """A lone job: the nearest candidate (what the assignment gives for one job)."""
        return [int(cands.worker_id[0])] if len(cands) else []

    def choose_batch(
        self, jobs: list[JobRequest], cands: list[Candidates], now_min: float
    ) -> list[list[int]]:
        """One worker (or none) per job; no worker twice."""
        return [[w] if w >= 0 else [] for w in assign_min_distance(cands)]
