"""Schema migrations: an empty database and one made before migrations reach the same schema."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect

from service import db
from service.migrate import BASELINE, SCRIPTS, head
from tests.service_fixtures import *  # noqa: F403
from tests.service_fixtures import ROOT

pytestmark = pytest.mark.timeout(120)


def _shape(url: str) -> dict[str, set[str]]:
    eng = create_engine(url)
    ins = inspect(eng)
    out = {t: {c["name"] for c in ins.get_columns(t)} | {f"ix:{i['name']}" for i in ins.get_indexes(t)
                                                                   if not i.get("duplicates_constraint")}
           for t in ins.get_table_names() if t != "alembic_version"}
    eng.dispose()
    return out


def _migrate(url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "service", "migrate", "--db", url], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_migrations_match_the_tables_and_upgrade_a_v1_database(backend):
    """``migrate`` on an empty database gives ``service.db``'s tables; a v1 database gets the new columns."""
    if backend.startswith("sqlite"):
        empty, old = backend, backend.replace(".db", "_v1.db")
    else:
        from service.db import drop_scratch_schema, scratch_schema
        from tests.service_fixtures import PG_BASE

        empty = backend
        old, name = scratch_schema(PG_BASE)
    try:
        r = _migrate(empty)
        assert r.returncode == 0 and f"schema at revision {head()}" in r.stdout, r.stderr
        # what the code declares is what the migrations made
        want = {t.name: {c.name for c in t.columns} | {f"ix:{i.name}" for i in t.indexes}
                for t in db.md.sorted_tables}
        assert _shape(empty) == want
        # a database as the v1 code made it (its tables, no alembic_version), with a row in it
        eng = create_engine(old)
        with eng.begin() as conn:
            cfg = Config()
            cfg.set_main_option("script_location", str(SCRIPTS))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, BASELINE)
            conn.exec_driver_sql("DROP TABLE alembic_version")
            conn.exec_driver_sql("INSERT INTO citizens (name, phone, district, lat, lon, created_at) "
                                 "VALUES ('A', '+919800000000', 'Agra', 27.2, 78.0, 0)")
        eng.dispose()
        r = _migrate(old)
        assert r.returncode == 0 and "(was 0001)" in r.stdout, r.stdout + r.stderr
        assert _shape(old) == want
        eng = create_engine(old)
        with eng.connect() as conn:
            assert conn.exec_driver_sql("SELECT origin FROM citizens").scalar() == "app"
        eng.dispose()
        assert "schema at revision" in _migrate(old).stdout  # a second run does nothing
    finally:
        if not backend.startswith("sqlite"):
            drop_scratch_schema(PG_BASE, name)
