"""``Idempotency-Key``: the same key and body get the first answer and have one effect.

A key is scoped to the caller and the route.  The key check, the effect and the stored
answer share one write transaction, so an answer is stored if and only if its effect was
committed (a server killed mid-request leaves nothing behind, and the client's retry takes
effect then).  The same key with another body gets 422.

While the first request with a key is still running, a duplicate gets 409: on PostgreSQL
the transaction holds an advisory lock on the key (``pg_try_advisory_xact_lock``) and a
duplicate that cannot take it is refused at once.  On SQLite writers are serialized, so a
duplicate simply waits for the first and then replays its answer.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import Connection

from service import sql
from service.db import Database
from service.errors import ApiError
from service.sql import Stmt

MAX_KEY = 200
FIND = Stmt("SELECT request_hash, status_code, body FROM idempotency WHERE scope = :scope AND key = :key")
ADD = Stmt("INSERT INTO idempotency (scope, key, request_hash, state, status_code, body, created_at)"
           " VALUES (:scope, :key, :request_hash, 'done', :status_code, :body, :created_at)")
SAVEPOINT, ROLLBACK_TO = Stmt("SAVEPOINT idem_effect"), Stmt("ROLLBACK TO SAVEPOINT idem_effect")
#: PostgreSQL only: a transaction-scoped advisory lock, taken if free (``True``) or not at all (``False``).
TRY_LOCK = Stmt("SELECT pg_try_advisory_xact_lock(:lock)")
#: Refusals not stored, so a retry may succeed later (state conflicts, rate limits).
TRANSIENT = (409, 429)


_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def request_hash(route: str, body: Any) -> str:
    """Digest of what was asked (route and canonical JSON body: sorted keys, no spaces, ASCII).

    orjson writes the canonical form of ``json.dumps(sort_keys=True, separators=(",", ":"),
    default=str)`` for ASCII text in a tenth of the time (~40 µs a request); text beyond
    ASCII, which ``json.dumps`` escapes, still goes through it, so digests stored before stay valid.
    """
    try:
        blob = orjson.dumps([route, body], default=str, option=_SORTED)
    except TypeError:  # e.g. an integer beyond 64 bits
        blob = b"\x80"
    if not blob.isascii():
        blob = json.dumps([route, body], sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def lock_id(scope: str, key: str) -> int:
    """A signed 64-bit advisory-lock id for a key (collisions only cost a spurious 409)."""
    return int.from_bytes(hashlib.blake2b(f"{scope}\0{key}".encode(), digest_size=8).digest(), "big", signed=True)


def _replay(status: int, body: Any) -> tuple[int, Any]:
    if status >= 400:
        raise ApiError(status, body["detail"])
    return status, body


async def run_once(database: Database, scope: str, key: str | None, route: str, body: Any,
                   effect: Callable[[Connection], Any], status: int = 201) -> tuple[int, Any]:
    """Run ``effect(conn)`` at most once per ``(scope, key)``; return ``(status, answer)``.

    The answer is the new one or the stored first one.  A refusal (``ApiError`` 4xx other
    than 409/429) is stored too, so a retry gets the same refusal.
    """
    if key is None or not key.strip():
        raise ApiError(422, "Idempotency-Key: header required for this call")
    if len(key) > MAX_KEY:
        raise ApiError(422, f"Idempotency-Key: at most {MAX_KEY} characters")
    digest = request_hash(route, body)
    scope = f"{scope}:{route}"

    def once(conn: Connection) -> tuple[int, Any, ApiError | None]:
        if not database.is_sqlite and not sql.scalar(conn, TRY_LOCK, {"lock": lock_id(scope, key)}):
            raise ApiError(409, "Idempotency-Key: the first request with this key is still in flight",
                           {"Retry-After": "1"})
        row = sql.first(conn, FIND, {"scope": scope, "key": key})
        if row is not None:
            if row.request_hash != digest:
                raise ApiError(422, "Idempotency-Key: already used with a different request")
            return (*_replay(row.status_code, orjson.loads(row.body)), None)
        refusal, code = None, status
        sql.run(conn, SAVEPOINT)  # a refusal undoes the effect's partial writes only
        try:
            answer = effect(conn)
        except ApiError as e:
            if not 400 <= e.status < 500 or e.status in TRANSIENT:
                raise
            sql.run(conn, ROLLBACK_TO)
            refusal, code, answer = e, e.status, {"detail": e.detail}
        sql.run(conn, ADD, {"scope": scope, "key": key, "request_hash": digest, "status_code": code,
                            "body": orjson.dumps(answer).decode(), "created_at": time.time()})
        return code, answer, refusal

    code, answer, refusal = await database.run(once)
    if refusal is not None:
        raise refusal
    return code, answer
