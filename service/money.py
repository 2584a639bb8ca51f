"""Payments, wallets and payouts on a double-entry ledger stored in SQL.

The rules (accounts, legs, rounding, which balances may not go negative) are those of
``sim.ledger``, shared with the simulation; this module only persists them:
``ledger_txns`` (one row per transaction, unique idempotency key) and ``ledger_entries``
(one row per leg).  Each ledger key is derived from the business fact ("pay:17",
"complete:17", "refund:17"), so a booking can be paid, released or refunded at most once
even if the application logic were wrong.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, select, update

from service import callers, db
from service.auth import Caller
from service.errors import conflict, forbidden, not_found, unprocessable
from sim import ledger

T, E, B, W = db.ledger_txns, db.ledger_entries, db.bookings, db.workers


def commission(ctx: Any, price_paise: int) -> int:
    """The platform's commission on a price [paise] (rounded down, ``sim.ledger`` rule)."""
    return ledger.commission_paise(int(price_paise), ctx.cfg.commission_bp)


def post(conn: Connection, key: str, legs: list[ledger.Leg], kind: str, now: float,
         booking_id: int | None = None) -> int:
    """Write one balanced transaction; return its id.

    No wallet, escrow, commission or transit account may go below zero: the one rule of
    ``sim.ledger.check_non_negative``.
    """
    ledger.check_legs(legs)
    try:
        ledger.check_non_negative(legs, lambda acct: balance(conn, acct))
    except ledger.LedgerError as e:
        raise conflict(str(e)) from None
    txn = conn.execute(insert(T).values(idem_key=key, kind=kind, booking_id=booking_id, created_at=now)
                       ).inserted_primary_key[0]
    conn.execute(insert(E), [{"txn_id": txn, "account": a, "amount_paise": int(x)} for a, x in legs])
    return txn


def balance(conn: Connection, account: str) -> int:
    """Balance of one account [paise] (sum of its entries)."""
    return int(conn.execute(select(func.coalesce(func.sum(E.c.amount_paise), 0)).where(E.c.account == account)
                            ).scalar_one())


def pay(ctx: Any, conn: Connection, caller: Caller, bid: int, method: str, amount: int, now: float) -> dict:
    """The citizen pays a booking in full, online (into escrow) or in cash (to the worker)."""
    if caller.role != "citizen":
        raise forbidden("only the booking's citizen may pay it")
    b = conn.execute(select(B).where(B.c.id == bid).with_for_update()).first()
    if b is None or not callers.owns(conn, caller, b.citizen_id):
        raise not_found(f"booking {bid}")
    if b.status == "cancelled":
        raise conflict(f"booking {bid} is cancelled")
    if b.paid_paise:
        raise conflict(f"booking {bid} is already paid")
    if amount != b.price_paise:
        raise unprocessable(f"amount_paise: must equal the booking's price, {b.price_paise} paise")
    if method == "cash":
        if b.status not in ("in_progress", "completed"):
            raise conflict(f"booking {bid} is {b.status}; cash is paid to the worker once the job has started")
        legs = ledger.cash_payment_legs(b.citizen_id, b.worker_id, amount)
    else:
        legs = ledger.online_payment_legs(b.citizen_id, amount)
    txn = post(conn, f"pay:{bid}", legs, f"payment_{method}", now, bid)
    conn.execute(update(B).where(B.c.id == bid).values(paid_paise=amount, payment_method=method))
    if method == "online" and b.status == "completed":
        release_escrow(ctx, conn, b, now)
    return {"booking_id": bid, "txn_id": txn, "method": method, "amount_paise": amount}


def release_escrow(ctx: Any, conn: Connection, b: Row, now: float) -> None:
    """A completed, online-paid booking: escrow → worker's wallet, minus the commission."""
    legs = ledger.completion_legs(b.worker_id, b.price_paise, commission(ctx, b.price_paise))
    post(conn, f"complete:{b.id}", legs, "completion", now, b.id)


def refund(ctx: Any, conn: Connection, b: Row, now: float) -> None:
    """A cancelled, online-paid booking: escrow → citizen."""
    post(conn, f"refund:{b.id}", ledger.refund_legs(b.citizen_id, b.paid_paise), "refund", now, b.id)


def wallet(conn: Connection, caller: Caller, wid: int) -> dict:
    """A worker's wallet (the worker themself or the admin)."""
    if not (caller.role == "admin" or (caller.role == "worker" and caller.id == wid)):
        raise forbidden("only the worker or the admin may see this wallet")
    if conn.execute(select(W.c.id).where(W.c.id == wid)).first() is None:
        raise not_found(f"worker {wid}")
    acct = ledger.account("wallet", wid)
    sums = conn.execute(
        select(func.coalesce(func.sum(E.c.amount_paise), 0),
               func.coalesce(func.sum(E.c.amount_paise).filter(and_(E.c.amount_paise > 0, T.c.kind == "completion")),
                             0),
               func.coalesce(func.sum(E.c.amount_paise).filter(T.c.kind == "payout"), 0))
        .select_from(E.join(T, T.c.id == E.c.txn_id)).where(E.c.account == acct)
    ).one()
    return {"worker_id": wid, "balance_paise": int(sums[0]), "credited_paise": int(sums[1]),
            "withdrawn_paise": -int(sums[2])}


def payout(conn: Connection, caller: Caller, wid: int, amount: int, idem_key: str, now: float) -> dict:
    """The worker withdraws ``amount`` [paise] to the bank; the wallet may not go negative."""
    if not (caller.role == "worker" and caller.id == wid):
        raise forbidden("only the worker may withdraw from this wallet")
    # Locking the worker row serializes payouts of one worker (PostgreSQL; SQLite is serialized).
    conn.execute(select(W.c.id).where(W.c.id == wid).with_for_update()).first()
    digest = hashlib.sha256(idem_key.encode("utf-8")).hexdigest()[:32]
    txn = post(conn, f"payout:{wid}:{digest}", ledger.payout_legs(wid, amount), "payout", now)
    return {"worker_id": wid, "txn_id": txn, "amount_paise": amount,
            "balance_paise": balance(conn, ledger.account("wallet", wid))}
