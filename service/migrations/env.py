"""Alembic environment of the reference deployment (SQLite or PostgreSQL).

Migrations run on the connection ``service.migrate`` gives (``config.attributes["connection"]``).
"""

from __future__ import annotations

from alembic import context

from service.db import md

config = context.config
conn = config.attributes["connection"]
context.configure(connection=conn, target_metadata=md, render_as_batch=conn.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
