"""Alembic environment: always handed a live connection by `Database.migrate` (or `python -m mrrrme.store`)."""

from __future__ import annotations

from alembic import context

from mrrrme.store.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `python -m mrrrme.store migrate`, which passes a connection")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
