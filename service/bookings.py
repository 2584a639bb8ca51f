"""The booking lifecycle in the database: create, accept, decline, start, complete, cancel, rate.

States: ``pending → offered → accepted → in_progress → completed``; ``cancelled`` from
pending, offered or accepted (by the citizen); a decline (or an offer's time-out,
``service.clocks``) sends an offered booking back to ``pending`` and re-dispatches it, or
ends it ``unfulfilled`` after ``max_offers`` offers (or ``max_search_min`` pending).
Every function runs inside the caller's write transaction and raises ``ApiError`` (nothing
changed) when the caller may not do it.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Row, insert, update

from service import callers, clocks, db, money, sql
from service.auth import Caller
from service.context import Context
from service.dispatch import release
from service.errors import conflict, forbidden, not_found, unprocessable
from service.reference import in_up
from service.sql import Stmt
from sim.errors import InputError

B, W = db.bookings, db.workers
ADD_BOOKING = Stmt(
    "INSERT INTO bookings (citizen_id, category, district, lat, lon, channel, status, price_paise, paid_paise,"
    " offers, created_at, retry_at) VALUES (:citizen_id, :category, :district, :lat, :lon, :channel, 'pending',"
    " :price_paise, 0, 0, :created_at, :retry_at) RETURNING id")
LOAD = Stmt("SELECT * FROM bookings WHERE id = :bid")
LOAD_LOCKED = Stmt("SELECT * FROM bookings WHERE id = :bid{lock}")
#: Which status each worker action needs, and the status it leads to.
WORKER_STEPS = {"accept": ("offered", "accepted"), "start": ("accepted", "in_progress"),
                "complete": ("in_progress", "completed")}


def check_place(ctx: Context, district: str, lat: float, lon: float) -> None:
    """422 unless the district exists and the point lies in Uttar Pradesh."""
    try:
        ctx.ref.check_district(district)
    except InputError as e:
        raise unprocessable(str(e)) from None
    if not in_up(lat, lon):
        raise unprocessable(f"lat/lon: ({lat}, {lon}) is outside Uttar Pradesh")


def price_of(ctx: Context, category: str, field: str = "category") -> int:
    """The fixed price of a category [paise]; 422 for an unknown one."""
    try:
        return ctx.ref.price(category, field)
    except InputError as e:
        raise unprocessable(str(e)) from None


def public(b: Row | Any) -> dict[str, Any]:
    """The API view of a booking row."""
    return {"id": b.id, "status": b.status, "worker_id": b.worker_id, "citizen_id": b.citizen_id,
            "category": b.category, "district": b.district, "channel": b.channel,
            "price_paise": b.price_paise, "paid_paise": b.paid_paise, "rating": b.rating,
            "created_at": b.created_at, "offered_at": b.offered_at}


def create(ctx: Context, conn: Connection, citizen_id: int, body: Any, channel: str, now: float) -> dict:
    """Insert a booking and dispatch it at once; ``{id, status, worker_id}``."""
    price = price_of(ctx, body.category)
    check_place(ctx, body.district, body.lat, body.lon)
    vals = dict(citizen_id=citizen_id, category=body.category, district=body.district, lat=body.lat,
                lon=body.lon, channel=channel, price_paise=price, created_at=now,
                retry_at=now + ctx.cfg.retry_interval_min * 60.0 / ctx.cfg.time_scale)
    bid = sql.scalar(conn, ADD_BOOKING, vals)
    wid = ctx.disp.dispatch(conn, SimpleNamespace(id=bid, **vals), now)
    return {"id": bid, "status": "pending" if wid is None else "offered", "worker_id": wid}


def load(conn: Connection, bid: int, lock: bool = True) -> Row:
    """The booking row (locked for update on PostgreSQL); 404 if missing."""
    row = sql.first(conn, LOAD_LOCKED if lock else LOAD, {"bid": bid})
    if row is None:
        raise not_found(f"booking {bid}")
    return row


def readable(conn: Connection, caller: Caller, b: Row) -> None:
    """404 unless the caller is the admin, the booking's citizen (or claimant) or its current worker."""
    if caller.role == "admin":
        return
    if callers.owns(conn, caller, b.citizen_id):
        return
    if caller.role == "worker" and b.worker_id == caller.id:
        return
    raise not_found(f"booking {b.id}")


