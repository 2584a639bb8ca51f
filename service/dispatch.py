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
from sqlalchemy import Connection, Row, bindparam, func, select, update

from service import db
from sim.geography import EARTH_RADIUS_KM, KM_PER_DEG_LAT
from sim.policies import Candidates, DispatchPolicy, JobRequest
from sim.policies.base import subset
from sim.ratings import rating_with_prior

W, S, B = db.workers, db.worker_skills, db.bookings
#: Pending bookings looked at when one worker frees up (oldest first).
PENDING_SCAN = 20


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance [km] between two points [degrees] (scalar version)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def box(lat: float, lon: float, radius_km: float) -> tuple[float, float, float, float]:
    """A lat/lon box [degrees] containing the circle of ``radius_km`` around the point."""
    dlat = radius_km / KM_PER_DEG_LAT * 1.01
    dlon = dlat / max(0.05, math.cos(math.radians(min(89.0, abs(lat) + dlat))))
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


# Hot statements are built once; executing them only binds parameters.
CANDIDATES = (
    select(W.c.id, W.c.lat, W.c.lon, W.c.rating_sum, W.c.rating_count, W.c.gross_paise, W.c.idle_since_min,
           W.c.jobs)
    .select_from(S.join(W, W.c.id == S.c.worker_id))
    .where(S.c.category == bindparam("cat"), S.c.lat.between(bindparam("lat0"), bindparam("lat1")),
           S.c.lon.between(bindparam("lon0"), bindparam("lon1")), W.c.available.is_(True),
           W.c.active_booking_id.is_(None),
           W.c.id.not_in(select(db.declines.c.worker_id).where(db.declines.c.booking_id == bindparam("bid"))))
)
#: Lock the picked worker's row if nobody else holds it, re-checking that they are still free.
LOCK_FREE = (select(W.c.id).where(W.c.id == bindparam("wid"), W.c.available.is_(True),
                                  W.c.active_booking_id.is_(None)).with_for_update(skip_locked=True))
RESERVE_WORKER = update(W).where(W.c.id == bindparam("wid")).values(active_booking_id=bindparam("bid"))
OFFER = update(B).where(B.c.id == bindparam("bid")).values(
    status="offered", worker_id=bindparam("wid"), offered_at=bindparam("now"), offers=B.c.offers + 1,
    first_offered_at=func.coalesce(B.c.first_offered_at, bindparam("now")))


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
        return self.candidates_from(conn.execute(CANDIDATES, {"cat": b.category, "lat0": lat0, "lat1": lat1,
                                                              "lon0": lon0, "lon1": lon1, "bid": b.id}),
                                    b.lat, b.lon)

    def candidates_from(self, rows: Iterable[Sequence], lat: float, lon: float) -> Candidates:
        """Candidates from rows shaped like ``CANDIDATES``' columns, kept if within the radius."""
        r = self.policy.radius_km
        mean, weight = self.rating_prior
        out = []
        for wid, wlat, wlon, rating_sum, rating_count, gross, idle, jobs in rows:
            d = haversine_km(lat, lon, wlat, wlon)
            if d <= r:
                shown = rating_with_prior(float(rating_sum), rating_count, mean, weight)
                out.append((wid, d, shown, gross, idle, jobs))
        return Candidates.from_rows(out)

    def dispatch(self, conn: Connection, b: Row, now: float) -> int | None:
        """Offer pending booking ``b`` to the worker the policy picks; return it, or ``None``."""
        def reserve(wid: int) -> bool:
            if conn.execute(LOCK_FREE, {"wid": wid}).first() is None:
                return False
            conn.execute(RESERVE_WORKER, {"wid": wid, "bid": b.id})
            conn.execute(OFFER, {"bid": b.id, "wid": wid, "now": now})
            return True

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

    def free_worker(self, conn: Connection, wid: int, now: float) -> int | None:
        """Worker ``wid`` just became free: offer them a waiting booking nearby, oldest first.

        Each waiting booking is dispatched with the policy (which may prefer another free
        worker); the scan stops once ``wid`` is reserved.  Returns the booking ``wid`` got.
        """
        w = conn.execute(select(W).where(W.c.id == wid)).first()
        if w is None or not w.available or w.active_booking_id is not None:
            return None
        skills = select(S.c.category).where(S.c.worker_id == wid)
        declined = select(db.declines.c.booking_id).where(db.declines.c.worker_id == wid)
        lat0, lat1, lon0, lon1 = box(w.lat, w.lon, self.policy.radius_km)
        pend = conn.execute(
            select(B).where(B.c.status == "pending", B.c.category.in_(skills), B.c.lat.between(lat0, lat1),
                            B.c.lon.between(lon0, lon1), B.c.id.not_in(declined))
            .order_by(B.c.id).limit(PENDING_SCAN).with_for_update(skip_locked=True)
        ).all()
        for b in pend:
            if haversine_km(b.lat, b.lon, w.lat, w.lon) > self.policy.radius_km:
                continue
            if self.dispatch(conn, b, now) == wid:
                return b.id
        return None


def release(conn: Connection, wid: int, now: float, disp: Dispatcher) -> None:
    """Worker ``wid`` no longer holds a booking: mark them idle and look for waiting work."""
    conn.execute(update(W).where(W.c.id == wid).values(active_booking_id=None, idle_since_min=disp.now_min(now)))
    disp.free_worker(conn, wid, now)


def stats_rows(rows: list[float]) -> dict[str, float]:
    """Count, mean and percentiles of latencies [seconds]."""
    if not rows:
        return {"count": 0}
    a = np.asarray(rows, dtype=np.float64)
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return {"count": int(a.size), "mean_s": float(a.mean()), "p50_s": float(p50), "p90_s": float(p90),
            "p99_s": float(p99), "max_s": float(a.max())}
