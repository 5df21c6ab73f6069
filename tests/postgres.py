"""A throwaway PostgreSQL server for the tests: started once per session in a temporary folder, on a free loopback
port, with its unix socket in that folder; each test takes a fresh database of its own."""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from server import free_port

#: The database user the tests connect as (the server's superuser, trusted on loopback and the socket).
USER = "postgres"
INSTALL = "install Debian's postgresql package (apt-get install postgresql) or put pg_ctl on PATH"


def binaries() -> Path:
    """The folder of initdb and pg_ctl: from PATH, else Debian's /usr/lib/postgresql/NN/bin (newest first)."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
        reverse=True,
    )
    if not debian:
        pytest.fail(f"PostgreSQL is needed for these tests and was not found: {INSTALL}", pytrace=False)
    return debian[0].parent


class PostgresServer:
    """`initdb` and `pg_ctl start` in a temporary folder; as root, run as the `postgres` system user."""

    def __init__(self) -> None:
        self.bin = binaries()
        self.as_root = os.geteuid() == 0
        self.folder = Path(tempfile.mkdtemp(prefix="kalinsky-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self._numbers = itertools.count(1)
        if self.as_root:
            try:
                account = pwd.getpwnam(USER)
            except KeyError:
                pytest.fail(f"running as root, PostgreSQL needs the {USER!r} system user: {INSTALL}", pytrace=False)
            os.chown(self.folder, account.pw_uid, account.pw_gid)

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        program = [str(self.bin / command[0]), *command[1:]]
        if self.as_root:
            program = ["runuser", "-u", USER, "--", *program]
        done = subprocess.run(program, capture_output=True, text=True, timeout=120, cwd=self.folder)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stdout}{done.stderr}")
        return done

    def start(self) -> PostgresServer:
        self._run("initdb", "-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8", "--no-sync")
        # Durability is not what these tests look at: no fsync, so that databases come and go quickly.
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "server.log"), "-w",
                  "start")
        deadline = time.monotonic() + 30
        while True:
            try:
                with self.admin():
                    return self
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str) -> str:
        """The URL a user would give (KALINSKY_DATABASE_URL)."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    @contextlib.contextmanager
    def admin(self) -> Iterator[psycopg.Connection]:
        with psycopg.connect(host="127.0.0.1", port=self.port, user=USER, dbname="postgres", autocommit=True,
                             connect_timeout=5) as connection:
            yield connection

    def create_database(self) -> str:
        """A fresh, empty database; its name."""
        name = f"kalinsky_test_{next(self._numbers)}"
        with self.admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """A fresh database for the block; its URL."""
        name = self.create_database()
        try:
            yield self.url(name)
        finally:
            self.drop_database(name)
