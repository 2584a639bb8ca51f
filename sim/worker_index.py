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
        # The shown rating, kept current by add_rating (a search reads it, it is not recomputed).
        self._shown = rating_with_prior(self.rating_sum, self.ratings_received, self.prior_mean, self.prior_weight)

    @property
    def rating(self) -> np.ndarray:
        """The shown rating: citizens' stars shrunk towards the prior (``sim.ratings``) [stars]."""
        return self._shown.copy()

    def rating_of(self, ids: np.ndarray | slice) -> np.ndarray:
        """The shown rating of workers ``ids`` only [stars]."""
        return self._shown[ids]

    def add_rating(self, w: int, stars: float) -> None:
        """Fold one citizen rating into worker ``w``'s shown rating (policies see it at once)."""
        self.rating_sum[w] += stars
        self.ratings_received[w] += 1
        self._shown[w] = rating_with_prior(float(self.rating_sum[w]), int(self.ratings_received[w]),
                                           self.prior_mean, self.prior_weight)


class WorkerIndex:
    """Spatial index of active workers by skill; answers ``candidates(job, radius, now)``.

    Per category it keeps the tree and, in tree order, the worker ids, homes and shift
    hours, so a search gathers a few contiguous columns instead of indexing the workforce.
    """

    def __init__(self, wf: Workforce, cat_keys: tuple[str, ...], state: WorkerState) -> None:
        self.wf = wf
        self.state = state
        self.cat_pos = {k: i for i, k in enumerate(cat_keys)}
        self._cols: list[tuple[np.ndarray, ...]] = []  # (ids, lat, lon, shift start, shift end)
        self._lists: list[tuple[list, ...]] = []  # (ids, shift start, shift end) as lists: scalar reads
        self._trees: list[cKDTree | None] = []
        #: per category, whether any of its workers is on shift in each hour of the day: outside
        #: those hours a search finds nobody, so it is not made (night-time retries are many)
        self._staffed: list[list[bool]] = []
        #: per category, the hours of the day at which some of its workers come on shift
        self._starts: list[frozenset[int]] = []
        xy = project_km(wf.lat, wf.lon)
        hours = np.arange(24)
        for c in range(len(cat_keys)):
            ids = np.flatnonzero(wf.active & wf.has_skill(c)).astype(np.int64)
            on = (wf.shift_start_h[ids, None] <= hours) & (hours < wf.shift_end_h[ids, None])
            self._staffed.append(on.any(axis=0).tolist())
            self._starts.append(frozenset(wf.shift_start_h[ids].tolist()))
            self._cols.append((ids, wf.lat[ids], wf.lon[ids], wf.shift_start_h[ids], wf.shift_end_h[ids]))
            self._lists.append((ids.tolist(), wf.shift_start_h[ids].tolist(), wf.shift_end_h[ids].tolist()))
            self._trees.append(cKDTree(xy[ids]) if ids.size else None)
        self._plan: tuple | None = None  # per-booking nearest workers (see plan)

    def plan(self, category: np.ndarray, lat: np.ndarray, lon: np.ndarray, radius_km: float,
             limit: int | None) -> None:
        """Look up every booking's ``8 * limit`` nearest workers of its skill at once.

        One batched k-d tree query per category before the run (C speed) instead of one
        query per search; a search then only checks who of them is free now.  Per booking it
        keeps tree positions, haversine distances [km] and the planar distance of the last
        one (inf when the radius held fewer, i.e. the list is complete).
        """
        if limit is None:
            return
        k0, n_b = 8 * limit, len(category)
        pos = np.full((n_b, k0), -1, dtype=np.int32)
        hav = np.full((n_b, k0), np.inf)
        last = np.full(n_b, np.inf)
        xy = project_km(lat, lon)
        ub = np.nextafter(radius_km * INDEX_SLACK, np.inf)
        for c, tree in enumerate(self._trees):
            sel = np.flatnonzero(category == c)
            if tree is None or sel.size == 0:
                continue
            k = min(k0, tree.n)
            d, p = tree.query(xy[sel], k=k, distance_upper_bound=ub)
            d, p = d.reshape(sel.size, k), p.reshape(sel.size, k)
            found = p < tree.n
            _, lat_c, lon_c, _, _ = self._cols[c]
            q = np.where(found, p, 0)
            h = haversine_km(lat[sel, None], lon[sel, None], lat_c[q], lon_c[q])
            pos[sel, :k] = np.where(found, p, -1)
            hav[sel, :k] = np.where(found, h, np.inf)
            if k == k0 and k < tree.n:  # else every worker within the bound is in the list
                last[sel] = np.where(found[:, -1], d[:, -1], np.inf)
        self._plan = (radius_km, limit, pos, hav, last)

    def next_shift_start(self, c: int, t_min: float) -> float:
        """When a worker with skill ``c`` next comes on shift after ``t_min`` [minutes] (inf if never)."""
        starts = self._starts[c]
        if not starts:
            return float("inf")
        hour0 = int(t_min // 60)
        for d in range(1, 25):
            if (hour0 + d) % 24 in starts:
                return (hour0 + d) * 60.0
        return float("inf")

    def staffed(self, c: int, t_min: float) -> bool:
        """Whether any worker with skill ``c`` (a catalog index) is on shift at time ``t_min`` [minutes]."""
        return self._trees[c] is not None and self._staffed[c][int(t_min // 60) % 24]

    def candidates(self, job: JobRequest, radius_km: float, now_min: float, limit: int | None = None) -> Candidates:
        """Free, on-shift workers with the skill within ``radius_km`` of the job, nearest first.

        With ``limit`` only the ``limit`` nearest of them (the same ones, in the same order, as
        the head of the full list): k-nearest queries widened until the answer is settled, so a
        search costs the same however many workers live in the radius.
        """
        c = self.cat_pos[job.category]
        tree = self._trees[c]
        hour = int(now_min // 60) % 24
        if tree is None or not self._staffed[c][hour]:
            return Candidates.empty()
        if limit is None:
            xy = project_km(job.lat, job.lon)[0]
            pos = np.asarray(tree.query_ball_point(xy, radius_km * INDEX_SLACK), dtype=np.int64)
            return self._ranked(job, c, self._available(job, c, pos, hour), radius_km, None)
        plan = self._plan
        if plan is not None and plan[0] == radius_km and plan[1] == limit:
            out = self._from_plan(job, c, hour, radius_km, limit)
            if out is not None:
                return out
            return self._widening(job, c, hour, radius_km, limit, 32 * limit)  # the plan held 8 * limit
        return self._widening(job, c, hour, radius_km, limit, 8 * limit)

    def _from_plan(self, job: JobRequest, c: int, hour: int, radius_km: float, limit: int) -> Candidates | None:
        """The head from the planned neighbours, or None if they do not settle it."""
        ids_c = self._lists[c][0]
        _, _, pos_p, hav_p, last_p = self._plan
        b = job.booking_id
        pos, hav = pos_p[b].tolist(), hav_p[b].tolist()
        # (distance, worker id) of the planned neighbours free now: tuples sort like the lexsort in _ranked.
        free = sorted((hav[j], ids_c[pos[j]]) for j in self._free(job, c, pos, hour) if hav[j] <= radius_km)[:limit]
        last = float(last_p[b])
        if last != np.inf and not (len(free) == limit and last > free[-1][0] * INDEX_SLACK):
            return None
        if not free:
            return Candidates.empty()
        return self._make(np.array([w for _, w in free], dtype=np.int64), np.array([h for h, _ in free]))

    def _widening(self, job: JobRequest, c: int, hour: int, radius_km: float, limit: int, k: int) -> Candidates:
        """k-nearest queries from ``k`` up, widened 4x until the head of the list is settled."""
        tree, n = self._trees[c], self._trees[c].n
        xy = project_km(job.lat, job.lon)[0]
        ub = np.nextafter(radius_km * INDEX_SLACK, np.inf)
        while True:
            k = min(k, n)
            d, pos = tree.query(xy, k=k, distance_upper_bound=ub)
            pos = np.atleast_1d(pos).tolist()
            avail = [pos[j] for j in self._free(job, c, pos, hour)]
            out = self._ranked(job, c, np.array(avail, dtype=np.int64), radius_km, limit)
            # Any worker nearer than the limit-th candidate lies within INDEX_SLACK times its
            # distance in the plane, so the head is settled once the k-th point is farther
            # (or once the bound ran out of points before k).
            if (pos[-1] == n or k == n
                    or (len(out) >= limit and float(np.atleast_1d(d)[-1]) > out.distance_km[limit - 1] * INDEX_SLACK)):
                return out
            k *= 4

    def _free(self, job: JobRequest, c: int, pos: list[int], hour: int) -> list[int]:
        """Indices j of tree positions ``pos[j]`` (-1 or n = none) whose workers can take the job.

        Free, on shift and not excluded: the availability rule for a few positions, in scalar
        Python (cheaper than a dozen numpy calls on a handful of items).  Same rule as ``_available``.
        """
        ids_c, start_c, end_c = self._lists[c]
        busy, excluded, n = self.state.busy, job.excluded, len(ids_c)
        return [j for j, p in enumerate(pos) if 0 <= p < n and start_c[p] <= hour < end_c[p]
                and not busy[ids_c[p]] and ids_c[p] not in excluded]

    def _available(self, job: JobRequest, c: int, pos: np.ndarray, hour: int) -> np.ndarray:
        """The tree positions among ``pos`` whose workers are free, on shift and not excluded.

        The availability rule vectorised, for the many positions of a radius search (same rule as ``_free``).
        """
        ids_c, _, _, start_c, end_c = self._cols[c]
        ok = ~self.state.busy[ids_c[pos]] & (start_c[pos] <= hour) & (hour < end_c[pos])
        if job.excluded:
            ok &= ~np.isin(ids_c[pos], np.fromiter(job.excluded, dtype=np.int64))
        return pos[ok]

    def _ranked(self, job: JobRequest, c: int, pos: np.ndarray, radius_km: float, limit: int | None) -> Candidates:
        """Candidates at available tree positions ``pos``: within the radius, sorted, cut to ``limit``."""
        if pos.size == 0:
            return Candidates.empty()
        ids_c, lat_c, lon_c, _, _ = self._cols[c]
        ids = ids_c[pos]
        dist = haversine_km(job.lat, job.lon, lat_c[pos], lon_c[pos])
        keep = dist <= radius_km
        ids, dist = ids[keep], dist[keep]
        order = np.lexsort((ids, dist))[:limit]  # distance, then worker id: stable ties
        return self._make(ids[order], dist[order])

    def _make(self, ids: np.ndarray, dist: np.ndarray) -> Candidates:
        """Candidates ``ids`` at ``dist`` [km] (already sorted) with their current state."""
        st = self.state
        return Candidates(ids, dist, st.rating_of(ids), st.gross_paise[ids], st.idle_since[ids], st.jobs[ids])
