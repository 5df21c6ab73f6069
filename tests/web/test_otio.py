"""`GET /api/v1/assemblies/{id}/otio` over a real SQLite file and real probed sources (renders are faked: the
export does not depend on them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import opentimelineio as otio
import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from kalinsky_adapters.container import Container
from kalinsky_adapters.memory import FakeRendering
from kalinsky_adapters.otio import read_timeline
from kalinsky_adapters.settings import Settings
from kalinsky_web.app import create_app

CLIPS = [
    {"source": "a.mp4", "start": 1.0, "end": 2.5},  # 30 fps, audio
    {"source": 2, "start": 0.4, "end": 1.2},  # b.mov: 25 fps, no audio
    {"source": 1, "end": 0.5},
]


def frames(first: int, count: int, rate: float) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(otio.opentime.RationalTime(first, rate), otio.opentime.RationalTime(count, rate))


@pytest.fixture
def client(tmp_path: Path, sources_dir: Path) -> Iterator[TestClient]:
    settings = Settings(sources_dir=sources_dir, output_dir=tmp_path / "output", data_dir=tmp_path / "data",
                        db_path=tmp_path / "data" / "kalinsky.db")
    container = Container(settings=settings)
    container.rendering.override(providers.Object(FakeRendering.create().rendering))
    with TestClient(app=create_app(container=container), base_url="http://kalinsky.localhost") as test_client:
        yield test_client


def test_export_round_trips_clips_and_ranges(client: TestClient, sources_dir: Path) -> None:
    created = client.post("/api/v1/assemblies", json={"name": "mixed", "preview": False, "clips": CLIPS}).json()

    response = client.get(f"/api/v1/assemblies/{created['id']}/otio")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"] == f'attachment; filename="{created["id"]}.otio"'
    timeline = read_timeline(response.text)

    assert timeline.name == "mixed" and timeline.metadata["kalinsky"]["id"] == created["id"]
    video, audio = timeline.video_tracks()[0], timeline.audio_tracks()[0]
    assert [clip.name for clip in video] == ["a.mp4", "b.mov", "a.mp4"]
    assert [clip.source_range for clip in video] == [frames(30, 45, 30), frames(10, 20, 25), frames(0, 15, 30)]
    assert [clip.media_reference.target_url for clip in video] == [
        (sources_dir / name).resolve().as_uri() for name in ("a.mp4", "b.mov", "a.mp4")
    ]
    assert [type(item).__name__ for item in audio] == ["Clip", "Gap", "Clip"]
    assert audio[0].source_range == video[0].source_range
    assert [c.metadata["kalinsky"]["pos"] for c in video] == [1, 2, 3]
    assert timeline.duration().to_seconds() == pytest.approx(1.5 + 0.8 + 0.5)


def test_unknown_assembly_is_404(client: TestClient) -> None:
    response = client.get("/api/v1/assemblies/asm_999/otio")
    assert response.status_code == 404
    assert response.json() == {"status_code": 404, "detail": "Assembly not found"}


def test_a_source_no_longer_indexed_is_422(client: TestClient, sources_dir: Path) -> None:
    created = client.post("/api/v1/assemblies", json={"clips": CLIPS}).json()
    (sources_dir / "b.mov").unlink()
    assert client.post("/api/v1/sources/reindex").json()["count"] == 1

    response = client.get(f"/api/v1/assemblies/{created['id']}/otio")
    assert response.status_code == 422
    assert response.json() == {"status_code": 422, "detail": "Source b.mov not found"}


def test_the_export_is_in_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/api/schema/openapi.json").json()["paths"]
    assert "get" in paths["/api/v1/assemblies/{assembly_id}/otio"]
