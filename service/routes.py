"""API v1 routes: registration, worker status, bookings, payments, wallet, helpline."""

from __future__ import annotations

import time

from service import bookings, callers, money, people, sql
from service.admin import add_citizens, add_workers
from service.auth import Caller, require
from service.context import Context
from service.dispatch import WORKER
from service.errors import ApiError, forbidden, not_found, unprocessable
from service.idempotency import run_once
from service.reference import in_up
from service.schemas import (
    BookingIn,
    BookingOut,
    CitizenIn,
    ClaimIn,
    ClaimOut,
    Created,
    HelplineBookingIn,
    PaymentIn,
    PaymentOut,
    PayoutIn,
    PayoutOut,
    RatingIn,
    StatusIn,
    WalletOut,
    WorkerIn,
    WorkerOut,
)
from service.web import Routes

router = Routes("/v1")


def _check_skills(ctx: Context, skills: list[str]) -> None:
    if len(set(skills)) != len(skills):
        raise unprocessable("skills: listed twice")
    for i, k in enumerate(skills):
        bookings.price_of(ctx, k, f"skills.{i}")


@router.add("POST", "/workers", status=201, response=Created, tags=["people"])
async def register_worker(body: WorkerIn, ctx: Context) -> dict:
    """Register a worker (not yet available: see ``PUT /v1/workers/{id}/status``)."""
    _check_skills(ctx, body.skills)
    bookings.check_place(ctx, body.district, body.lat, body.lon)
    ids, toks = await ctx.db.run(lambda conn: add_workers(conn, [body], time.time(), ctx.disp.now_min()))
    ctx.tokens.issued("worker", ids, toks)
    return {"id": ids[0], "token": toks[0]}


@router.add("POST", "/citizens", status=201, response=Created, tags=["people"])
async def register_citizen(body: CitizenIn, ctx: Context) -> dict:
    """Register a citizen."""
    bookings.check_place(ctx, body.district, body.lat, body.lon)
    ids, toks = await ctx.db.run(lambda conn: add_citizens(conn, [body], time.time()))
    ctx.tokens.issued("citizen", ids, toks)
    return {"id": ids[0], "token": toks[0]}


@router.add("GET", "/workers/{worker_id}", response=WorkerOut, tags=["people"])
async def get_worker(worker_id: int, ctx: Context, who: Caller) -> dict:
    """A worker's state, including the booking they hold (the worker themself or the admin)."""
    if not (who.role == "admin" or (who.role == "worker" and who.id == worker_id)):
        raise forbidden("only the worker or the admin may read this worker")
    w = await ctx.db.run(lambda conn: sql.first(conn, WORKER, {"wid": worker_id}), write=False)
    if w is None:
        raise not_found(f"worker {worker_id}")
    return people.worker_out(w)


@router.add("PUT", "/workers/{worker_id}/status", response=WorkerOut, tags=["people"])
async def set_status(worker_id: int, body: StatusIn, ctx: Context, who: Caller) -> dict:
    """A worker's availability and position; becoming free may bring an offer at once."""
    require(who, "worker")
    if who.id != worker_id:
        raise forbidden("a worker may only set their own status")
    if not in_up(body.lat, body.lon):
        raise unprocessable(f"lat/lon: ({body.lat}, {body.lon}) is outside Uttar Pradesh")
    return await ctx.db.run(
        lambda conn: people.set_status(ctx, conn, worker_id, body.available, body.lat, body.lon, time.time()))


@router.add("POST", "/bookings", status=201, response=BookingOut, exclude_none=True,
             tags=["bookings"])
async def create_booking(body: BookingIn, ctx: Context, who: Caller, key: str) -> dict:
    """Book a service; dispatched at once (``offered`` to a worker, or ``pending``)."""
    require(who, "citizen")
    _, out = await run_once(ctx.db, who.scope, key, "bookings", body.model_dump(),
                      lambda conn: bookings.create(ctx, conn, who.id, body, body.channel, time.time()))
    return out


@router.add("POST", "/helpline/bookings", status=201, response=BookingOut, exclude_none=True,
             tags=["bookings"])
