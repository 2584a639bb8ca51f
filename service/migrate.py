"""Schema migrations (Alembic, ``service/migrations``): ``python -m service migrate --db URL``.

Servers run :func:`upgrade` at start, so a database whose schema is behind is brought to the
current revision first.  A database made before migrations existed (tables, no
``alembic_version``) is recognised as revision ``0001`` and upgraded from there.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

SCRIPTS = Path(__file__).resolve().parent / "migrations"
#: The revision of the schema ``create_all`` made before migrations existed.
BASELINE = "0001"


def _config(conn: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    """The newest revision."""
    return ScriptDirectory(str(SCRIPTS)).get_current_head()


def current(conn: Connection) -> str | None:
    """The database's revision (``None``: empty; ``BASELINE`` for a schema made before migrations)."""
    rev = MigrationContext.configure(conn).get_current_revision()
    if rev is None and inspect(conn).has_table("bookings"):
        return BASELINE
    return rev


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; return (revision before, revision now)."""
    with engine.begin() as conn:
        before = current(conn)
        if before != head():
            cfg = _config(conn)
            if before == BASELINE and MigrationContext.configure(conn).get_current_revision() is None:
                command.stamp(cfg, BASELINE)
            command.upgrade(cfg, "head")
    return before, head()
