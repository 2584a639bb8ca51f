"""The hot path of ``POST /v1/bookings``: the ordinary request, answered below the framework.

A pure ASGI middleware (inside ``LimitsMiddleware``, so rate and size limits apply).  It takes
only the plain, valid case: ``Content-Type: application/json``, a body that ``BookingIn``
accepts, a citizen's bearer token, a sound ``Idempotency-Key``, a known category and a place in
Uttar Pradesh, and a key that is new (or whose stored answer is a 201 for the same body).
Everything else -- refusals, replays of refusals, keys in flight, and any failure (after its
transaction was rolled back) -- is handed to the FastAPI route with the body replayed, so
every refusal, the error mapping (never a 500) and the OpenAPI description stay those of
``service.routes``.  Answers are byte-for-byte the route's (``BookingOut`` without nulls), and
stored answers are interchangeable between the two paths (same digest, same JSON).

The work is the route's, with fewer statements and without SQLAlchemy's per-statement cost:
the driver's own connections run hand-written SQL (``SQLITE``, ``POSTGRES``).  The guarantees
are unchanged:

* the key check, the booking, the worker's reservation and the stored answer commit together
  (an answer is stored if and only if its effect is committed; the answer is sent after the
  commit, so ``kill -9`` cannot lose an acknowledged booking);
* the policy is the same object (``Dispatcher.choose``, ``Dispatcher.pick``), asked about the
  same candidates; a worker is reserved only if their row is still free and available (on
  SQLite the write lock serializes the transaction and a guarded ``UPDATE`` re-checks; on
  PostgreSQL ``FOR UPDATE SKIP LOCKED`` and the same re-check), with the partial unique index
  ``uq_bookings_active_worker`` as the backstop;
* on PostgreSQL a duplicate in flight finds the key's advisory lock held and goes to the
  route, which answers 409 (see ``POSTGRES`` for how the lock is held across statements).  A
  statement's snapshot may predate a first request that commits just before it takes the
  lock; then its stored answer collides with the first one on the primary key (or it sees
  it), nothing of it is committed and the route replays the first answer.

SQLite: one kept connection, used on the event loop under the process-wide write lock (as the
route did, it may wait there for a write running in the thread pool).  PostgreSQL: a few
asynchronous connections (``PgPool``), so requests waiting for the database -- above all for
durable commits -- do not stop the event loop, and their commits share WAL flushes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pydantic import ValidationError

from service import bookings, idempotency
from service.auth import Caller, hash_token
from service.context import Context
from service.db import LOCK_TIMEOUT, STATEMENT_TIMEOUT, Database
from service.dispatch import box
from service.errors import ApiError
from service.schemas import BookingIn

PATH = "/v1/bookings"
#: PostgreSQL connections of the hot path: enough for commits to share WAL flushes, few enough
#: not to crowd a small machine (bench_service.py: 8 beat 4 and 16 on two cores).
POOL_SIZE = 8
ROUTE = "bookings"

SQLITE = {
    "token": "SELECT role, subject_id FROM tokens WHERE token_hash = ?",
    "find": "SELECT request_hash, status_code, body FROM idempotency WHERE scope = ? AND key = ?",
    "add_booking": "INSERT INTO bookings (citizen_id, category, district, lat, lon, channel, status, price_paise, "
                   "paid_paise, offers, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, 0, 0, ?)",
    "candidates": "SELECT w.id, w.lat, w.lon, w.rating_sum, w.rating_count, w.gross_paise, w.idle_since_min, w.jobs "
                  "FROM worker_skills s JOIN workers w ON w.id = s.worker_id "
                  "WHERE s.category = ? AND s.lat BETWEEN ? AND ? AND s.lon BETWEEN ? AND ? AND w.available = 1 "
                  "AND w.active_booking_id IS NULL "
                  "AND w.id NOT IN (SELECT worker_id FROM booking_declines WHERE booking_id = ?)",
    # The write lock is held, so a worker free a moment ago is still free: the guarded update
    # is the re-check.
    "reserve": "UPDATE workers SET active_booking_id = ? WHERE id = ? AND available = 1 "
               "AND active_booking_id IS NULL",
    "offer": "UPDATE bookings SET status = 'offered', worker_id = ?, offered_at = ?, offers = offers + 1, "
             "first_offered_at = coalesce(first_offered_at, ?) WHERE id = ?",
    "add_answer": "INSERT INTO idempotency (scope, key, request_hash, state, status_code, body, created_at) "
                  "VALUES (?, ?, ?, 'done', ?, ?, ?)",
}

# PostgreSQL: every statement is a transaction of its own (autocommit), so each effect and its
# stored answer share one atomic statement, and a booking costs one round trip (no free worker
# near) or two (the candidates, then the offer).  The key's advisory lock is held throughout:
# each statement takes it for its transaction, and when a booking needs a second statement the
# probe also takes it for the session, which the statement that stores the answer gives back
# (a failure in between closes the connection, which gives it back too).  So a duplicate in
# flight meets a held lock (409), as on the route.
_KEY = ("l AS (SELECT pg_try_advisory_xact_lock(%(lock)s) AS got), "
        "i AS (SELECT request_hash, status_code, body FROM idempotency WHERE scope = %(scope)s AND key = %(key)s)")
_ADD_ANSWER = ("INSERT INTO idempotency (scope, key, request_hash, state, status_code, body, created_at) "
               "SELECT %(scope)s, %(key)s, %(digest)s, 'done', 201, {body}, %(at)s FROM b RETURNING 1")
_ADD_BOOKING = ("INSERT INTO bookings (id, citizen_id, category, district, lat, lon, channel, status, worker_id, "
                "price_paise, paid_paise, offers, created_at, first_offered_at, offered_at) ")
POSTGRES = {
    "token": "SELECT role, subject_id FROM tokens WHERE token_hash = %s",
    # The key's lock and stored answer, and the candidates (one row of arrays, columns as in
    # ``CANDIDATES``).  With the lock free, the key new and no candidate in the box, the
    # booking is stored as pending with its answer; with candidates, an id is drawn for it.
    "probe": "WITH " + _KEY + ", "
             "k AS (SELECT array_agg(w.id) AS ids, array_agg(w.lat), array_agg(w.lon), array_agg(w.rating_sum), "
             "array_agg(w.rating_count), array_agg(w.gross_paise), array_agg(w.idle_since_min), array_agg(w.jobs) "
             "FROM worker_skills s JOIN workers w ON w.id = s.worker_id "
             "WHERE s.category = %(cat)s AND s.lat BETWEEN %(lat0)s AND %(lat1)s "
             "AND s.lon BETWEEN %(lon0)s AND %(lon1)s AND w.available IS true "
             "AND w.active_booking_id IS NULL), "  # a new booking: nobody declined it yet
             "b AS (INSERT INTO bookings (citizen_id, category, district, lat, lon, channel, status, price_paise, "
             "paid_paise, offers, created_at) SELECT %(cid)s, %(cat)s, %(district)s, %(lat)s, %(lon)s, %(channel)s, "
             "'pending', %(price)s, 0, 0, %(now)s FROM l, k WHERE l.got AND k.ids IS NULL "
             "AND NOT EXISTS (SELECT FROM i) RETURNING id), "
             "a AS (" + _ADD_ANSWER.format(body="'{\"id\": ' || b.id || ', \"status\": \"pending\", "
                                                "\"worker_id\": null}'") + ") "
             "SELECT l.got, i.request_hash, i.status_code, i.body, (SELECT id FROM b), "
             "CASE WHEN l.got AND i.request_hash IS NULL AND k.ids IS NOT NULL THEN "
             "CASE WHEN pg_try_advisory_lock(%(lock)s) THEN nextval(pg_get_serial_sequence('bookings', 'id')) END "
             "END, k.* "
             "FROM l LEFT JOIN i ON true CROSS JOIN k",
    # Booking %(bid)s offered to worker %(wid)s: lock the worker's row if nobody holds it,
    # re-check them, reserve them, store the booking and the answer -- only if the key's lock
    # is free and the key still new.  No booking if the worker was taken meanwhile.
    "offer": "WITH " + _KEY + ", "
             "w AS (SELECT id FROM workers WHERE id = %(wid)s AND available IS true AND active_booking_id IS NULL "
             "AND (SELECT got FROM l) AND NOT EXISTS (SELECT FROM i) FOR UPDATE SKIP LOCKED), "
             "r AS (UPDATE workers SET active_booking_id = %(bid)s FROM w WHERE workers.id = w.id "
             "RETURNING workers.id), "
             "b AS (" + _ADD_BOOKING + "SELECT %(bid)s, %(cid)s, %(cat)s, %(district)s, %(lat)s, %(lon)s, "
             "%(channel)s, 'offered', r.id, %(price)s, 0, 1, %(now)s, %(now)s, %(now)s FROM r RETURNING worker_id), "
             "a AS (" + _ADD_ANSWER.format(body="%(body)s") + ") "
             "SELECT (SELECT got FROM l), EXISTS (SELECT FROM i), (SELECT worker_id FROM b), "
             "CASE WHEN EXISTS (SELECT FROM b) THEN pg_advisory_unlock(%(lock)s) END",
    # Booking %(bid)s left pending (the policy chose nobody, or everyone chosen was taken).
    "pending": "WITH " + _KEY + ", "
               "b AS (" + _ADD_BOOKING + "SELECT %(bid)s, %(cid)s, %(cat)s, %(district)s, %(lat)s, %(lon)s, "
               "%(channel)s, 'pending', NULL, %(price)s, 0, 0, %(now)s, NULL, NULL FROM l "
               "WHERE l.got AND NOT EXISTS (SELECT FROM i) RETURNING id), "
               "a AS (" + _ADD_ANSWER.format(body="%(body)s") + ") "
               "SELECT (SELECT id FROM b), pg_advisory_unlock(%(lock)s)",
}


class _Pass(Exception):  # noqa: N818 - not an error: "let the route answer this one"
    pass


class _Job:
    """The booking row as the dispatcher reads it (``Dispatcher.job``)."""

    __slots__ = ("category", "created_at", "district", "id", "lat", "lon")

    def __init__(self, bid: int, b: BookingIn, now: float) -> None:
        self.id, self.category, self.district, self.lat, self.lon, self.created_at = (
            bid, b.category, b.district, b.lat, b.lon, now)


class PgPool:
    """A few asynchronous psycopg connections for the hot path (PostgreSQL), made on demand.

    Transactions on the event loop must not block it: a durable commit waits for the WAL
    flush (milliseconds on a slow disk), and only commits in flight together share one flush.
    A connection that failed is closed, not returned.
    """

    def __init__(self, database: Database, size: int = POOL_SIZE) -> None:
        kwargs = database.engine.dialect.create_connect_args(database.engine.url)[1]
        kwargs.pop("context", None)
        self.kwargs = kwargs
        self.size = size
        self._idle: list[Any] = []
        self._free = asyncio.Semaphore(size)

    async def _connect(self) -> Any:
        import psycopg

        conn = await psycopg.AsyncConnection.connect(**self.kwargs, autocommit=True)
        await conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")  # as db._pg_timeouts
        await conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
        return conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """A connection outside any transaction; discarded if the block raised anything but ``_Pass``."""
        async with self._free:
            conn = self._idle.pop() if self._idle else await self._connect()
            ok = False
            try:
                yield conn
                ok = True
            except _Pass:
                ok = True
                raise
            finally:
                if ok and not conn.closed:
                    self._idle.append(conn)
                else:
                    await _close(conn)

    async def aclose(self) -> None:
        """Close the idle connections (at shutdown)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            await _close(conn)


