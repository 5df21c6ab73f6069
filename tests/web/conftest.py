"""Web tests run the app in-process (Litestar's test client) over real ffmpeg and a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient
from webapp import settings_for

from kalinsky_web.app import create_app


@pytest.fixture
def client(tmp_path: Path, sources_dir: Path) -> Iterator[TestClient]:
    with TestClient(app=create_app(settings_for(tmp_path))) as test_client:
        yield test_client


