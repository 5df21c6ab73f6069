"""A database that cannot be written (full, or locked by another process) never strands a record: a new assembly
gets a clear 503, and a render that cannot record its end keeps trying until it can."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from media import frame_indices
from webapp import settings_for, wait_done

from kalinsky_adapters.container import resolve
from kalinsky_adapters.store.repo import SqlRepo
from kalinsky_web.app import create_app


def app_repo(client: TestClient) -> SqlRepo:
    repo = client.blocking_portal.call(resolve, client.app.state.container.repo).inner  # under the events
    assert isinstance(repo, SqlRepo) and repo.sqlite
    return repo


def on_app_connection(client: TestClient, sql: str) -> Any:
    """Run a statement on the app's own database connection (PRAGMAs such as max_page_count are per connection:
    on SQLite the repository keeps one)."""
    repo = app_repo(client)

    async def run() -> Any:
        async with repo.engine.connect() as connection:
            return (await connection.exec_driver_sql(sql)).fetchone()

    return client.blocking_portal.call(run)


def fill_the_database(client: TestClient) -> None:
    """SQLite's max_page_count at the file's current size: nothing that needs a new page can be stored."""
    pages = on_app_connection(client, "PRAGMA page_count")[0]
    assert on_app_connection(client, f"PRAGMA max_page_count = {pages}")[0] == pages


def test_a_full_database_answers_503_and_stores_nothing(client: TestClient) -> None:
    before = client.get("/api/v1/assemblies").json()
    fill_the_database(client)
    clips = [{"source": "a.mp4", "start": 0.1 * (n % 9), "end": 1.0} for n in range(300)]
    response = client.post("/api/v1/assemblies", json={"name": "x" * 200, "clips": clips})
    assert response.status_code == 503, response.text
    assert "database or disk is full" in response.json()["detail"]
    assert client.get("/api/v1/assemblies").json() == before

    on_app_connection(client, "PRAGMA max_page_count = 1073741823")  # space again
    again = client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": 0.5}]})
    assert again.status_code == 202, again.text
    assert wait_done(client, again.json()["id"])["status"] == "done"


class LockedDatabase:
    """Another process holding the database's write lock (a `kalinsky` command, a backup): writes wait for it."""

    def __init__(self, db_path: Path) -> None:
        self.connection = sqlite3.connect(db_path, isolation_level=None)

    def __enter__(self) -> LockedDatabase:
        self.connection.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *_exc: object) -> None:
        self.connection.execute("ROLLBACK")
        self.connection.close()


def wait_for(predicate: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_render_whose_end_cannot_be_recorded_is_recorded_once_the_database_works(
    client: TestClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    on_app_connection(client, "PRAGMA busy_timeout = 50")  # the app's 5 s wait for a lock, shortened for the test
    created = client.post("/api/v1/assemblies", json={"preview": False, "clips": [{"source": "a.mp4", "end": 2}]})
    assert created.status_code == 202, created.text
    assembly_id = created.json()["id"]
    result = tmp_path / "output" / assembly_id / "result.mp4"
    wait_for(lambda: client.get(f"/api/v1/assemblies/{assembly_id}").json()["worker"])  # taken before the lock
    with caplog.at_level(logging.WARNING, "kalinsky_core.services"), LockedDatabase(tmp_path / "data" / "kalinsky.db"):
        wait_for(result.exists)  # rendered, but its end cannot be written
        wait_for(lambda: "cannot be recorded yet, attempt 3" in caplog.text)
        assert client.get(f"/api/v1/assemblies/{assembly_id}").json()["status"] == "processing"
    done = wait_done(client, assembly_id, timeout=30)
    assert done["status"] == "done", done["error"]
    assert frame_indices(result) == list(range(60))
    assert "database is locked" in caplog.text


def test_a_render_stopped_while_its_end_waits_for_the_database_is_rendered_at_the_next_start(
    tmp_path: Path, sources_dir: Path
) -> None:
    settings = settings_for(tmp_path)
    with contextlib.ExitStack() as server:
        client = server.enter_context(TestClient(app=create_app(settings)))
        on_app_connection(client, "PRAGMA busy_timeout = 50")
        created = client.post("/api/v1/assemblies", json={"clips": [{"source": "a.mp4", "end": 1}]}).json()
        result = tmp_path / "output" / created["id"] / "result.mp4"
        wait_for(lambda: client.get(f"/api/v1/assemblies/{created['id']}").json()["worker"])
        with LockedDatabase(settings.db_path):
            wait_for(result.exists)
            time.sleep(1.0)  # a few attempts to record the end
            assert client.get(f"/api/v1/assemblies/{created['id']}").json()["status"] == "processing"
            server.close()  # the server stops while the end is still unrecorded
    with TestClient(app=create_app(settings)) as client:
        assert client.get(f"/api/v1/assemblies/{created['id']}").json()["status"] in {"processing", "done"}
        done = wait_done(client, created["id"])
        assert done["status"] == "done", done["error"]
        assert frame_indices(result) == list(range(30))
        assert [a["status"] for a in client.get("/api/v1/assemblies").json()] == ["done"]
