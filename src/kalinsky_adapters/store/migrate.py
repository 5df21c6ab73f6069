"""Bringing a database's schema to the latest revision with the migrations shipped in this package (Alembic, run
on an open connection: no configuration file). Databases of a Kalinsky from before migrations are recognised,
given what they lack of the first schema, stamped at it and upgraded from there."""

from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from kalinsky_adapters.store import first_schema

MIGRATIONS = Path(__file__).with_name("migrations")

#: The PostgreSQL advisory lock held while one process upgrades the schema (others wait, then find it done).
ADVISORY_LOCK = 0x6B616C73  # "kals"


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@functools.cache
def head() -> str:
    """The latest revision."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def current(connection: sa.Connection) -> str | None:
    """The revision the database is at (None: unversioned, or empty)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: sa.Connection) -> None:
    """Bring the schema to the latest revision, inside the connection's transaction (which the caller holds the
    database's write lock, or the advisory lock, in)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(ADVISORY_LOCK)))
    if current(connection) == head():
        return
    config = _config(connection)
    if first_schema.is_unversioned(connection):
        first_schema.bring_up(connection)
        command.stamp(config, first_schema.REVISION)
    command.upgrade(config, "head")
