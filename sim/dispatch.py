"""The model's candidate source: a k-d tree per category over active workers' homes.

Workers dispatch from home (they return there between jobs), so the tree is static and
availability is a mask checked on the few workers inside the search radius — never a scan
over the whole workforce.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from sim.geography import INDEX_SLACK, haversine_km, project_km
from sim.policies.base import Candidates, JobRequest
from sim.ratings import rating_with_prior
from sim.workforce import Workforce


class WorkerState:
    """Mutable per-worker state of a run (columnar).

    ``gross_paise``: prices of the worker's completed jobs [paise] (before commission, cash or
    online alike — what ``fair`` ranks on); the wallet credit is the money model's ``credited``.
    """

    def __init__(self, n: int, prior_mean: float, prior_weight: float) -> None:
        self.busy = np.zeros(n, dtype=bool)          # reserved by an offer or on a job
        self.jobs = np.zeros(n, dtype=np.int64)
        self.busy_min = np.zeros(n)                  # time from assignment to completion [minutes]
        self.gross_paise = np.zeros(n, dtype=np.int64)
        self.idle_since = np.zeros(n)                # [minutes]
        self.prior_mean, self.prior_weight = float(prior_mean), float(prior_weight)
        self.rating_sum = np.zeros(n)                # citizens' stars
        self.ratings_received = np.zeros(n, dtype=np.int64)

    @property
    def rating(self) -> np.ndarray:
        """The shown rating: citizens' stars shrunk towards the prior (``sim.ratings``) [stars]."""
        return rating_with_prior(self.rating_sum, self.ratings_received, self.prior_mean, self.prior_weight)

    def rating_of(self, ids: np.ndarray) -> np.ndarray:
        """The shown rating of workers ``ids`` [stars]."""
        return rating_with_prior(self.rating_sum[ids], self.ratings_received[ids], self.prior_mean,
                                 self.prior_weight)

    def add_rating(self, w: int, stars: float) -> None:
        """Fold one citizen rating into worker ``w``'s shown rating (policies see it at once)."""
        self.rating_sum[w] += stars
        self.ratings_received[w] += 1


class WorkerIndex:
    """Spatial index of active workers by skill; answers ``candidates(job, radius, now)``."""

    def __init__(self, wf: Workforce, cat_keys: tuple[str, ...], state: WorkerState) -> None:
        self.wf = wf
        self.state = state
        self.cat_pos = {k: i for i, k in enumerate(cat_keys)}
        self._ids: list[np.ndarray] = []
        self._trees: list[cKDTree | None] = []
        xy = project_km(wf.lat, wf.lon)
        for c in range(len(cat_keys)):
            ids = np.flatnonzero(wf.active & wf.has_skill(c)).astype(np.int64)
            self._ids.append(ids)
            self._trees.append(cKDTree(xy[ids]) if ids.size else None)

    def candidates(self, job: JobRequest, radius_km: float, now_min: float) -> Candidates:
        """Free, on-shift workers with the skill within ``radius_km`` of the job, nearest first."""
        c = self.cat_pos[job.category]
        tree = self._trees[c]
        if tree is None:
            return Candidates.empty()
        hits = tree.query_ball_point(project_km(job.lat, job.lon)[0], radius_km * INDEX_SLACK)
        if not hits:
            return Candidates.empty()
        ids = self._ids[c][np.asarray(hits, dtype=np.int64)]
        hour = int(now_min // 60) % 24
        wf, st = self.wf, self.state
        ok = ~st.busy[ids] & (wf.shift_start_h[ids] <= hour) & (hour < wf.shift_end_h[ids])
        if job.excluded:
            ok &= ~np.isin(ids, np.fromiter(job.excluded, dtype=np.int64))
        ids = ids[ok]
        if ids.size == 0:
            return Candidates.empty()
        dist = haversine_km(job.lat, job.lon, wf.lat[ids], wf.lon[ids])
        keep = dist <= radius_km
        ids, dist = ids[keep], dist[keep]
        order = np.lexsort((ids, dist))  # distance, then worker id: stable ties
        ids, dist = ids[order], dist[order]
        return Candidates(ids, dist, st.rating_of(ids), st.gross_paise[ids], st.idle_since[ids], st.jobs[ids])
