"""The records in a SQLite file: the SQL repository (`kalinsky_adapters.store`) on a path, kept under its old
name for the entrypoints and tools that use it.

`python -m kalinsky_adapters.sqlite DB_PATH_OR_URL` creates or upgrades the schema (for deployment entrypoints).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from kalinsky_adapters.store import __main__ as store_command
from kalinsky_adapters.store.repo import SqlRepo, upgrade_schema
from kalinsky_adapters.store.urls import sqlite_url


class SqliteRepo(SqlRepo):
    """The SQL repository on the SQLite file at `db_path`."""

    def __init__(self, db_path: Path, clock: Callable[[], float] = time.time) -> None:
        super().__init__(sqlite_url(Path(db_path)), clock)
        self.db_path = Path(db_path)


async def init_db(db_path: Path) -> None:
    """Create the database file and its schema if missing, or bring its schema to the latest revision."""
    await upgrade_schema(sqlite_url(Path(db_path)))


def main(argv: Sequence[str] = sys.argv[1:]) -> None:
    store_command.main(argv, program="python -m kalinsky_adapters.sqlite")


if __name__ == "__main__":
    main()
