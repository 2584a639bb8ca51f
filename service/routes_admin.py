"""Admin routes: statistics, invariants, helpline agents, bulk loads, reset."""

from __future__ import annotations

import time

from sqlalchemy import exists, insert, select

from service import admin, callers, db
from service.auth import Caller, issue, require
from service.bookings import check_place
from service.context import Context
from service.errors import ApiError, forbidden
from service.routes import _check_skills
from service.schemas import (
    AgentIn,
    CitizensBulkIn,
    ConfigOut,
    Created,
    CreatedMany,
    InvariantsOut,
    OutboxOut,
    OutboxQuery,
    WorkersBulkIn,
)
from service.web import Routes

router = Routes("/v1/admin", tags=["admin"])


@router.add("GET", "/stats")
def stats(ctx: Context, who: Caller) -> dict:
    """Bookings by status, district and category; assignment latency [seconds]; workers."""
    require(who, "admin")
    with ctx.db.read() as conn:
        return admin.stats(conn)


@router.add("GET", "/config", response=ConfigOut)
def config(ctx: Context, who: Caller) -> dict:
    """The rules this deployment runs by: policy, radius, clocks [minutes], scenario and seed."""
    require(who, "admin")
    return ctx.cfg.public()


@router.add("GET", "/outbox", response=OutboxOut)
def read_outbox(ctx: Context, who: Caller, query: OutboxQuery) -> dict:
    """Messages the deployment "sent" (one-time codes), newest first; ``phone`` filters (E.164 or local)."""
    require(who, "admin")
    with ctx.db.read() as conn:
        return {"messages": callers.outbox(conn, query.phone, query.limit)}


@router.add("GET", "/invariants", response=InvariantsOut)
def invariants(ctx: Context, who: Caller) -> dict:
    """Consistency checks: one active booking per worker, balanced ledger, no negative balance, valid states."""
    require(who, "admin")
    with ctx.db.read() as conn:
        return admin.invariants(conn)


@router.add("POST", "/agents", status=201, response=Created)
def create_agent(body: AgentIn, ctx: Context, who: Caller) -> dict:
    """A helpline agent and their token."""
    require(who, "admin")
    with ctx.db.write() as conn:
        aid = conn.execute(insert(db.agents).values(name=body.name)).inserted_primary_key[0]
        tok = issue(conn, "agent", aid)
    ctx.tokens.issued("agent", [aid], [tok])
    return {"id": aid, "token": tok}


@router.add("POST", "/workers:bulk", status=201, response=CreatedMany)
def bulk_workers(body: WorkersBulkIn, ctx: Context, who: Caller) -> dict:
    """Register many workers in one transaction (e.g. a scenario's workforce before a replay)."""
    require(who, "admin")
    for i, w in enumerate(body.workers):
        try:
            _check_skills(ctx, w.skills)
            check_place(ctx, w.district, w.lat, w.lon)
        except ApiError as e:
            raise ApiError(e.status, f"workers.{i}.{e.detail}") from None
    now = time.time()
    with ctx.db.write() as conn:
        ids, toks = admin.add_workers(conn, body.workers, now, ctx.disp.now_min(now), body.available)
        if body.available and conn.execute(select(exists().where(db.bookings.c.status == "pending"))).scalar():
            for wid in ids:
                ctx.disp.free_worker(conn, wid, now)
    ctx.tokens.issued("worker", ids, toks)
    return {"ids": ids, "tokens": toks}


@router.add("POST", "/citizens:bulk", status=201, response=CreatedMany)
def bulk_citizens(body: CitizensBulkIn, ctx: Context, who: Caller) -> dict:
    """Register many citizens in one transaction."""
    require(who, "admin")
    for i, c in enumerate(body.citizens):
        try:
            check_place(ctx, c.district, c.lat, c.lon)
        except ApiError as e:
            raise ApiError(e.status, f"citizens.{i}.{e.detail}") from None
    with ctx.db.write() as conn:
        ids, toks = admin.add_citizens(conn, body.citizens, time.time(), body.origin)
    ctx.tokens.issued("citizen", ids, toks)
    return {"ids": ids, "tokens": toks}


@router.add("POST", "/reset", status=204)
def reset(ctx: Context, who: Caller) -> None:
    """Delete all data (only when the server was started with ``--allow-reset``)."""
    require(who, "admin")
    if not ctx.cfg.allow_reset:
        raise forbidden("reset is disabled; start the server with --allow-reset")
    with ctx.db.write() as conn:
        admin.reset(conn)
    ctx.tokens.clear()
