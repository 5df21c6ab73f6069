"""Database URLs: what users may give, and the SQLAlchemy URL (async driver) each one means."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

#: Schemes a user may give, and the dialect+driver each one is opened with.
_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def normalise(url: str) -> str:
    """The SQLAlchemy URL of a `postgresql://`, `postgres://`, `postgresql+psycopg://` or `sqlite:///PATH` URL;
    ValueError for anything else."""
    scheme, separator, rest = url.strip().partition("://")
    driver = _DRIVERS.get(scheme.lower()) if separator else None
    if driver is None:
        raise ValueError(f"must be a postgresql://user:password@host:port/database URL, got {scheme or url!r}")
    normalised = f"{driver}://{rest}"
    try:
        parsed = sa.make_url(normalised)
    except sa.exc.ArgumentError as error:
        raise ValueError(f"is not a database URL ({error})") from error
    if not parsed.database:
        raise ValueError("names no database")
    return normalised


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of the SQLite file at `path`."""
    return sa.URL.create("sqlite+aiosqlite", database=str(path)).render_as_string(hide_password=False)


def target(value: str) -> str:
    """The SQLAlchemy URL of what a command line names: a database URL (as `normalise` takes), or a SQLite file's
    path."""
    return normalise(value) if "://" in value else sqlite_url(Path(value))


def shown(url: str) -> str:
    """`url` with its password hidden, for messages."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return str(parsed.database)
    return parsed.render_as_string(hide_password=True)
