"""Hand-written SQL for the hot statements, run on the driver's cursor inside the request's transaction.

SQLAlchemy Core builds, caches and post-processes every statement in Python; on the hot path
(worker status updates, dispatch, booking steps) that cost about two thirds of the server's
CPU per request.  A :class:`Stmt` is written once with ``:name`` parameters and ``{lock}`` /
``{skip_locked}`` markers; its text for each database is made once, and :func:`run` hands it
to the DB-API cursor of the connection that holds the request's transaction (SQLAlchemy still
opens, commits and rolls back that transaction, so the discipline of ``service.db`` holds).
Rows come back as named tuples (``row.status``), like SQLAlchemy's.
"""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

_PARAM = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")
_ROWS: dict[tuple[str, ...], type] = {}


class Stmt:
    """One SQL statement with its text per database (``sqlite`` / ``postgresql``).

    ``Stmt(a, b, pg=ab)``: on SQLite the parts ``a`` then ``b`` run one after another (the
    cursor of the last is the result); on PostgreSQL ``ab`` does the same in one statement
    (data-modifying ``WITH``), one round trip instead of two.  All parts take the same
    parameters.
    """

    __slots__ = ("_rows", "_text")

    def __init__(self, *parts: str, pg: str | None = None) -> None:
        pg_parts = (pg,) if pg is not None else parts
        self._text = {"sqlite": tuple(p.format(lock="", skip_locked="") for p in parts),
                      "postgresql": tuple(_PARAM.sub(r"%(\1)s", p).format(
                          lock=" FOR UPDATE", skip_locked=" FOR UPDATE SKIP LOCKED") for p in pg_parts)}
        self._rows: dict[str, type] = {}  # the named tuple of its rows per database, made on first use

    def parts(self, dialect: str) -> tuple[str, ...]:
        """The statements run for ``dialect``, in order."""
        return self._text[dialect]


def _row_type(conn: Connection, stmt: Stmt, cur: Any) -> type:
    """The named tuple of ``stmt``'s rows (the driver's ``description`` costs ~20 µs a call on psycopg)."""
    t = stmt._rows.get(conn.dialect.name)
    if t is None:
        names = tuple(c[0] for c in cur.description)
        t = _ROWS.get(names)
        if t is None:
            t = _ROWS[names] = namedtuple("Row", names)  # noqa: PYI024 - fields known only at run time
        stmt._rows[conn.dialect.name] = t
    return t


def run(conn: Connection, stmt: Stmt, params: dict[str, Any] | None = None) -> Any:
    """Execute ``stmt`` in ``conn``'s transaction; the DB-API cursor.

    Driver errors come out as SQLAlchemy's (``IntegrityError``, ``OperationalError``...), as
    from ``conn.execute``, so the app maps them to the same answers (409, 503...).
    """
    return _call(conn, stmt, params or {}, many=False)


def many(conn: Connection, stmt: Stmt, rows: Sequence[dict[str, Any]]) -> None:
    """Execute ``stmt`` once per row (the driver's ``executemany``) in ``conn``'s transaction."""
    if rows:
        _call(conn, stmt, rows, many=True)


def _call(conn: Connection, stmt: Stmt, params: Any, many: bool) -> Any:
    cur = conn.connection.dbapi_connection.cursor()
    for text in stmt.parts(conn.dialect.name):
        try:
            (cur.executemany if many else cur.execute)(text, params)
        except conn.dialect.loaded_dbapi.Error as e:
            raise DBAPIError.instance(text, params, e, conn.dialect.loaded_dbapi.Error) from e
    return cur


def new_ids(conn: Connection, table: str, n: int) -> list[int]:
    """``n`` unused primary keys of ``table`` for rows this transaction inserts, ascending.

    Bulk inserts give their rows these ids instead of reading them back one ``RETURNING`` at a
    time.  SQLite: a write transaction (``BEGIN IMMEDIATE``) is the only writer, so the ids
    after the largest stay free until it commits.  PostgreSQL: drawn from the table's sequence.
    """
    if n <= 0:
        return []
    if conn.dialect.name == "sqlite":
        first = conn.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}").scalar_one()
        return list(range(first, first + n))
    return list(conn.exec_driver_sql(
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %(n)s) ORDER BY 1",
        {"n": n}).scalars())


def all_rows(conn: Connection, stmt: Stmt, params: dict[str, Any] | None = None) -> list[Any]:
    """Every row, as named tuples."""
    cur = run(conn, stmt, params)
    rows = cur.fetchall()
    if not rows:
        return []
    make = _row_type(conn, stmt, cur)._make
    return [make(r) for r in rows]


def first(conn: Connection, stmt: Stmt, params: dict[str, Any] | None = None) -> Any | None:
    """The first row as a named tuple, or ``None``."""
    cur = run(conn, stmt, params)
    rows = cur.fetchall()  # to the end: a statement left half-read may hold SQLite's locks
    return _row_type(conn, stmt, cur)._make(rows[0]) if rows else None


def scalar(conn: Connection, stmt: Stmt, params: dict[str, Any] | None = None) -> Any:
    """The first column of the first row, or ``None``."""
    rows = run(conn, stmt, params).fetchall()
    return rows[0][0] if rows else None