def worker_step(ctx: Context, conn: Connection, caller: Caller, bid: int, action: str, now: float) -> dict:
    """Accept / decline / start / complete by the booking's worker."""
    if caller.role != "worker":
        raise forbidden(f"only the booking's worker may {action} it")
    b = load(conn, bid)
    if b.worker_id != caller.id:
        raise forbidden(f"booking {bid} is not offered to or held by worker {caller.id}")
    if action == "decline":
        if b.status != "offered":
            raise conflict(f"booking {bid} is {b.status}; only an offered booking can be declined")
        conn.execute(insert(db.declines).values(booking_id=bid, worker_id=caller.id))
        conn.execute(update(B).where(B.c.id == bid).values(status="pending", worker_id=None))
        if b.offers >= ctx.cfg.max_offers:
            clocks.end_unfulfilled(ctx, conn, b, now)
        else:
            ctx.disp.dispatch(conn, load(conn, bid), now)
        release(conn, caller.id, now, ctx.disp)
        return public(load(conn, bid, lock=False))
    need, to = WORKER_STEPS[action]
    if b.status != need:
        raise conflict(f"booking {bid} is {b.status}; {action} needs {need}")
    stamp = {"accept": "accepted_at", "start": "started_at", "complete": "ended_at"}[action]
    conn.execute(update(B).where(B.c.id == bid).values(status=to, **{stamp: now}))
    if action == "complete":
        conn.execute(update(W).where(W.c.id == caller.id).values(
            jobs=W.c.jobs + 1, gross_paise=W.c.gross_paise + b.price_paise))
        if b.payment_method == "online":
            money.release_escrow(ctx, conn, b, now)
        release(conn, caller.id, now, ctx.disp)
    return public(load(conn, bid, lock=False))


def cancel(ctx: Context, conn: Connection, caller: Caller, bid: int, now: float) -> dict:
    """The citizen cancels a booking that has not started; an online payment is refunded."""
    if caller.role != "citizen":
        raise forbidden("only the booking's citizen may cancel it")
    b = load(conn, bid)
    if not callers.owns(conn, caller, b.citizen_id):
        raise not_found(f"booking {bid}")
    if b.status not in ("pending", "offered", "accepted"):
        raise conflict(f"booking {bid} is {b.status} and can no longer be cancelled")
    conn.execute(update(B).where(B.c.id == bid).values(status="cancelled", ended_at=now))
    if b.payment_method == "online":
        money.refund(ctx, conn, b, now)
    if b.worker_id is not None:
        release(conn, b.worker_id, now, ctx.disp)
    return public(load(conn, bid, lock=False))


def rate(conn: Connection, caller: Caller, bid: int, stars: int) -> dict:
    """The citizen rates a completed booking once; the worker's running mean moves."""
    if caller.role != "citizen":
        raise forbidden("only the booking's citizen may rate it")
    b = load(conn, bid)
    if not callers.owns(conn, caller, b.citizen_id):
        raise not_found(f"booking {bid}")
    if b.status != "completed":
        raise conflict(f"booking {bid} is {b.status}; only a completed booking can be rated")
    if b.rating is not None:
        raise conflict(f"booking {bid} is already rated")
    conn.execute(update(B).where(B.c.id == bid).values(rating=stars))
    conn.execute(update(W).where(W.c.id == b.worker_id).values(
        rating_sum=W.c.rating_sum + stars, rating_count=W.c.rating_count + 1))
    return public(load(conn, bid, lock=False))

