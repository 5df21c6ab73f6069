"""The web side of source identity and folder walls: what a link out of a folder reaches (nothing), what an
unreadable source answers (no 500, no path), how finished results are cached (never a stale file)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient
from webapp import settings_for, wait_done

from kalinsky_web.app import create_app


@pytest.fixture
def client(tmp_path: Path, sources_dir: Path) -> Iterator[TestClient]:
    with TestClient(app=create_app(settings_for(tmp_path, auto_reindex=False))) as test_client:
        assert test_client.post("/api/v1/sources/reindex").json()["count"] == 2
        yield test_client


def index_of(client: TestClient, filename: str) -> int:
    return next(source["index"] for source in client.get("/api/v1/sources").json() if source["filename"] == filename)


@pytest.mark.parametrize("target", ["/etc/passwd", "../data/kalinsky.db"], ids=["system-file", "the-database"])
@pytest.mark.parametrize("kind", ["media", "thumbnail"])
def test_a_source_turned_into_a_link_out_of_the_folder_is_not_served(
    client: TestClient, sources_dir: Path, target: str, kind: str
) -> None:
    index = index_of(client, "b.mov")
    (sources_dir / "b.mov").unlink()
    (sources_dir / "b.mov").symlink_to(target)
    assert (sources_dir / "b.mov").resolve().is_file()
    response = client.get(f"/api/v1/sources/{index}/{kind}")
    assert response.status_code == 404
    assert response.json() == {"status_code": 404, "detail": f"Source {index} not found"}


def test_a_link_out_of_the_folder_is_never_indexed(client: TestClient, sources_dir: Path, tmp_path: Path) -> None:
    outside = shutil.copy(sources_dir / "a.mp4", tmp_path / "outside.mp4")
    (sources_dir / "c.mp4").symlink_to(outside)
    index = client.post("/api/v1/sources/reindex").json()
    assert index["count"] == 2
    assert {"filename": "c.mp4", "reason": "a link to a file outside the sources folder"} in index["skipped"]
    assert str(tmp_path) not in str(index)


def test_the_sources_json_is_unchanged_by_identities(client: TestClient) -> None:
    (source, *_rest) = client.get("/api/v1/sources").json()
    # identities stay inside: the fields are the documented ones (QC and the proxy's state were added later)
    assert sorted(source) == ["codec", "coding", "duration", "file_size", "filename", "frame_count", "frame_rate",
                              "has_audio", "height", "index", "proxy", "qc", "resolution", "width"]


def test_skip_reasons_name_no_path(client: TestClient, tmp_path: Path) -> None:
    index = client.post("/api/v1/sources/reindex").json()
    assert index["skipped"] == [{"filename": "broken.mp4", "reason": "Invalid data found when processing input"}]


def test_the_thumbnail_of_a_source_that_became_unreadable_is_422_without_a_path(
    client: TestClient, sources_dir: Path, tmp_path: Path
) -> None:
    index = index_of(client, "a.mp4")
    (sources_dir / "a.mp4").write_bytes(b"no longer a video")
    response = client.get(f"/api/v1/sources/{index}/thumbnail")
    assert response.status_code == 422
    body = response.json()
    assert body["detail"].startswith("No poster frame for a.mp4: ")
    assert str(tmp_path) not in response.text and "file:" not in response.text


def test_a_render_of_a_source_turned_into_a_link_out_of_the_folder_fails(
    client: TestClient, sources_dir: Path, tmp_path: Path
) -> None:
    outside = shutil.copy(sources_dir / "b.mov", tmp_path / "outside.mov")
    (sources_dir / "b.mov").unlink()
    (sources_dir / "b.mov").symlink_to(outside)
    created = client.post("/api/v1/assemblies", json={"clips": [{"source": "b.mov", "end": 1}], "preview": False})
    done = wait_done(client, created.json()["id"])
    assert done["status"] == "failed" and done["output_url"] is None
    assert done["error"] == (
        "Source b.mov changed since it was indexed (it now leads out of the sources folder): reindex"
    )
    assert not (tmp_path / "output" / done["id"]).exists()


def test_output_revalidates_and_a_new_file_under_a_reused_url_gets_a_new_etag(
    client: TestClient, tmp_path: Path
) -> None:
    result = tmp_path / "output" / "asm_001" / "result.mp4"
    result.parent.mkdir(parents=True)
    result.write_bytes(b"first render")
    first = client.get("/output/asm_001/result.mp4")
    assert first.status_code == 200 and first.content == b"first render"
    assert first.headers["cache-control"] == "no-cache"
    assert "immutable" not in first.headers["cache-control"]
    assert client.get("/output/asm_001/result.mp4", headers={"If-None-Match": first.headers["etag"]}).status_code == 304

    # data/ reset: asm_001 rendered again, same size, same modification time, another file
    stamp = result.stat().st_mtime_ns
    replacement = result.with_name("new.mp4")
    replacement.write_bytes(b"other render")
    os.utime(replacement, ns=(stamp, stamp))
    os.replace(replacement, result)
    again = client.get("/output/asm_001/result.mp4", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 200 and again.content == b"other render"
    assert again.headers["etag"] != first.headers["etag"]


@pytest.mark.parametrize("target", ["/etc/passwd", "../data/kalinsky.db", "../sources/a.mp4"])
def test_output_never_follows_a_link(client: TestClient, tmp_path: Path, target: str) -> None:
    folder = tmp_path / "output" / "asm_007"
    folder.mkdir(parents=True)
    (folder / "result.mp4").symlink_to(target if target.startswith("/") else Path("..", target))
    (tmp_path / "output" / "asm_008").symlink_to(tmp_path / "sources")
    for url in ("/output/asm_007/result.mp4", "/output/asm_008/a.mp4"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"root:" not in response.content and b"SQLite" not in response.content
