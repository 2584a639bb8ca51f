"""Operator calls: statistics, invariant checks, bulk registration and reset."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, not_, or_, select

from service import db, sql
from service.auth import issue_many
from service.dispatch import stats_rows
from service.sql import Stmt
from sim import ledger

B, W, S, E = db.bookings, db.workers, db.worker_skills, db.ledger_entries


def stats(conn: Connection) -> dict[str, Any]:
    """Booking counts by status, district and category; assignment latency [seconds]."""
    def counts(col: Any) -> dict[str, int]:
        return {str(k): int(n) for k, n in conn.execute(select(col, func.count()).group_by(col).order_by(col))}

    lat = [r[0] for r in conn.execute(
        select(B.c.first_offered_at - B.c.created_at).where(B.c.first_offered_at.is_not(None)))]
    workers = conn.execute(select(func.count(), func.count().filter(W.c.available.is_(True)),
                                  func.count().filter(W.c.active_booking_id.is_not(None)))).one()
    return {
        "bookings": int(conn.execute(select(func.count()).select_from(B)).scalar_one()),
        "by_status": counts(B.c.status), "by_district": counts(B.c.district), "by_category": counts(B.c.category),
        "assignment_latency": stats_rows(lat),
        "workers": {"registered": int(workers[0]), "available": int(workers[1]), "busy": int(workers[2])},
        "citizens": int(conn.execute(select(func.count()).select_from(db.citizens)).scalar_one()),
        "agents": int(conn.execute(select(func.count()).select_from(db.agents)).scalar_one()),
        "ledger_txns": int(conn.execute(select(func.count()).select_from(db.ledger_txns)).scalar_one()),
        "payouts": payouts(conn),
    }


def payouts(conn: Connection) -> dict[str, int]:
    """Payouts still in transit and settled (count), and the money settled [paise]."""
    T = db.ledger_txns  # noqa: N806
    n = dict(conn.execute(select(T.c.kind, func.count()).where(T.c.kind.in_(("payout", "payout_settled")))
                          .group_by(T.c.kind)).all())
    settled = conn.execute(select(func.coalesce(func.sum(E.c.amount_paise), 0)).where(
        E.c.account == ledger.SETTLEMENT)).scalar_one()
    return {"in_transit": int(n.get("payout", 0)) - int(n.get("payout_settled", 0)),
            "settled": int(n.get("payout_settled", 0)), "settled_paise": int(settled)}


def invariants(conn: Connection) -> dict[str, Any]:
    """The consistency checks; each lists offending ids, so ``ok`` is all lists empty."""
    active = B.c.status.in_(db.ACTIVE)
    two = [f"worker {w}" for (w,) in conn.execute(
        select(B.c.worker_id).where(active).group_by(B.c.worker_id).having(func.count() > 1))]
    mirror = [f"worker {w}" for (w,) in conn.execute(
        select(W.c.id).select_from(W.outerjoin(B, and_(B.c.worker_id == W.c.id, active)))
        .where(or_(and_(W.c.active_booking_id.is_(None), B.c.id.is_not(None)),
                   and_(W.c.active_booking_id.is_not(None), or_(B.c.id.is_(None), B.c.id != W.c.active_booking_id)))))]
    unbalanced = [f"txn {t}" for (t,) in conn.execute(
        select(E.c.txn_id).group_by(E.c.txn_id).having(or_(func.sum(E.c.amount_paise) != 0, func.count() < 2)))]
    nonneg = or_(*[E.c.account.startswith(p) for p in ledger.NON_NEGATIVE_PREFIXES])
    negative = [f"{a}" for (a,) in conn.execute(
        select(E.c.account).where(nonneg).group_by(E.c.account).having(func.sum(E.c.amount_paise) < 0))]
    has_worker = B.c.status.in_((*db.ACTIVE, "completed"))
    bad_state = [f"booking {b}" for (b,) in conn.execute(select(B.c.id).where(or_(
        not_(B.c.status.in_(db.STATUSES)),
        and_(has_worker, B.c.worker_id.is_(None)),
        and_(B.c.status == "pending", B.c.worker_id.is_not(None)),
        B.c.paid_paise < 0, and_(B.c.paid_paise > 0, B.c.paid_paise != B.c.price_paise),
    )).limit(1000))]
    checks = {"no_worker_with_two_active_bookings": two, "worker_active_booking_matches": mirror,
              "ledger_transactions_balance": unbalanced, "no_negative_balance": negative,
              "bookings_in_valid_state": bad_state}
    return {"ok": not any(checks.values()), "checks": checks}


ADD_WORKER = Stmt("INSERT INTO workers (id, name, phone, district, lat, lon, available, idle_since_min, jobs,"
                  " gross_paise, rating_sum, rating_count, created_at) VALUES (:id, :name, :phone, :district,"
                  " :lat, :lon, :available, :idle, 0, 0, 0, 0, :now)")
ADD_SKILL = Stmt("INSERT INTO worker_skills (worker_id, category, lat, lon) VALUES (:wid, :category, :lat, :lon)")
ADD_CITIZEN = Stmt("INSERT INTO citizens (id, name, phone, district, lat, lon, created_at, origin)"
                   " VALUES (:id, :name, :phone, :district, :lat, :lon, :now, :origin)")


def add_workers(conn: Connection, rows: list[Any], now: float, idle_min: float,
                available: bool = False) -> tuple[list[int], list[str]]:
    """Insert workers with their skills; return ids (in the order of ``rows``) and tokens."""
    # Ids drawn first and one executemany per table: a preload of 52,349 workers is on the clock.
    ids = sql.new_ids(conn, "workers", len(rows))
    sql.many(conn, ADD_WORKER, [{"id": i, "name": w.name, "phone": w.phone, "district": w.district, "lat": w.lat,
                                 "lon": w.lon, "available": available, "idle": idle_min, "now": now}
                                for i, w in zip(ids, rows, strict=True)])
    sql.many(conn, ADD_SKILL, [{"wid": i, "category": c, "lat": w.lat, "lon": w.lon}
                               for i, w in zip(ids, rows, strict=True) for c in dict.fromkeys(w.skills)])
    return ids, issue_many(conn, "worker", ids)


def add_citizens(conn: Connection, rows: list[Any], now: float,
                 origin: str = "app") -> tuple[list[int], list[str]]:
    """Insert citizens (``origin="helpline"``: caller records); return ids (in order) and tokens."""
    ids = sql.new_ids(conn, "citizens", len(rows))
    sql.many(conn, ADD_CITIZEN, [{"id": i, "name": c.name, "phone": c.phone, "district": c.district, "lat": c.lat,
                                  "lon": c.lon, "now": now, "origin": origin} for i, c in zip(ids, rows, strict=True)])
    return ids, issue_many(conn, "citizen", ids)


def reset(conn: Connection) -> None:
    """Delete every row except the ``meta`` table's (tests and load replays only).

    The ``generation`` moves on, so every server process forgets the tokens it cached.
    """
    for t in reversed(db.md.sorted_tables):
        if t is db.meta:
            continue
        conn.execute(delete(t))
    M = db.meta  # noqa: N806
    gen = conn.execute(select(M.c.value).where(M.c.key == "generation")).scalar()
    conn.execute(delete(M).where(M.c.key == "generation"))
    conn.execute(insert(M).values(key="generation", value=str(int(gen or 0) + 1)))
