from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from media import make_video
from postgres import PostgresServer


@pytest.fixture(scope="session")
def media_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated sources, made once per run: copy them where a test needs them (`sources_dir`)."""
    folder = tmp_path_factory.mktemp("library")
    make_video(folder / "a.mp4", duration=4.0)  # 320x240, 30 fps, tone, keyframe every second
    make_video(folder / "b.mov", duration=3.0, size="160x120", fps="25", audio=False, offset=500)
    (folder / "broken.mp4").write_bytes(b"this is not a video")
    (folder / "notes.txt").write_text("ignored: not a video extension")
    return folder


@pytest.fixture
def sources_dir(tmp_path: Path, media_library: Path) -> Path:
    folder = tmp_path / "sources"
    shutil.copytree(media_library, folder)
    return folder


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session (started on first use, stopped at the end)."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, empty database of the session's PostgreSQL, dropped after the test."""
    with postgres_server.database() as url:
        yield url
