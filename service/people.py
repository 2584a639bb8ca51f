"""Workers' state in the database: availability and position (the most frequent call of all)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from service import sql
from service.errors import not_found
from service.sql import Stmt

LOCK_WORKER = Stmt("SELECT available, active_booking_id, lat, lon, district FROM workers WHERE id = :wid{lock}")
SET_STATUS = Stmt("UPDATE workers SET available = :available, lat = :lat, lon = :lon,"
                  " idle_since_min = COALESCE(:idle, idle_since_min) WHERE id = :wid")
MOVE_SKILLS = Stmt("UPDATE worker_skills SET lat = :lat, lon = :lon WHERE worker_id = :wid")


def worker_out(w: Any) -> dict[str, Any]:
    """The API view of a worker row."""
    return {"id": w.id, "district": w.district, "available": bool(w.available), "lat": w.lat, "lon": w.lon,
            "active_booking_id": w.active_booking_id}


def set_status(ctx: Any, conn: Connection, wid: int, available: bool, lat: float, lon: float, now: float) -> dict:
    """A worker's availability and position; a free worker becoming available may get an offer at once."""
    w = sql.first(conn, LOCK_WORKER, {"wid": wid})
    if w is None:
        raise not_found(f"worker {wid}")
    free = w.active_booking_id is None
    idle = ctx.disp.now_min(now) if available and not w.available and free else None
    sql.run(conn, SET_STATUS, {"wid": wid, "available": available, "lat": lat, "lon": lon, "idle": idle})
    if (lat, lon) != (w.lat, w.lon):
        sql.run(conn, MOVE_SKILLS, {"wid": wid, "lat": lat, "lon": lon})
    holds = w.active_booking_id
    if available and free:
        holds = ctx.disp.free_worker(conn, wid, now, (lat, lon))
    return {"id": wid, "district": w.district, "available": available, "lat": lat, "lon": lon,
            "active_booking_id": holds}
