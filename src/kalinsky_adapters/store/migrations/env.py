"""Alembic's environment for Kalinsky's records: migrations run on the connection `kalinsky_adapters.store.migrate`
hands over (inside its transaction), never from a configuration file."""

from __future__ import annotations

from alembic import context

from kalinsky_adapters.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Kalinsky's migrations run through kalinsky_adapters.store.migrate, on an open connection")

context.configure(connection=connection, target_metadata=metadata, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
