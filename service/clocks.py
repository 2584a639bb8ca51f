"""The deployment's live clocks, the server-side twins of the model's timers.

* offer time-out: an offer unanswered for ``offer_timeout_min`` is withdrawn and the booking
  re-dispatched (as a decline), or ends ``unfulfilled`` after ``max_offers`` offers;
* retry: a pending booking is dispatched again every ``retry_interval_min`` (this also
  closes the lost wake-up of two concurrent transactions on PostgreSQL: a worker set
  available while a booking arrives next to them, neither seeing the other);
* search limit: a booking still pending ``max_search_min`` after creation ends ``unfulfilled``
  (an online prepayment is refunded);
* payout settlement: a payout in transit settles ``settlement_delay_days`` after it was made.

Deployment time runs ``time_scale`` times faster than the wall clock; every deadline is
computed from timestamps in the database, so the clocks survive restarts and any number of
server processes may run them (a tick is one write transaction of guarded updates).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from sqlalchemy import Connection, String, cast, exists, literal, select, update

from service import db, money, sql
from service.dispatch import release
from service.idempotency import TRY_LOCK
from sim import ledger

B, T, E = db.bookings, db.ledger_txns, db.ledger_entries
#: Rows handled per clock step and transaction (the rest wait for the next tick).
BATCH = 200
#: Longest pause between two ticks [wall seconds].
MAX_TICK_S = 1.0
#: Advisory-lock id the clock steps take on PostgreSQL.
CLOCK_LOCK = 0x5E3A_C10C
log = logging.getLogger("service.clocks")


def wall_s(ctx: Any, minutes: float) -> float:
    """Wall-clock seconds that make ``minutes`` of deployment time."""
    return minutes * 60.0 / ctx.cfg.time_scale


def end_unfulfilled(ctx: Any, conn: Connection, b: Any, now: float) -> None:
    """The platform gives up on booking ``b``: ``unfulfilled``; an online prepayment is refunded."""
    conn.execute(update(B).where(B.c.id == b.id).values(status="unfulfilled", worker_id=None, ended_at=now))
    if b.payment_method == "online" and b.paid_paise:
        money.refund(ctx, conn, b, now)


def expire_offers(ctx: Any, conn: Connection, now: float) -> int:
    """Withdraw offers unanswered for the offer time-out; re-dispatch or end those bookings."""
    due = conn.execute(select(B).where(B.c.status == "offered", B.c.offered_at <= now - wall_s(
        ctx, ctx.cfg.offer_timeout_min)).order_by(B.c.id).limit(BATCH).with_for_update(skip_locked=True)).all()
    for b in due:
        conn.execute(db.declines.insert().values(booking_id=b.id, worker_id=b.worker_id))
        conn.execute(update(B).where(B.c.id == b.id).values(status="pending", worker_id=None,
                                                            retry_at=now + wall_s(ctx, ctx.cfg.retry_interval_min)))
        if b.offers >= ctx.cfg.max_offers:
            end_unfulfilled(ctx, conn, b, now)
        else:
            ctx.disp.dispatch(conn, conn.execute(select(B).where(B.c.id == b.id)).one(), now)
        release(conn, b.worker_id, now, ctx.disp)
    return len(due)


def give_up_searches(ctx: Any, conn: Connection, now: float) -> int:
    """End bookings still pending after the maximum search time as ``unfulfilled``."""
    due = conn.execute(select(B).where(B.c.status == "pending", B.c.created_at <= now - wall_s(
        ctx, ctx.cfg.max_search_min)).order_by(B.c.id).limit(BATCH).with_for_update(skip_locked=True)).all()
    for b in due:
        end_unfulfilled(ctx, conn, b, now)
    return len(due)


def retry_pending(ctx: Any, conn: Connection, now: float) -> int:
    """Dispatch pending bookings whose retry time has come; the next retry one interval later."""
    due = conn.execute(select(B).where(B.c.status == "pending", B.c.retry_at <= now)
                       .order_by(B.c.retry_at, B.c.id).limit(BATCH).with_for_update(skip_locked=True)).all()
    nxt = now + wall_s(ctx, ctx.cfg.retry_interval_min)
    for b in due:
        if ctx.disp.dispatch(conn, b, now) is None:
            conn.execute(update(B).where(B.c.id == b.id).values(retry_at=nxt))
    return len(due)


def settle_payouts(ctx: Any, conn: Connection, now: float) -> int:
    """Payouts in transit for ``settlement_delay_days`` reach the bank (``T+n``)."""
    settled = T.alias("settled")
    key = literal("settle:") + cast(T.c.id, String)
    due = conn.execute(
        select(T.c.id, E.c.amount_paise).select_from(T.join(E, E.c.txn_id == T.c.id))
        .where(T.c.kind == "payout", E.c.account == ledger.TRANSIT,
               T.c.created_at <= now - ctx.cfg.settlement_delay_days * 86_400.0 / ctx.cfg.time_scale,
               ~exists().where(settled.c.idem_key == key))
        .order_by(T.c.id).limit(BATCH)).all()
    for txn, amount in due:
        money.post(conn, f"settle:{txn}", ledger.payout_settled_legs(int(amount)), "payout_settled", now)
    return len(due)


STEPS = (expire_offers, give_up_searches, retry_pending, settle_payouts)


def tick(ctx: Any, now: float | None = None) -> dict[str, int]:
    """Run every clock once, in one write transaction; rows handled per step."""
    now = time.time() if now is None else now
    with ctx.db.write() as conn:
        # PostgreSQL: one process at a time runs the clocks (SQLite serializes writers anyway)
        if not ctx.db.is_sqlite and not sql.scalar(conn, TRY_LOCK, {"lock": CLOCK_LOCK}):
            return {}
        done = {step.__name__: step(ctx, conn, now) for step in STEPS}
    ctx.db.checkpoint()  # SQLite's WAL, here in the clocks' thread rather than in a request's commit
    return done


def period_s(ctx: Any) -> float:
    """Pause between ticks [wall seconds]: a tenth of the shortest clock, at most a second."""
    c = ctx.cfg
    shortest = min(c.offer_timeout_min, c.retry_interval_min, c.max_search_min)
    return min(MAX_TICK_S, max(0.02, wall_s(ctx, shortest) / 10))


async def run_forever(ctx: Any) -> None:
    """The background task of a server process: tick in a worker thread, never on the event loop."""
    pause = period_s(ctx)
    while True:
        try:
            await asyncio.to_thread(tick, ctx)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a busy database: the next tick tries again
            log.warning("clock tick failed", exc_info=True)
        await asyncio.sleep(pause)


@contextlib.asynccontextmanager
async def running(ctx: Any):  # noqa: ANN201
    """Run the clocks for the life of the app."""
    task = asyncio.create_task(run_forever(ctx))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
