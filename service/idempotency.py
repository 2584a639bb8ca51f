"""``Idempotency-Key``: the same key and body get the first answer and have one effect.

A key is scoped to the caller and the route.  The first request records the key as
``in_flight`` in its own committed transaction, so a concurrent duplicate sees it at once
and gets 409; the effect and the stored answer are then committed together in one
transaction.  The same key with another body gets 422.  An ``in_flight`` record older than
``STALE_S`` (its server died mid-request) may be taken over.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from service import db
from service.db import Database
from service.errors import ApiError

I = db.idempotency  # noqa: E741
STALE_S = 30.0
FIND = select(I).where(I.c.scope == bindparam("scope"), I.c.key == bindparam("key"))
ADD = insert(I)
MAX_KEY = 200


def request_hash(route: str, body: Any) -> str:
    """Digest of what was asked (route and canonical JSON body)."""
    blob = json.dumps([route, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _claim(database: Database, scope: str, key: str, digest: str) -> tuple[int, Any] | None:
    """Record the key as in flight; return the stored answer if it is already done."""
    for _ in range(3):
        try:
            with database.write() as conn:
                row = conn.execute(select(I).where(I.c.scope == scope, I.c.key == key).with_for_update()).first()
                now = time.time()
                if row is None:
                    conn.execute(insert(I).values(scope=scope, key=key, request_hash=digest, state="in_flight",
                                                  created_at=now))
                    return None
                if row.request_hash != digest:
                    raise ApiError(422, "Idempotency-Key: already used with a different request")
                if row.state == "done":
                    return row.status_code, json.loads(row.body)
                if now - row.created_at < STALE_S:
                    raise ApiError(409, "Idempotency-Key: the first request with this key is still in flight",
                                   {"Retry-After": "1"})
                conn.execute(update(I).where(I.c.scope == scope, I.c.key == key).values(created_at=now))
                return None
        except IntegrityError:
            continue  # a concurrent twin inserted the key first (PostgreSQL): read it again
    raise ApiError(409, "Idempotency-Key: the first request with this key is still in flight", {"Retry-After": "1"})


def _finish(conn: Connection, scope: str, key: str, status: int, body: Any) -> None:
    conn.execute(update(I).where(I.c.scope == scope, I.c.key == key).values(
        state="done", status_code=status, body=json.dumps(body)))


def run_once(database: Database, scope: str, key: str | None, route: str, body: Any,
             effect: Callable[[Connection], Any], status: int = 201) -> tuple[int, Any]:
    """Run ``effect(conn)`` in a write transaction at most once per ``(scope, key)``.

    Returns ``(status, answer)``: the new answer or the stored first one.  A refusal
    (``ApiError`` 4xx) is stored too, so the retry gets the same refusal.
    """
    if key is None or not key.strip():
        raise ApiError(422, "Idempotency-Key: header required for this call")
    if len(key) > MAX_KEY:
        raise ApiError(422, f"Idempotency-Key: at most {MAX_KEY} characters")
    digest = request_hash(route, body)
    scope = f"{scope}:{route}"
    if database.is_sqlite:
        return _run_serialized(database, scope, key, digest, effect, status)
    stored = _claim(database, scope, key, digest)
    if stored is not None:
        return _replay(stored)
    try:
        with database.write() as conn:
            answer = effect(conn)
            _finish(conn, scope, key, status, answer)
        return status, answer
    except ApiError as e:
        if 400 <= e.status < 500 and e.status not in (409, 429):
            with database.write() as conn:
                _finish(conn, scope, key, e.status, {"detail": e.detail})
        else:
            _forget(database, scope, key)
        raise
    except BaseException:
        _forget(database, scope, key)
        raise


def _replay(stored: tuple[int, Any]) -> tuple[int, Any]:
    if stored[0] >= 400:
        raise ApiError(stored[0], stored[1]["detail"])
    return stored


def _run_serialized(database: Database, scope: str, key: str, digest: str,
                    effect: Callable[[Connection], Any], status: int) -> tuple[int, Any]:
    """SQLite: the key check, the effect and the answer share one serialized transaction.

    A duplicate waits for the first request and then replays its answer (no 409 here).
    """
    refusal: ApiError | None = None
    with database.write() as conn:
        row = conn.execute(FIND, {"scope": scope, "key": key}).first()
        if row is not None and row.request_hash != digest:
            raise ApiError(422, "Idempotency-Key: already used with a different request")
        if row is not None and row.state == "done":
            return _replay((row.status_code, json.loads(row.body)))
        try:
            with conn.begin_nested():  # a refusal undoes the effect's partial writes only
                answer = effect(conn)
        except ApiError as e:
            if not 400 <= e.status < 500 or e.status in (409, 429):
                raise
            refusal, status, answer = e, e.status, {"detail": e.detail}
        # no row can exist here: in-flight records are only written on PostgreSQL or dropped at start
        conn.execute(ADD, {"scope": scope, "key": key, "request_hash": digest, "state": "done",
                           "status_code": status, "body": json.dumps(answer), "created_at": time.time()})
    if refusal is not None:
        raise refusal
    return status, answer


def _forget(database: Database, scope: str, key: str) -> None:
    """Drop an in-flight record after a failure, so the client may retry."""
    with database.write() as conn:
        conn.execute(delete(I).where(I.c.scope == scope, I.c.key == key, I.c.state == "in_flight"))
