"""Bearer tokens: who is calling.  Tokens are random, stored only as SHA-256 hashes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass

from sqlalchemy import Connection

from service import db, sql
from service.errors import ApiError, forbidden
from service.sql import Stmt


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: a role and, except for the admin, the subject's id."""

    role: str
    id: int = 0

    @property
    def scope(self) -> str:
        """Namespace of this caller's idempotency keys."""
        return f"{self.role}:{self.id}"


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a token (what the database stores)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


#: Random bytes per token: 24 bytes are exactly 32 URL-safe base64 characters.
TOKEN_BYTES = 24


def new_tokens(n: int) -> list[str]:
    """``n`` random bearer tokens (32 URL-safe base64 characters each, as ``secrets.token_urlsafe(24)``)."""
    # One draw and one encoding for all of a bulk load's tokens (per token they cost a third of it).
    text = base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES * n)).decode("ascii")
    return [text[i:i + 32] for i in range(0, 32 * n, 32)]


def issue(conn: Connection, role: str, subject_id: int) -> str:
    """Create and store a new token for ``role`` ``subject_id``; return it in clear."""
    token = new_tokens(1)[0]
    conn.execute(db.tokens.insert().values(token_hash=hash_token(token), role=role, subject_id=subject_id))
    return token


ADD_TOKEN = Stmt("INSERT INTO tokens (token_hash, role, subject_id) VALUES (:h, :role, :sid)")


def issue_many(conn: Connection, role: str, subject_ids: list[int]) -> list[str]:
    """Tokens for many subjects in one statement."""
    toks = new_tokens(len(subject_ids))
    sql.many(conn, ADD_TOKEN, [{"h": hash_token(t), "role": role, "sid": s}
                               for t, s in zip(toks, subject_ids, strict=True)])
    return toks


GENERATION = Stmt("SELECT value FROM meta WHERE key = 'generation'")
FIND_TOKEN = Stmt("SELECT role, subject_id FROM tokens WHERE token_hash = :h")


class TokenBook:
    """Resolves bearer tokens to callers, caching hits.

    Tokens are deleted only by a reset (``--allow-reset``), which bumps the ``generation`` in
    the ``meta`` table; a server that allows resets reads it on every request and forgets
    its cache when it moved, so a token deleted by another process is never honoured.
    """

    def __init__(self, database: db.Database, admin_token: str, allow_reset: bool = False) -> None:
        self.db = database
        self._admin = admin_token.encode("utf-8")
        self._cache: dict[str, Caller] = {}
        self._lock = threading.Lock()
        self._check_generation = allow_reset
        self._generation: str | None = None

    async def resolve(self, authorization: str | None) -> Caller:
        """The caller behind an ``Authorization: Bearer …`` header; 401 if missing or unknown.

        A cached token costs nothing; otherwise the database is read (``Database.run``).
        """
        token = self._token(authorization)
        if self.is_admin(token):
            return Caller("admin")
        hit = None if self._check_generation else self._cache.get(token)
        return hit if hit is not None else await self.db.run(lambda conn: self.lookup(conn, token), write=False)

    @staticmethod
    def _token(authorization: str | None) -> str:
        if not authorization or not authorization.startswith("Bearer "):
            raise ApiError(401, "missing bearer token", {"WWW-Authenticate": "Bearer"})
        return authorization[7:].strip()

    def lookup(self, conn: Connection, token: str) -> Caller:
        """The caller of ``token`` from the cache or the database; 401 if unknown."""
        if self._check_generation:
            gen = sql.scalar(conn, GENERATION)
            if gen != self._generation:
                self.clear()
                self._generation = gen
        hit = self._cache.get(token)
        if hit is not None:
            return hit
        row = sql.first(conn, FIND_TOKEN, {"h": hash_token(token)})
        if row is None:
            raise ApiError(401, "unknown bearer token", {"WWW-Authenticate": "Bearer"})
        return self.remember(token, Caller(row.role, row.subject_id))

    def cached(self, token: str) -> Caller | None:
        """The caller of a token already seen, without touching the database (never the admin)."""
        return self._cache.get(token)

    def is_admin(self, token: str) -> bool:
        """True for the admin token (compared in constant time)."""
        return hmac.compare_digest(token.encode("utf-8"), self._admin)

    def remember(self, token: str, caller: Caller) -> Caller:
        """Cache a token read from the database; return its caller."""
        with self._lock:
            if len(self._cache) > 500_000:
                self._cache.clear()
            self._cache[token] = caller
        return caller

    def issued(self, role: str, subject_ids: list[int], tokens: list[str]) -> None:
        """Remember tokens this process issued, once their transaction committed.

        Their first request then needs no database look-up (a worker thread and a round trip
        on PostgreSQL).  Not with ``--allow-reset``: a reset committed between this
        transaction's commit and this call would leave a deleted token cached.
        """
        if self._check_generation:
            return
        with self._lock:
            if len(self._cache) + len(tokens) > 500_000:
                self._cache.clear()
            self._cache.update((t, Caller(role, s)) for t, s in zip(tokens, subject_ids, strict=True))

    def clear(self) -> None:
        """Forget cached tokens (after a reset)."""
        with self._lock:
            self._cache.clear()


def require(caller: Caller, *roles: str) -> None:
    """403 unless the caller has one of ``roles``."""
    if caller.role not in roles:
        raise forbidden(f"this call needs the role {' or '.join(roles)}, not {caller.role}")