async def _close(conn: Any) -> None:
    try:
        await conn.close()
    except Exception:  # noqa: BLE001, S110 - closing a broken connection
        pass


class FastBookings:
    """The hot path's work: parse and check a request, then run its transaction."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.db = ctx.db
        self.pg = None if ctx.db.is_sqlite else PgPool(ctx.db)

    async def aclose(self) -> None:
        """Release the connections (at shutdown)."""
        if self.pg is not None:
            await self.pg.aclose()

    def parse(self, headers: list[tuple[bytes, bytes]], raw: bytes) -> tuple[str, str, BookingIn, int, str]:
        """``(token, key, body, price, request digest)``; ``_Pass`` unless the request is plain and valid."""
        auth = key = ctype = None
        for name, value in headers:  # the first of repeated headers counts, as in Starlette
            if name == b"authorization":
                auth = value if auth is None else auth
            elif name == b"idempotency-key":
                key = value if key is None else key
            elif name == b"content-type":
                ctype = value if ctype is None else ctype
        if ctype != b"application/json" or auth is None or key is None or not auth.startswith(b"Bearer "):
            raise _Pass
        token = auth[7:].decode("latin-1").strip()
        idem = key.decode("latin-1")
        if not token or not 1 <= len(idem) <= idempotency.MAX_KEY or not idem.strip():
            raise _Pass
        try:
            data = json.loads(raw)
            body = BookingIn.model_validate(data) if isinstance(data, dict) else None
        except (ValueError, ValidationError, RecursionError):
            raise _Pass from None
        if body is None:
            raise _Pass
        try:  # a refusal is stored with its key: the route does that
            price = bookings.price_of(self.ctx, body.category)
            bookings.check_place(self.ctx, body.district, body.lat, body.lon)
        except ApiError:
            raise _Pass from None
        return token, idem, body, price, idempotency.request_hash(ROUTE, body.model_dump())

    async def answer(self, headers: list[tuple[bytes, bytes]], raw: bytes) -> bytes:
        """The JSON body of the 201 answer; ``_Pass`` if the route should answer instead."""
        token, key, body, price, digest = self.parse(headers, raw)
        try:
            if self.db.is_sqlite:
                with self.db.write_lock:
                    caller = self._caller_sqlite(token)
                    out = self._sqlite(f"{caller.scope}:{ROUTE}", key, digest, caller.id, body, price)
            else:
                async with self.pg.connection() as conn:
                    caller = await self._caller_pg(conn, token)
                    out = await self._postgres(conn, f"{caller.scope}:{ROUTE}", key, digest, caller.id, body, price)
        except _Pass:
            raise
        except Exception:  # noqa: BLE001 - rolled back; the route retries and maps the failure
            if self.db.is_sqlite:
                self.db.drop_hot_connection()
            raise _Pass from None
        return json.dumps({k: v for k, v in out.items() if v is not None}, separators=(",", ":")).encode()

    # -- who is calling ---------------------------------------------------------------------

    def _citizen(self, token: str, row: Any) -> Caller:
        if row is None:
            raise _Pass  # the route answers 401
        caller = self.ctx.tokens.remember(token, Caller(row[0], row[1]))
        if caller.role != "citizen":
            raise _Pass  # the route answers 403
        return caller

    def _cached(self, token: str) -> Caller | None:
        caller = self.ctx.tokens.cached(token)
        if caller is not None and caller.role != "citizen":
            raise _Pass
        if caller is None and self.ctx.tokens.is_admin(token):
            raise _Pass
        return caller

    def _caller_sqlite(self, token: str) -> Caller:
        """The citizen behind ``token`` (cached, else read once); ``_Pass`` for anyone else."""
        caller = self._cached(token)
        if caller is None:
            row = self.db.hot_connection().execute(SQLITE["token"], (hash_token(token),)).fetchone()
            caller = self._citizen(token, row)
        return caller

    async def _caller_pg(self, conn: Any, token: str) -> Caller:
        caller = self._cached(token)
        if caller is None:
            cur = await conn.execute(POSTGRES["token"], (hash_token(token),))
            row = await cur.fetchone()
            caller = self._citizen(token, row)
        return caller

    # -- the transaction, per database ------------------------------------------------------

    @staticmethod
    def _stored(row: Any, digest: str) -> dict:
        """The stored first answer, if it is a success for the same request; else ``_Pass``."""
        request_hash, status, body = row
        if request_hash != digest or status != 201:
            raise _Pass
        return json.loads(body)

    def _sqlite(self, key_scope: str, key: str, digest: str, citizen_id: int, b: BookingIn, price: int) -> dict:
        c = self.db.hot_connection()
        c.execute("BEGIN IMMEDIATE")
        try:
            row = c.execute(SQLITE["find"], (key_scope, key)).fetchone()
            if row is not None:
                c.execute("ROLLBACK")
                return self._stored(row, digest)
            now = time.time()
            bid = c.execute(SQLITE["add_booking"], (citizen_id, b.category, b.district, b.lat, b.lon, b.channel,
                                                    price, now)).lastrowid
            disp = self.ctx.disp
            lat0, lat1, lon0, lon1 = box(b.lat, b.lon, disp.policy.radius_km)
            cands = disp.candidates_from(
                c.execute(SQLITE["candidates"], (b.category, lat0, lat1, lon0, lon1, bid)), b.lat, b.lon)

            def reserve(wid: int) -> bool:
                if c.execute(SQLITE["reserve"], (bid, wid)).rowcount != 1:
                    return False
                c.execute(SQLITE["offer"], (wid, now, now, bid))
                return True

            wid = disp.pick(disp.job(_Job(bid, b, now)), cands, now, reserve)
            answer = {"id": bid, "status": "pending" if wid is None else "offered", "worker_id": wid}
            c.execute(SQLITE["add_answer"], (key_scope, key, digest, 201, json.dumps(answer), time.time()))
            c.execute("COMMIT")
            return answer
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise

    async def _postgres(self, c: Any, key_scope: str, key: str, digest: str, citizen_id: int, b: BookingIn,
                        price: int) -> dict:
        disp = self.ctx.disp
        now = time.time()
        lat0, lat1, lon0, lon1 = box(b.lat, b.lon, disp.policy.radius_km)
        args = {"lock": idempotency.lock_id(key_scope, key), "scope": key_scope, "key": key, "digest": digest,
                "cid": citizen_id, "cat": b.category, "district": b.district, "lat": b.lat, "lon": b.lon,
                "channel": b.channel, "price": price, "now": now, "at": now}
        cur = await c.execute(POSTGRES["probe"], {**args, "lat0": lat0, "lat1": lat1, "lon0": lon0, "lon1": lon1})
        got, h, status, body, added, bid, *cols = await cur.fetchone()
        if added is not None:  # nobody free near: stored as pending, with its answer
            return {"id": added, "status": "pending", "worker_id": None}
        if not got:
            raise _Pass  # in flight: the route answers 409
        if h is not None:
            return self._stored((h, status, body), digest)
        if bid is None:
            raise _Pass
        try:  # the key's session lock is held from here until the answer is stored
            return await self._offer(c, disp, _Job(bid, b, now), cols, {**args, "bid": bid})
        except BaseException:
            await _close(c)  # gives the lock back (and the pool discards the connection)
            raise

    async def _offer(self, c: Any, disp: Any, booking: _Job, cols: list, args: dict) -> dict:
        # The candidates were read without locks: each offer re-checks its worker.
        bid, now = booking.id, booking.created_at
        cands = disp.candidates_from(zip(*cols, strict=True), booking.lat, booking.lon)
        job = disp.job(booking)
        while len(cands):  # Dispatcher.pick, with an asynchronous reservation
            wid = disp.choose(job, cands, now)
            if wid is None:
                break
            answer = {"id": bid, "status": "offered", "worker_id": wid}
            cur = await c.execute(POSTGRES["offer"], {**args, "wid": wid, "body": json.dumps(answer),
                                                      "at": time.time()})
            got, stored, reserved, _ = await cur.fetchone()
            if not got or stored:
                raise _Pass  # cannot happen while the session holds the key's lock
            if reserved is not None:
                return answer
            cands = disp.without(cands, wid)  # someone else reserved them first
        answer = {"id": bid, "status": "pending", "worker_id": None}
        cur = await c.execute(POSTGRES["pending"], {**args, "body": json.dumps(answer), "at": time.time()})
        if (await cur.fetchone())[0] is None:
            raise _Pass  # cannot happen while the session holds the key's lock
        return answer


class BookingFastPath:
    """ASGI middleware answering plain ``POST /v1/bookings`` requests itself (see the module)."""

    def __init__(self, app: Any, *, fast: FastBookings) -> None:
        self.app = app
        self.fast = fast

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Answer the plain case; pass anything else on with its body replayed."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        chunks = []
        more = True
        while more:
            msg = await receive()
            if msg["type"] != "http.request":  # the client went away: nothing to do
                return
            chunks.append(msg.get("body", b""))
            more = msg.get("more_body", False)
        body = b"".join(chunks)
        try:
            payload = await self.fast.answer(scope["headers"], body)
        except _Pass:
            replayed = False

            async def replay() -> dict:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            await self.app(scope, replay, send)
            return
        await send({"type": "http.response.start", "status": 201, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})