async def helpline_booking(body: HelplineBookingIn, ctx: Context, who: Caller, key: str) -> dict:
    """A helpline agent books for a caller record, found by phone (E.164) or made on the spot."""
    require(who, "agent")

    def effect(conn) -> dict:  # noqa: ANN001
        now = time.time()
        bookings.check_place(ctx, body.district, body.lat, body.lon)
        bookings.price_of(ctx, body.category)
        cid = callers.caller_record(conn, body.caller_name, body.caller_phone, body.district, body.lat,
                                    body.lon, now)
        out = bookings.create(ctx, conn, cid, body, "helpline", now)
        return {**out, "citizen_id": cid}

    _, out = await run_once(ctx.db, who.scope, key, "helpline", body.model_dump(), effect)
    return out


@router.add("POST", "/citizens/{citizen_id}/claims", status=202, response=ClaimOut,
             exclude_none=True, tags=["people"])
async def claim_caller(citizen_id: int, body: ClaimIn, ctx: Context, who: Caller) -> tuple[int, dict]:
    """Claim the helpline bookings made for this citizen's phone number.

    Without ``code``: a one-time code is sent to the number (202).  With it: claimed (200).
    """
    status, out = await ctx.db.run(lambda conn: callers.claim(conn, who, citizen_id, body.code, time.time()))
    if status >= 400:  # after the commit: the failed attempt counts
        raise ApiError(status, out["detail"])
    return status, out


@router.add("GET", "/bookings/{booking_id}", response=BookingOut, tags=["bookings"])
async def get_booking(booking_id: int, ctx: Context, who: Caller) -> dict:
    """A booking, for its citizen (or whoever claimed that helpline caller), its current worker or the admin."""
    def read(conn) -> dict:  # noqa: ANN001
        b = bookings.load(conn, booking_id, lock=False)
        bookings.readable(conn, who, b)
        return bookings.public(b)

    return await ctx.db.run(read, write=False)


def _step(action: str):  # noqa: ANN202
    async def step(booking_id: int, ctx: Context, who: Caller) -> dict:
        return await ctx.db.run(lambda conn: bookings.worker_step(ctx, conn, who, booking_id, action, time.time()))

    step.__name__ = f"{action}_booking"
    step.__doc__ = f"The booking's worker: {action} it" + (" (it is offered to someone else)." if action == "decline"
                                                            else ".")
    return step


for _action in ("accept", "decline", "start", "complete"):
    router.add("POST", f"/bookings/{{booking_id}}/{_action}", response=BookingOut, tags=["bookings"])(_step(_action))


@router.add("POST", "/bookings/{booking_id}/cancel", response=BookingOut, tags=["bookings"])
async def cancel_booking(booking_id: int, ctx: Context, who: Caller) -> dict:
    """The citizen cancels a booking that has not started (an online payment is refunded)."""
    return await ctx.db.run(lambda conn: bookings.cancel(ctx, conn, who, booking_id, time.time()))


@router.add("POST", "/bookings/{booking_id}/rating", response=BookingOut, tags=["bookings"])
async def rate_booking(booking_id: int, body: RatingIn, ctx: Context, who: Caller) -> dict:
    """The citizen rates a completed booking (1–5 stars, once)."""
    return await ctx.db.run(lambda conn: bookings.rate(conn, who, booking_id, body.stars))


@router.add("POST", "/bookings/{booking_id}/payments", status=201, response=PaymentOut, tags=["money"])
async def pay_booking(booking_id: int, body: PaymentIn, ctx: Context, who: Caller, key: str) -> dict:
    """The citizen pays the booking's price, online (escrow) or cash (to the worker)."""
    _, out = await run_once(ctx.db, who.scope, key, "payments", {"booking": booking_id, **body.model_dump()},
                      lambda conn: money.pay(ctx, conn, who, booking_id, body.method, body.amount_paise, time.time()))
    return out


@router.add("GET", "/workers/{worker_id}/wallet", response=WalletOut, tags=["money"])
async def get_wallet(worker_id: int, ctx: Context, who: Caller) -> dict:
    """A worker's wallet balance, earnings and withdrawals [paise]."""
    return await ctx.db.run(lambda conn: money.wallet(conn, who, worker_id), write=False)


@router.add("POST", "/workers/{worker_id}/payouts", status=201, response=PayoutOut, tags=["money"])
async def request_payout(worker_id: int, body: PayoutIn, ctx: Context, who: Caller, key: str) -> dict:
    """The worker withdraws from the wallet to the bank (never below zero)."""
    _, out = await run_once(ctx.db, who.scope, key, "payouts", {"worker": worker_id, **body.model_dump()},
                      lambda conn: money.payout(conn, who, worker_id, body.amount_paise, key, time.time()))
    return out

