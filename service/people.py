"""Workers' state in the database: availability and position (the most frequent call of all)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from service import sql
from service.errors import not_found
from service.sql import Stmt

#: Moves the worker's skill rows with them (no-op unless moved), sets availability, position and
#: idle time (from now if they become available while free), and answers ``pending``: whether a
#: worker now available and free has pending bookings of their skills nearby (``free_worker``
#: then looks closer).  PostgreSQL does it in one statement, SQLite in two.
_MOVE = "UPDATE worker_skills SET lat = :lat, lon = :lon WHERE worker_id = :wid AND (lat <> :lat OR lon <> :lon)"
_SET_ROW = ("UPDATE workers SET available = :available, lat = :lat, lon = :lon, idle_since_min = CASE"
            " WHEN :available AND NOT available AND active_booking_id IS NULL THEN :idle ELSE idle_since_min END"
            " WHERE id = :wid")
#: On a ``workers`` row: the worker is (now) available and free, and pending bookings of their skills wait nearby.
#: From the worker's skill rows into the (status, category) index; ``category IN (SELECT ...)`` made
#: SQLite build a temporary table for the list on every status update.  CROSS JOIN keeps that order on
#: SQLite (no statistics); PostgreSQL plans it as an inner join.  ``COALESCE(..., 0) = 0``, not ``IS NULL``:
#: SQLite 3.40.1 answers ``active_booking_id IS NULL`` in a RETURNING clause as false for a NULL column (and
#: ``IS NOT NULL`` as true), so a worker becoming available never picked up waiting bookings there (ids are >= 1).
_PENDING = ("(:available AND COALESCE(active_booking_id, 0) = 0 AND EXISTS (SELECT 1 FROM worker_skills k"
            " CROSS JOIN bookings b WHERE k.worker_id = :wid AND b.status = 'pending' AND b.category = k.category"
            " AND b.lat BETWEEN :lat0 AND :lat1 AND b.lon BETWEEN :lon0 AND :lon1))")
_SET = f"{_SET_ROW} RETURNING district, active_booking_id, {_PENDING} AS pending"
SET_STATUS = Stmt(_MOVE, _SET, pg=f"WITH moved AS ({_MOVE}) {_SET}")


def worker_out(w: Any) -> dict[str, Any]:
    """The API view of a worker row."""
    return {"id": w.id, "district": w.district, "available": bool(w.available), "lat": w.lat, "lon": w.lon,
            "active_booking_id": w.active_booking_id}


def set_status(ctx: Any, conn: Connection, wid: int, available: bool, lat: float, lon: float, now: float) -> dict:
    """A worker's availability and position; a free worker becoming available may get an offer at once."""
    w = sql.first(conn, SET_STATUS, {"wid": wid, "available": available, "lat": lat, "lon": lon,
                                     "idle": ctx.disp.now_min(now), **ctx.disp.pending_box(lat, lon)})
    if w is None:
        raise not_found(f"worker {wid}")
    holds = w.active_booking_id
    if w.pending:
        holds = ctx.disp.free_worker(conn, wid, now, (lat, lon))
    return {"id": wid, "district": w.district, "available": available, "lat": lat, "lon": lon,
            "active_booking_id": holds}
