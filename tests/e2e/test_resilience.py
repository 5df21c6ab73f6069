"""The real server under stress and crashes: concurrent requests, kill -9 mid-render, stop while rendering; those
on the SQLite file and on PostgreSQL alike."""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import pytest
from media import frame_indices
from server import Server, http_json, wait_for_assembly


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> dict[str, str]:
    """The server's environment for its records: the default SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return {}
    return {"KALINSKY_DATABASE_URL": request.getfixturevalue("postgres_url")}


def stored_where_asked(workdir: Path, database: dict[str, str]) -> None:
    """The records went to the database the server was given, and only there."""
    assert (workdir / "data" / "kalinsky.db").exists() is not bool(database)


LONG = {"preview": True, "clips": [{"source": "a.mp4"}] * 40}  # some seconds of rendering here


def wait_progress(base: str, assembly_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while http_json("GET", f"{base}/api/v1/assemblies/{assembly_id}")[1]["progress"] <= 0:
        assert time.monotonic() < deadline, "render did not start"
        time.sleep(0.05)


def test_a_crash_mid_render_is_rendered_again_from_scratch(
    tmp_path: Path, sources_dir: Path, database: dict[str, str]
) -> None:
    env = {**database, "KALINSKY_LEASE_SECONDS": "5"}  # on PostgreSQL the queue takes a dead job back after it
    server = Server(tmp_path, env=env)
    try:
        clips = [{"source": "a.mp4", "start": 0.5, "end": 3.5}] * 3 + [{"source": "a.mp4"}] * 9
        _, created = http_json("POST", f"{server.url}/api/v1/assemblies", {"preview": False, "clips": clips})
        wait_progress(server.url, created["id"])
    finally:
        server.kill()  # the server and its ffmpegs, mid-render
    assert (tmp_path / "output" / created["id"] / "segments").is_dir()  # partial files were left

    server = Server(tmp_path, env=env)
    try:
        done = wait_for_assembly(server.url, created["id"])
        assert done["status"] == "done", done["error"]
        result = tmp_path / "output" / created["id"] / "result.mp4"
        assert frame_indices(result) == list(range(15, 105)) * 3 + list(range(120)) * 9
        assert not (tmp_path / "output" / created["id"] / "segments").exists()
        _, second = http_json("POST", f"{server.url}/api/v1/assemblies", {"clips": [{"source": 1}]})
        assert second["id"] != created["id"]
        stored_where_asked(tmp_path, database)
    finally:
        server.stop()


def test_a_hundred_concurrent_posts_are_all_accepted_while_the_api_stays_responsive(
    tmp_path: Path, sources_dir: Path, database: dict[str, str]
) -> None:
    server = Server(tmp_path, env=database)
    try:
        def post(_: int) -> tuple[int, str, float]:
            started = time.monotonic()
            status, body = http_json("POST", f"{server.url}/api/v1/assemblies", LONG)
            return status, body["id"], time.monotonic() - started

        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            results = list(pool.map(post, range(100)))
        assert {status for status, _, _ in results} == {202}
        assert sorted(i for _, i, _ in results) == [f"asm_{n:03d}" for n in range(1, 101)]
        assert max(seconds for _, _, seconds in results) < 10  # generous: a blocked event loop takes far longer

        # renders run one at a time; listing stays quick meanwhile
        for _ in range(5):
            started = time.monotonic()
            status, listed = http_json("GET", f"{server.url}/api/v1/assemblies")
            assert status == 200 and len(listed) == 100
            assert time.monotonic() - started < 2
        statuses = [a["status"] for a in listed]
        assert statuses.count("processing") >= 99
        assert sum(1 for a in listed if a["progress"] > 0 and a["status"] == "processing") <= 1

        # a stop while rendering ends within a bounded time and loses nothing
        assert server.stop() < 15
    finally:
        if server.process.poll() is None:
            server.kill()
    server = Server(tmp_path, env={**database, "KALINSKY_AUTO_REINDEX": "false"})
    try:
        _, listed = http_json("GET", f"{server.url}/api/v1/assemblies")
        assert len(listed) == 100 and {a["status"] for a in listed} <= {"processing", "done"}
        with concurrent.futures.ThreadPoolExecutor(10) as pool:  # no need to render them all again here
            list(pool.map(lambda a: http_json("POST", f"{server.url}/api/v1/assemblies/{a['id']}/cancel"), listed))
        stored_where_asked(tmp_path, database)
    finally:
        server.stop()


def test_a_full_disk_fails_the_render_and_leaves_the_service_up(tmp_path: Path, sources_dir: Path) -> None:
    server = Server(tmp_path, max_file_bytes=2_000_000)  # every file stops growing at 2 MB, as on a full disk
    try:
        _, created = http_json("POST", f"{server.url}/api/v1/assemblies",
                               {"preview": False, "clips": [{"source": "a.mp4"}] * 30})  # 2 minutes: over 2 MB
        failed = wait_for_assembly(server.url, created["id"])
        assert failed["status"] == "failed" and "is the disk full?" in failed["error"]
        assert not (tmp_path / "output" / created["id"]).exists()
        _, small = http_json("POST", f"{server.url}/api/v1/assemblies", {"clips": [{"source": "a.mp4", "end": 1}]})
        assert wait_for_assembly(server.url, small["id"])["status"] == "done"  # still serving, still rendering
    finally:
        server.stop()
