"""Dispatch in the deployment: SQL finds the candidates, the simulation's policy chooses.

The policy object is the same code the twin runs (``sim.policies``).  "Time" for policies
is minutes since the server epoch (stored in the ``meta`` table at first start, so it
survives restarts).  Broadcast-style policies may return several workers; the service
offers the booking to the first one only.  Batching policies are asked one job at a time.

Reserving a worker: the candidate list is read without locks, the policy picks, and only
the picked worker's row is then locked with ``FOR UPDATE SKIP LOCKED`` and re-checked
(free, available).  If that fails another request got there first: the worker is dropped
and the policy asked again.  So concurrent bookings never block on each other and never
share a worker; on SQLite the whole transaction is already serialized.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, Row

from service import sql
from service.sql import Stmt
from sim.geography import KM_PER_DEG_LAT, haversine_km
from sim.policies import Candidates, DispatchPolicy, JobRequest
from sim.policies.base import subset
from sim.ratings import rating_with_prior

#: Pending bookings looked at when one worker frees up (oldest first).
PENDING_SCAN = 20


def box(lat: float, lon: float, radius_km: float) -> tuple[float, float, float, float]:
    """A lat/lon box [degrees] containing the circle of ``radius_km`` around the point."""
    dlat = radius_km / KM_PER_DEG_LAT * 1.01
    dlon = dlat / max(0.05, math.cos(math.radians(min(89.0, abs(lat) + dlat))))
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


# Hot statements, written once per database (``service.sql``).
CANDIDATES = Stmt(
    "SELECT w.id, w.lat, w.lon, w.rating_sum, w.rating_count, w.gross_paise, w.idle_since_min, w.jobs"
    " FROM worker_skills s JOIN workers w ON w.id = s.worker_id"
    " WHERE s.category = :cat AND s.lat BETWEEN :lat0 AND :lat1 AND s.lon BETWEEN :lon0 AND :lon1"
    " AND w.available = TRUE AND w.active_booking_id IS NULL"
    # NOT EXISTS, not NOT IN (subquery): SQLite builds a temporary table for the IN list on every
    # execution (a pager and a zeroed page: ~7 % of a booking's instructions); this is a key probe per row
    " AND NOT EXISTS (SELECT 1 FROM booking_declines d WHERE d.booking_id = :bid AND d.worker_id = w.id)")
#: Reserve the picked worker if they are still free and available and nobody else holds their
#: row, and offer them the booking; the booking's id if both happened, no row otherwise.
#: PostgreSQL: one statement (the row locked ``SKIP LOCKED``, then both updates); SQLite
#: (writers serialized): the reservation, then the offer only if the worker now holds it.
_RESERVE = ("UPDATE workers SET active_booking_id = :bid"
            " WHERE id = :wid AND available = TRUE AND active_booking_id IS NULL")
_OFFER = ("UPDATE bookings SET status = 'offered', worker_id = :wid, offered_at = :now, offers = offers + 1,"
          " first_offered_at = COALESCE(first_offered_at, :now) WHERE id = :bid AND {reserved} RETURNING id")
RESERVE_AND_OFFER = Stmt(
    _RESERVE, _OFFER.replace("{reserved}", "(SELECT active_booking_id FROM workers WHERE id = :wid) = :bid"),
    pg="WITH free AS (SELECT id FROM workers WHERE id = :wid AND available = TRUE AND active_booking_id IS NULL"
       "{skip_locked}), reserved AS (UPDATE workers w SET active_booking_id = :bid FROM free WHERE w.id = free.id"
       " RETURNING w.id) " + _OFFER.replace("{reserved}", "EXISTS (SELECT 1 FROM reserved)"))
WORKER = Stmt("SELECT * FROM workers WHERE id = :wid")
#: Pending bookings of worker ``:wid``'s skills in the box ``:lat0``..``:lon1`` (SQL condition on ``bookings``).
PENDING_IN_BOX = ("status = 'pending' AND category IN (SELECT category FROM worker_skills WHERE worker_id = :wid)"
                  " AND lat BETWEEN :lat0 AND :lat1 AND lon BETWEEN :lon0 AND :lon1")
#: Pending bookings near a worker who just became free, that they have not declined (oldest first).
PENDING_NEAR = Stmt(
    f"SELECT * FROM bookings WHERE {PENDING_IN_BOX}"
    " AND id NOT IN (SELECT booking_id FROM booking_declines WHERE worker_id = :wid)"
    f" ORDER BY id LIMIT {PENDING_SCAN}{{skip_locked}}")
RELEASE = Stmt("UPDATE workers SET active_booking_id = NULL, idle_since_min = :idle WHERE id = :wid")


@dataclass
class Dispatcher:
    """Binds a policy to the database; ``epoch`` is the server epoch [unix seconds].

    ``rating_prior`` is ``(mean [stars], weight [ratings])`` of ``sim.ratings.rating_with_prior``,
    from the scenario (``Reference.rating_prior``), as in the twin.
    """

    policy: DispatchPolicy
    epoch: float
    rating_prior: tuple[float, float]
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def now_min(self, now: float | None = None) -> float:
        """Policy time [minutes since the server epoch]."""
        return ((time.time() if now is None else now) - self.epoch) / 60.0

    def candidates(self, conn: Connection, b: Row) -> Candidates:
        """Free, available workers with the skill within the radius of booking ``b``."""
        lat0, lat1, lon0, lon1 = box(b.lat, b.lon, self.policy.radius_km)
        return self.candidates_from(sql.run(conn, CANDIDATES, {"cat": b.category, "lat0": lat0, "lat1": lat1,
                                                               "lon0": lon0, "lon1": lon1, "bid": b.id}),
                                    b.lat, b.lon)

    def candidates_from(self, rows: Iterable[Sequence], lat: float, lon: float) -> Candidates:
        """Candidates from rows shaped like ``CANDIDATES``' columns, kept if within the radius.

        Whole columns at once, with the twin's own distance and rating functions; sorted by
        ``(distance_km, worker_id)`` as ``Candidates`` requires.
        """
        rows = list(rows)
        if not rows:
            return Candidates.empty()
        # ids, money [paise] and counts are far below 2**53: exact as float64
        wid, wlat, wlon, rating_sum, rating_count, gross, idle, jobs = np.asarray(rows, dtype=np.float64).T
        d = haversine_km(lat, lon, wlat, wlon)
        keep = np.flatnonzero(d <= self.policy.radius_km)
        keep = keep[np.lexsort((wid[keep], d[keep]))]
        mean, weight = self.rating_prior
        return Candidates(wid[keep].astype(np.int64), d[keep],
                          np.asarray(rating_with_prior(rating_sum[keep], rating_count[keep], mean, weight), float),
                          gross[keep].astype(np.int64), idle[keep], jobs[keep].astype(np.int64))

    def dispatch(self, conn: Connection, b: Row, now: float) -> int | None:
        """Offer pending booking ``b`` to the worker the policy picks; return it, or ``None``."""
        def reserve(wid: int) -> bool:
            return sql.scalar(conn, RESERVE_AND_OFFER, {"bid": b.id, "wid": wid, "now": now}) is not None

        return self.pick(self.job(b), self.candidates(conn, b), now, reserve)

    def job(self, b: Row | Any) -> JobRequest:
        """The policy's view of booking ``b``."""
        return JobRequest(b.id, b.category, b.district, b.lat, b.lon, self.now_min(b.created_at))

    def pick(self, job: JobRequest, cands: Candidates, now: float, reserve: Callable[[int], bool]) -> int | None:
        """Ask the policy until ``reserve(worker)`` succeeds; the reserved worker, or ``None``.

        ``reserve`` must lock the worker's row if nobody else holds it, re-check that they are
        free and available, and offer them the booking; ``False`` if that failed.
        """
        while len(cands):
            wid = self.choose(job, cands, now)
            if wid is None:
                return None
            if reserve(wid):
                return wid
            cands = self.without(cands, wid)  # someone else reserved them first
        return None

    def choose(self, job: JobRequest, cands: Candidates, now: float) -> int | None:
        """The worker the policy offers ``job`` to first, or ``None`` to leave it waiting."""
        with self._lock:  # a bound policy's generator is not thread-safe
            picked = self.policy.choose(job, cands, self.now_min(now))
        return int(picked[0]) if picked else None

    @staticmethod
    def without(cands: Candidates, wid: int) -> Candidates:
        """``cands`` less worker ``wid`` (who could not be reserved)."""
        return subset(cands, cands.worker_id != wid)

    def pending_box(self, lat: float, lon: float) -> dict[str, float]:
        """``PENDING_IN_BOX``'s box parameters around a worker at (lat, lon) [degrees]."""
        lat0, lat1, lon0, lon1 = box(lat, lon, self.policy.radius_km)
        return {"lat0": lat0, "lat1": lat1, "lon0": lon0, "lon1": lon1}

    def free_worker(self, conn: Connection, wid: int, now: float, where: tuple[float, float] | None = None
                    ) -> int | None:
        """Worker ``wid`` just became free: offer them a waiting booking nearby, oldest first.

        Each waiting booking is dispatched with the policy (which may prefer another free
        worker); the scan stops once ``wid`` is reserved.  Returns the booking ``wid`` got.
        ``where`` is the worker's (lat, lon) when the caller knows they are free and available.
        """
        if where is None:
            w = sql.first(conn, WORKER, {"wid": wid})
            if w is None or not w.available or w.active_booking_id is not None:
                return None
            where = (w.lat, w.lon)
        pend = sql.all_rows(conn, PENDING_NEAR, {"wid": wid, **self.pending_box(*where)})
        if not pend:
            return None
        near = haversine_km(np.array([b.lat for b in pend]), np.array([b.lon for b in pend]), *where)
        for b, d in zip(pend, near, strict=True):
            if d > self.policy.radius_km:
                continue
            if self.dispatch(conn, b, now) == wid:
                return b.id
        return None


def release(conn: Connection, wid: int, now: float, disp: Dispatcher) -> None:
    """Worker ``wid`` no longer holds a booking: mark them idle and look for waiting work."""
    sql.run(conn, RELEASE, {"wid": wid, "idle": disp.now_min(now)})
    disp.free_worker(conn, wid, now)


def stats_rows(rows: list[float]) -> dict[str, float]:
    """Count, mean and percentiles of latencies [seconds]."""
    if not rows:
        return {"count": 0}
    a = np.asarray(rows, dtype=np.float64)
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return {"count": int(a.size), "mean_s": float(a.mean()), "p50_s": float(p50), "p90_s": float(p90),
            "p99_s": float(p99), "max_s": float(a.max())}
