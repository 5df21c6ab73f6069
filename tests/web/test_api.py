"""The HTTP API through Litestar's test client, over real ffmpeg and a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from litestar.testing import TestClient
from media import frame_indices
from webapp import settings_for, wait_done

from kalinsky_web.app import create_app


def test_sources_before_any_index_is_409_with_guidance(tmp_path: Path, sources_dir: Path) -> None:
    with TestClient(app=create_app(settings_for(tmp_path, auto_reindex=False))) as client:
        response = client.get("/api/v1/sources")
        assert response.status_code == 409
        assert response.json() == {"status_code": 409, "detail": "No index. Call POST /sources/reindex first."}
        assert client.post("/api/v1/assemblies", json={"clips": [{"source": 1}]}).status_code == 409


def test_reindex_reports_count_and_skipped_files(client: TestClient) -> None:
    response = client.post("/api/v1/sources/reindex")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["count"]) == ("ok", 2)
    assert [s["filename"] for s in body["skipped"]] == ["broken.mp4"] and body["skipped"][0]["reason"]
    sources = client.get("/api/v1/sources").json()
    assert [(s["index"], s["filename"], s["resolution"], s["codec"]) for s in sources] == [
        (1, "a.mp4", "320x240", "h264"),
        (2, "b.mov", "160x120", "h264"),
    ]
    assert {"duration", "file_size"} <= sources[0].keys()


def test_create_render_list_and_download(client: TestClient, tmp_path: Path) -> None:
    response = client.post(
        "/api/v1/assemblies",
        json={"name": "first", "preview": False, "clips": [{"source": 2, "start": 1, "end": 2}, {"source": "a.mp4"}]},
    )
    assert response.status_code == 202
    created = response.json()
    assert created["id"] == "asm_001" and created["status"] == "processing" and created["output_url"] is None
    assert [(c["pos"], c["filename"], c["start"], c["end"], c["duration"]) for c in created["clips"]] == [
        (1, "b.mov", 1.0, 2.0, 1.0),
        (2, "a.mp4", 0.0, 4.0, 4.0),
    ]
    done = wait_done(client, "asm_001")
    assert done["status"] == "done" and done["progress"] == 1.0 and done["error"] is None
    assert done["output_url"] == "/output/asm_001/result.mp4"
    assert done["duration"] == pytest.approx(5.0, abs=0.05)

    second = client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": 1}]}).json()
    assert second["id"] == "asm_002" and second["preview"] is True and second["name"] is None
    assert [a["id"] for a in client.get("/api/v1/assemblies").json()] == ["asm_002", "asm_001"]
    wait_done(client, "asm_002")

    whole = client.get(done["output_url"])
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.content == (tmp_path / "output" / "asm_001" / "result.mp4").read_bytes()
    part = client.get(done["output_url"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    assert frame_indices(tmp_path / "output" / "asm_001" / "result.mp4")[:25] == list(range(525, 550))


@pytest.mark.parametrize(
    ("body", "detail", "clip"),
    [
        ({"clips": [{"source": 99}]}, "Source 99 not found", 1),
        ({"clips": [{"source": 1}, {"source": 1, "start": 2, "end": 1}]}, "start >= end for clip 2", 2),
        ({"clips": [{"source": 1, "start": 0, "end": 99}]}, "end 99 exceeds duration 4 of a.mp4 for clip 1", 1),
        ({"clips": [{"source": 1, "start": -1}]}, "start < 0 for clip 1", 1),
        ({"clips": []}, "clips must not be empty", None),
        ({"clips": [{"source": 1}, {"source": "../sources/a.mp4"}]}, "Source ../sources/a.mp4 not found", 2),
        ({"clips": [{"source": "broken.mp4"}]}, "Source broken.mp4 not found", 1),
    ],
)
def test_invalid_assemblies_are_422_with_the_reason_and_store_nothing(client: TestClient, body: dict,
                                                                     detail: str, clip: int | None) -> None:
    response = client.post("/api/v1/assemblies", json=body)
    assert response.status_code == 422
    # the seed's body, plus the position of the clip at fault (when one is) as data
    assert response.json() == {"status_code": 422, "detail": detail, **({"clip": clip} if clip else {})}
    assert client.get("/api/v1/assemblies").json() == []


@pytest.mark.parametrize(
    "raw",
    [b"{", b"[]", b'{"clips": "a.mp4"}', b'{"clips": [{"source": 1.5}]}', b'{"clips": [{"source": 1}], "x": 1}',
     b'{"clips": [{"source": 1, "start": NaN}]}', b'{"clips": [{"source": 1, "end": 1e400}]}',
     b'{"clips": [{"source": 1, "preview": "yes"}]}'],
)
def test_malformed_bodies_are_client_errors(client: TestClient, raw: bytes) -> None:
    response = client.post("/api/v1/assemblies", content=raw, headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500
    assert response.json()["detail"]
    assert client.get("/api/v1/assemblies").json() == []


def test_unknown_assembly_is_404(client: TestClient) -> None:
    response = client.get("/api/v1/assemblies/asm_404")
    assert response.status_code == 404
    assert response.json() == {"status_code": 404, "detail": "Assembly not found"}


def test_output_serves_only_files_inside_the_output_folder(client: TestClient, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("no")
    for path in ("/output/../secret.txt", "/output/%2e%2e/secret.txt", "/output/asm_404/result.mp4", "/output/"):
        assert client.get(path).status_code == 404, path


def test_cors_allows_any_origin(client: TestClient) -> None:
    response = client.get("/api/v1/assemblies", headers={"Origin": "http://elsewhere.example"})
    assert response.headers["access-control-allow-origin"] == "*"


def test_openapi_documents_the_api(client: TestClient) -> None:
    schema = client.get("/api/schema/openapi.json").json()
    assert {"/api/v1/sources", "/api/v1/sources/reindex", "/api/v1/assemblies", "/api/v1/assemblies/{assembly_id}"} \
        <= schema["paths"].keys()
    assert client.get("/api/schema/swagger").status_code == 200


def test_records_survive_a_restart_and_unfinished_ones_render_again(tmp_path: Path, sources_dir: Path) -> None:
    settings = settings_for(tmp_path, max_renders=1)
    with TestClient(app=create_app(settings), base_url="http://kalinsky.localhost") as client:
        created = client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": 1}]}).json()
        done = wait_done(client, created["id"])
    # simulate a stop mid-render: the record is left processing and the result was never published
    with sqlite3.connect(settings.db_path) as db:
        db.execute("UPDATE assemblies SET status = 'processing', output_url = NULL, duration = NULL")
    (tmp_path / "output" / created["id"] / "result.mp4").unlink()
    with TestClient(app=create_app(settings), base_url="http://kalinsky.localhost") as client:
        again = wait_done(client, created["id"])
        assert again["status"] == "done" and again["duration"] == pytest.approx(done["duration"])
        assert (tmp_path / "output" / created["id"] / "result.mp4").is_file()
        assert client.post("/api/v1/assemblies", json={"clips": [{"source": 1}]}).json()["id"] == "asm_002"
