"""Tables (SQLAlchemy Core), engine set-up and transactions for SQLite (WAL) and PostgreSQL.

Concurrency: every write is one transaction (:meth:`Database.run` for requests,
:meth:`Database.write` in threads).  On SQLite that is one process-wide lock plus ``BEGIN
IMMEDIATE`` (so writers from several server processes queue on the file lock); on PostgreSQL
it is a READ COMMITTED transaction in which code locks rows with ``FOR UPDATE`` / ``FOR UPDATE
SKIP LOCKED``.  The partial unique index ``uq_bookings_active_worker`` is the backstop: no
worker can hold two active bookings even if the application logic were wrong.  No database
wait happens on the event loop (``Database.run``), so a writer waiting for SQLite's file lock
stalls only its own request.

Durability: SQLite runs with ``synchronous=NORMAL`` in WAL mode, which survives the server
process being killed (the OS holds the written pages); only a power cut may lose the last
commits.  Use ``synchronous=FULL`` (``?synchronous=full`` in the URL) to survive that too.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from service import sql

#: Bounds on every wait on PostgreSQL: a stuck lock becomes a 503 with ``Retry-After``, not a hang.
LOCK_TIMEOUT, STATEMENT_TIMEOUT = "5s", "30s"
ACTIVE = ("offered", "accepted", "in_progress")
ENDED = ("completed", "cancelled", "unfulfilled")
STATUSES = ("pending", *ACTIVE, *ENDED)

#: SQLite: a commit checkpoints by itself only when the WAL has grown this long [pages of 4 KiB].
WAL_BACKSTOP_PAGES = 50_000
T = TypeVar("T")
#: Worker threads per process for transactions (``Database.run``): requests waiting on round trips or row locks.
THREADS = 16
BEGIN = {mode: sql.Stmt(f"BEGIN {mode}") for mode in ("DEFERRED", "IMMEDIATE")}
md = MetaData()

meta = Table("meta", md, Column("key", String(32), primary_key=True), Column("value", Text, nullable=False))

tokens = Table(
    "tokens", md,
    Column("token_hash", String(64), primary_key=True),
    Column("role", String(16), nullable=False),  # citizen / worker / agent
    Column("subject_id", Integer, nullable=False),
)

citizens = Table(
    "citizens", md,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("phone", String(20), nullable=False, index=True),
    Column("district", String(40), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("origin", String(10), nullable=False, server_default="app"),  # app (self-registered) / helpline
    Column("claimed_by", Integer, nullable=True),  # a helpline caller record claimed by this citizen
)

# One-time codes for claiming helpline caller records, and the messages "sent" (service.callers).
otp_codes = Table(
    "otp_codes", md,
    Column("citizen_id", Integer, primary_key=True),
    Column("code_hash", String(64), nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False),
)

outbox = Table(
    "outbox", md,
    Column("id", Integer, primary_key=True),
    Column("phone", String(20), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

workers = Table(
    "workers", md,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("district", String(40), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("available", Boolean, nullable=False, default=False),
    Column("active_booking_id", Integer, nullable=True),
    Column("idle_since_min", Float, nullable=False, default=0.0),  # [minutes since server epoch]
    Column("jobs", Integer, nullable=False, default=0),
    Column("gross_paise", BigInteger, nullable=False, default=0),  # prices of completed jobs
    Column("rating_sum", Integer, nullable=False, default=0),
    Column("rating_count", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
)

# The database is the spatial index: category, then a lat/lon box, then the worker row.
worker_skills = Table(
    "worker_skills", md,
    Column("worker_id", Integer, ForeignKey("workers.id"), primary_key=True),
    Column("category", String(40), primary_key=True),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Index("ix_worker_skills_cat_lat_lon", "category", "lat", "lon"),
)

agents = Table(
    "agents", md,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
)

bookings = Table(
    "bookings", md,
    Column("id", Integer, primary_key=True),
    Column("citizen_id", Integer, ForeignKey("citizens.id"), nullable=False, index=True),
    Column("category", String(40), nullable=False),
    Column("district", String(40), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("channel", String(10), nullable=False),
    Column("status", String(12), nullable=False),
    Column("worker_id", Integer, nullable=True),
    Column("price_paise", BigInteger, nullable=False),
    Column("paid_paise", BigInteger, nullable=False, default=0),
    Column("payment_method", String(8), nullable=True),
    Column("offers", Integer, nullable=False, default=0),
    Column("rating", Integer, nullable=True),
    Column("created_at", Float, nullable=False),  # [unix seconds]
    Column("first_offered_at", Float, nullable=True),
    Column("offered_at", Float, nullable=True),
    Column("accepted_at", Float, nullable=True),
    Column("started_at", Float, nullable=True),
    Column("ended_at", Float, nullable=True),
    Column("retry_at", Float, nullable=True),  # next dispatch attempt while pending [unix seconds]
    Index("ix_bookings_status_category", "status", "category", "id"),
    Index("ix_bookings_status_retry", "status", "retry_at"),
    Index(
        "uq_bookings_active_worker", "worker_id", unique=True,
        sqlite_where=text("status IN ('offered', 'accepted', 'in_progress')"),
        postgresql_where=text("status IN ('offered', 'accepted', 'in_progress')"),
    ),
)

declines = Table(
    "booking_declines", md,
    Column("booking_id", Integer, primary_key=True),
    Column("worker_id", Integer, primary_key=True),
)

ledger_txns = Table(
    "ledger_txns", md,
    Column("id", Integer, primary_key=True),
    Column("idem_key", String(80), nullable=False, unique=True),
    Column("kind", String(24), nullable=False),
    Column("booking_id", Integer, nullable=True),
    Column("created_at", Float, nullable=False),
)

ledger_entries = Table(
    "ledger_entries", md,
    Column("id", Integer, primary_key=True),
    Column("txn_id", Integer, ForeignKey("ledger_txns.id"), nullable=False, index=True),
    Column("account", String(40), nullable=False, index=True),
    Column("amount_paise", BigInteger, nullable=False),
)

idempotency = Table(
    "idempotency", md,
    Column("scope", String(80), primary_key=True),  # "<role>:<id>:<route name>"
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("state", String(10), nullable=False),  # "done": an answer is stored with its effect
    Column("status_code", Integer, nullable=True),
    Column("body", Text, nullable=True),
    Column("created_at", Float, nullable=False),
)


def _sqlite_pragmas(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _rec) -> None:  # noqa: ANN001
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (pysqlite's is broken)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        # Checkpoints (copying the WAL into the database, with fsyncs) run in the clocks' thread
        # (``Database.checkpoint``), not in a request's commit on the event loop; this is a backstop.
        cur.execute(f"PRAGMA wal_autocheckpoint={WAL_BACKSTOP_PAGES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # a transaction begun on the driver's connection (``Database._on_loop``) is adopted, not begun again
        if not conn.connection.dbapi_connection.in_transaction:
            sql.run(conn, BEGIN[conn.get_execution_options().get("sqlite_begin", "DEFERRED")])


def _pg_timeouts(engine: Engine) -> None:
    """Bound every wait, so a stuck lock becomes a 503 with ``Retry-After`` instead of a hang."""
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _rec) -> None:  # noqa: ANN001
        with dbapi_conn.cursor() as cur:
            cur.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            cur.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
        dbapi_conn.commit()


def _transaction(conn: Connection, fn: Callable[[Connection], T], begin: str | None) -> T:
    """``fn(conn)`` in one transaction on the driver's connection: ``begin`` (SQLite), else the driver's own.

    SQLAlchemy's transaction object, its events and its commit path cost ~25 µs of CPU a request
    (~6 % of a booking's instructions on SQLite).  A statement of SQLAlchemy's own inside ``fn``
    joins the transaction (SQLAlchemy begins its own bookkeeping; on SQLite the ``begin``
    listener adopts the open transaction) and is then committed or rolled back through it.
    """
    raw = conn.connection.dbapi_connection
    if begin is not None:
        try:
            raw.execute(begin)
        except conn.dialect.loaded_dbapi.OperationalError as e:
            raise _Busy from e
    try:
        out = fn(conn)
    except BaseException:
        with contextlib.suppress(DBAPIError):  # the first error is the one to answer
            _end(conn, raw, commit=False)
        raise
    _end(conn, raw, commit=True)
    return out


def _end(conn: Connection, raw: Any, commit: bool) -> None:
    """Commit or roll back :func:`_transaction`'s transaction (through SQLAlchemy if it joined)."""
    if conn.in_transaction():
        (conn.commit if commit else conn.rollback)()
        return
    try:
        (raw.commit if commit else raw.rollback)()
    except conn.dialect.loaded_dbapi.Error as e:  # as SQLAlchemy's, so the app answers 503, not 500
        if getattr(raw, "broken", False) or getattr(raw, "closed", False):
            conn.invalidate()  # a lost PostgreSQL connection: replaced at the next use (``_thread_conn``)
        raise DBAPIError.instance("COMMIT" if commit else "ROLLBACK", None, e, conn.dialect.loaded_dbapi.Error) from e


class _Busy(Exception):
    """SQLite's write lock is held by another process (``BEGIN IMMEDIATE`` failed at once)."""


def _settle(fut: asyncio.Future, result: object, error: BaseException | None) -> None:
    if not fut.done():  # the awaiting request may have been cancelled meanwhile
        if error is None:
            fut.set_result(result)
        else:
            fut.set_exception(error)


_IDLE = ("idle",)  # ``_Threads.next_job``: no call for the thread now


class _Threads:
    """Worker threads that run one call each for the event loop: one hop per transaction.

    Leaner than ``asyncio.to_thread`` (a ``concurrent.futures`` future with its conditions,
    chained to an asyncio future): the call is handed to an idle thread, the answer comes back
    by ``call_soon_threadsafe``.  The idle thread used is the one idle most recently (a
    stack): its caches and its PostgreSQL connection (and that backend) are warm.  With a
    FIFO queue the calls went round all threads and their connections, and a PostgreSQL
    transaction's hop cost ~100 µs of CPU more than the same work on the caller's thread; this
    way ~30 µs (uvloop, 2 cores).  Calls wait in a backlog when all ``n`` threads are busy.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self._lock = threading.Lock()
        self._idle: list[_Thread] = []  # a stack: the most recently idle last
        self._backlog: collections.deque = collections.deque()
        self._threads: list[_Thread] = []
        self._stopping = False

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in a worker thread, in a copy of the caller's context."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        job = (loop, fut, contextvars.copy_context(), fn, args)
        with self._lock:
            if self._idle:
                self._idle.pop().hand(job)
            elif len(self._threads) < self.n:
                self._stopping = False
                self._threads.append(_Thread(self, job))
            else:
                self._backlog.append(job)
        return await fut

    def next_job(self, t: _Thread) -> tuple | None:
        """Thread ``t`` finished a call: the next one from the backlog, or ``IDLE`` (``t`` is idle now), or ``None``.

        Called before the answer goes back, so the next call of the same request finds this
        thread idle, on top of the stack.
        """
        with self._lock:
            if self._backlog:
                return self._backlog.popleft()
            if self._stopping or t not in self._threads:
                return None
            self._idle.append(t)
            return _IDLE

    def stop(self) -> None:
        """Let the threads finish their calls (and the backlog) and end."""
        with self._lock:
            self._stopping = True
            for t in self._idle:
                t.hand(None)
            self._idle.clear()
            self._threads = []


class _Thread:
    """One worker thread of :class:`_Threads`, woken with a call handed to it."""

    def __init__(self, pool: _Threads, job: tuple) -> None:
        self._pool = pool
        self._job: tuple | None = job
        self._wake = threading.Lock()
        self._wake.acquire()
        threading.Thread(target=self._work, name="db", daemon=True).start()

    def hand(self, job: tuple | None) -> None:
        """Wake the (idle) thread with ``job`` (``None``: end)."""
        self._job = job
        self._wake.release()

    def wait(self) -> tuple | None:
        """Block until handed a call."""
        self._wake.acquire()
        job, self._job = self._job, None
        return job

    def _work(self) -> None:
        job, self._job = self._job, None
        while job is not None:
            loop, fut, ctx, fn, args = job
            try:
                result, error = ctx.run(fn, *args), None
            except BaseException as e:  # noqa: BLE001 - handed to the awaiting request
                result, error = None, e
            nxt = self._pool.next_job(self)
            try:
                loop.call_soon_threadsafe(_settle, fut, result, error)
            except RuntimeError:  # the loop closed meanwhile: nobody waits for this answer
                pass
            del job, fut, result, error
            job = self.wait() if nxt is _IDLE else nxt


class Database:
    """One engine plus the transaction discipline described in the module docstring."""

    def __init__(self, url: str) -> None:
        u = make_url(url)
        self.is_sqlite = u.get_backend_name() == "sqlite"
        if self.is_sqlite:
            sync = u.query.get("synchronous", "normal")
            if sync not in ("normal", "full"):
                raise ValueError("db: synchronous must be normal or full")
            u = u.difference_update_query(["synchronous"])
            self.engine = create_engine(
                u, connect_args={"check_same_thread": False, "timeout": 10}, pool_size=8, max_overflow=32,
            )
            _sqlite_pragmas(self.engine, sync.upper())
        elif u.get_backend_name() == "postgresql":
            self.engine = create_engine(u, pool_size=16, max_overflow=32, pool_pre_ping=False)
            _pg_timeouts(self.engine)
        else:
            raise ValueError(f"db: unsupported database {u.get_backend_name()!r} (sqlite or postgresql)")
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._local = threading.local()  # PostgreSQL: each worker thread's connections (``_thread_conn``)
        self._pinned: list[Connection] = []
        self._pinned_lock = threading.Lock()
        self._wlock = threading.Lock()
        self._loop_conns: dict[bool, Connection] = {}  # SQLite: used on the event loop only (``run``)
        self._threads = _Threads(THREADS)
        self._waiters: collections.deque = collections.deque()  # SQLite: requests waiting for the writer lock

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any exception."""
        if self.is_sqlite:
            try:
                with self._wlock, self.engine.connect() as conn:
                    conn.execution_options(sqlite_begin="IMMEDIATE")
                    with conn.begin():
                        yield conn
            finally:
                self._wake_waiters()
        else:
            with self.engine.begin() as conn:
                yield conn

    async def run(self, fn: Callable[[Connection], T], write: bool = True) -> T:
        """``fn(conn)`` in one transaction, committed on success; never waits on the event loop.

        SQLite: on a connection kept for the event loop whose busy time-out is 0, once this
        process's writer lock is free (while a thread holds it the request waits for it
        without blocking the loop: :meth:`_wait_for_writer`); a lock held by another process
        fails at once (at ``BEGIN``, before anything ran) and the call moves to a worker
        thread, which waits there.  Reads never wait in WAL mode.  PostgreSQL: always in a
        worker thread (round trips and row locks wait), one hop per transaction.
        """
        if self.is_sqlite:
            if not write:
                try:
                    return self._on_loop(fn, write)
                except (_Busy, OperationalError):  # a rare busy reader (WAL recovery): retry where it may wait
                    return await self._threads.run(self._in_thread, fn, write)
            while not self._wlock.acquire(blocking=False):
                await self._wait_for_writer()
            try:
                return self._on_loop(fn, write)
            except _Busy:
                pass
            finally:
                self._wlock.release()
        return await self._threads.run(self._in_thread, fn, write)

    async def _wait_for_writer(self) -> None:
        """SQLite: wait (on the loop, without blocking it) until a thread's write transaction ends.

        Only threads hold the writer lock across an ``await`` (the clocks' tick, admin calls, a
        call waiting for another process): the event loop's own transactions run to the end
        without one.  Waiting here, and then running on the loop, keeps requests off the worker
        threads: sending them there made each one slower (the thread path, and the GIL handed
        back and forth with the loop), so under load the lock stayed with threads and every
        request took the slow path.  Woken by :meth:`_wake_waiters`; re-checked after 50 ms anyway.
        """
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._waiters.append((loop, fut))
        if self._wlock.acquire(blocking=False):  # released between the first try and the sign-up
            self._wlock.release()
        else:
            handle = loop.call_later(0.05, _settle, fut, None, None)
            try:
                await fut
            finally:
                handle.cancel()

    def _wake_waiters(self) -> None:
        """After a thread's write transaction: wake the requests waiting for the writer lock."""
        while self._waiters:
            try:
                loop, fut = self._waiters.popleft()
            except IndexError:
                break
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits
                loop.call_soon_threadsafe(_settle, fut, None, None)

    def _in_thread(self, fn: Callable[[Connection], T], write: bool) -> T:
        if self.is_sqlite:
            with self.write() if write else self.read() as conn:
                return fn(conn)
        return _transaction(self._thread_conn(write), fn, None)

    def _thread_conn(self, write: bool) -> Connection:
        """PostgreSQL: this worker thread's own connection for writes, or for reads (autocommit).

        Kept across requests (no pool checkout and reset per transaction); replaced if it broke.
        Reads in autocommit take one round trip per statement instead of BEGIN and COMMIT around
        them, with the same answers: READ COMMITTED gives each statement its own snapshot anyway.
        """
        conns = self._local.__dict__.setdefault("conns", {})
        conn = conns.get(write)
        if conn is None or conn.closed or conn.invalidated:
            old, conn = conn, (self.engine if write else self._autocommit).connect()
            conns[write] = conn
            with self._pinned_lock:
                self._pinned = [c for c in self._pinned if c is not old] + [conn]
            if old is not None:
                old.close()
        return conn

    def _on_loop(self, fn: Callable[[Connection], T], write: bool) -> T:
        conn = self._loop_conns.get(write)
        if conn is None or conn.invalidated:
            conn = self._loop_conns[write] = self.engine.connect()
            conn.exec_driver_sql("PRAGMA busy_timeout=0")
            if conn.in_transaction():
                conn.commit()
        return _transaction(conn, fn, BEGIN["IMMEDIATE" if write else "DEFERRED"].parts("sqlite")[0])

    def checkpoint(self) -> None:
        """SQLite: copy the WAL into the database without waiting for anyone (``PASSIVE``); a worker thread's job."""
        if self.is_sqlite:
            with self.engine.connect() as conn:  # the driver's connection: outside any transaction
                conn.connection.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a consistent snapshot on both databases)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def create_schema(self) -> float:
        """Migrate the schema to the newest revision; return the server epoch [unix seconds].

        The epoch is fixed at the first start.
        """
        from service.migrate import upgrade

        upgrade(self.engine)
        with self.write() as conn:
            row = conn.execute(meta.select().where(meta.c.key == "epoch")).first()
            if row is not None:
                return float(row.value)
            now = time.time()
            conn.execute(meta.insert().values(key="epoch", value=repr(now)))
            return now

    def dispose(self) -> None:
        """Stop the worker threads; close every pooled connection."""
        self._threads.stop()
        for conn in [*self._loop_conns.values(), *self._pinned]:
            conn.close()
        self._loop_conns.clear()
        self._pinned.clear()
        self.engine.dispose()


def one_shot_engine(url: str) -> Engine:
    """An engine without pooling, for scripts and tests that connect once."""
    return create_engine(url, poolclass=NullPool)


def scratch_schema(pg_url: str, prefix: str = "svc") -> tuple[str, str]:
    """Create a fresh PostgreSQL schema; return (URL whose ``search_path`` is it, its name).

    Tests and benchmarks use one each, so runs sharing a database never collide.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    eng = one_shot_engine(pg_url)
    with eng.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {name}")
    eng.dispose()
    return f"{pg_url}?options=-csearch_path%3D{name}", name


def drop_scratch_schema(pg_url: str, name: str) -> None:
    """Drop a schema made by :func:`scratch_schema`, with everything in it."""
    eng = one_shot_engine(pg_url)
    with eng.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    eng.dispose()
