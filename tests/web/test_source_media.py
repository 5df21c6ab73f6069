"""GET /api/v1/sources/{index}/media and /thumbnail: the player's file (with Range) and the library's poster."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient
from media import frame_indices, make_video, probe, stream

from kalinsky_adapters.settings import Settings
from kalinsky_adapters.source_files import MissingSourceFile, SourceFolder
from kalinsky_adapters.thumbnails import poster_time
from kalinsky_web.app import create_app


def settings_for(root: Path) -> Settings:
    return Settings(
        sources_dir=root / "sources",
        output_dir=root / "output",
        data_dir=root / "data",
        db_path=root / "data" / "kalinsky.db",
        auto_reindex=False,
        allowed_hosts=("testserver.local",),
    )


@pytest.fixture
def client(tmp_path: Path, sources_dir: Path) -> Iterator[TestClient]:
    with TestClient(app=create_app(settings_for(tmp_path))) as test_client:
        assert test_client.post("/api/v1/sources/reindex").json()["count"] == 2
        yield test_client


def index_of(client: TestClient, filename: str) -> int:
    return next(source["index"] for source in client.get("/api/v1/sources").json() if source["filename"] == filename)


def test_media_is_the_whole_source_file(client: TestClient, sources_dir: Path) -> None:
    response = client.get(f"/api/v1/sources/{index_of(client, 'a.mp4')}/media")
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.content == (sources_dir / "a.mp4").read_bytes()


def test_a_range_request_gets_206_with_exactly_those_bytes(client: TestClient, sources_dir: Path) -> None:
    data = (sources_dir / "b.mov").read_bytes()
    url = f"/api/v1/sources/{index_of(client, 'b.mov')}/media"

    middle = client.get(url, headers={"Range": "bytes=100-1099"})
    assert middle.status_code == 206
    assert middle.headers["content-range"] == f"bytes 100-1099/{len(data)}"
    assert middle.content == data[100:1100]

    tail = client.get(url, headers={"Range": "bytes=-64"})
    assert tail.status_code == 206 and tail.content == data[-64:]

    beyond = client.get(url, headers={"Range": f"bytes={len(data) + 10}-"})
    assert beyond.status_code == 416


def test_media_revalidates_by_etag(client: TestClient) -> None:
    url = f"/api/v1/sources/{index_of(client, 'a.mp4')}/media"
    first = client.get(url)
    assert "no-cache" in first.headers["cache-control"]
    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_thumbnail_is_a_jpeg_of_the_frame_a_tenth_in(client: TestClient, tmp_path: Path) -> None:
    response = client.get(f"/api/v1/sources/{index_of(client, 'a.mp4')}/thumbnail")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content[:3] == b"\xff\xd8\xff"
    poster = tmp_path / "poster.jpg"
    poster.write_bytes(response.content)
    picture = stream(probe(poster), "video")
    assert (picture["codec_name"], picture["width"], picture["height"]) == ("mjpeg", 320, 240)  # never enlarged
    assert frame_indices(poster) == [round(poster_time(4.0) * 30)]  # a.mp4: 4 s at 30 fps, frame-coded


def test_thumbnail_of_a_large_vertical_source_fits_the_box_upright(tmp_path: Path, sources_dir: Path) -> None:
    make_video(sources_dir / "tall.mp4", duration=1.0, size="720x1280", fps="30", audio=False)
    with TestClient(app=create_app(settings_for(tmp_path))) as client:
        client.post("/api/v1/sources/reindex")
        response = client.get(f"/api/v1/sources/{index_of(client, 'tall.mp4')}/thumbnail")
    assert response.status_code == 200
    poster = tmp_path / "tall.jpg"
    poster.write_bytes(response.content)
    picture = stream(probe(poster), "video")
    assert (picture["width"], picture["height"]) == (270, 480)


def test_thumbnails_are_cached_on_disk_and_renewed_when_the_file_changes(
    client: TestClient, tmp_path: Path, sources_dir: Path
) -> None:
    url = f"/api/v1/sources/{index_of(client, 'a.mp4')}/thumbnail"
    first = client.get(url).content
    cached = list((tmp_path / "data" / "thumbnails").glob("*.jpg"))
    assert len(cached) == 1 and cached[0].read_bytes() == first
    stamp = cached[0].stat().st_mtime_ns
    assert client.get(url).content == first
    assert cached[0].stat().st_mtime_ns == stamp, "the second request reads the cache"

    make_video(sources_dir / "a.mp4", duration=4.0, offset=300)  # same name, other pictures
    os.utime(sources_dir / "a.mp4", ns=(stamp + 10**9, stamp + 10**9))
    client.post("/api/v1/sources/reindex")
    renewed = client.get(url).content
    assert renewed != first
    poster = tmp_path / "renewed.jpg"
    poster.write_bytes(renewed)
    assert frame_indices(poster) == [300 + round(poster_time(4.0) * 30)]


@pytest.mark.parametrize("kind", ["media", "thumbnail"])
def test_an_unknown_index_is_404_with_the_seed_text(client: TestClient, kind: str) -> None:
    response = client.get(f"/api/v1/sources/99/{kind}")
    assert response.status_code == 404
    assert response.json() == {"status_code": 404, "detail": "Source 99 not found"}


@pytest.mark.parametrize("kind", ["media", "thumbnail"])
def test_an_indexed_source_whose_file_is_gone_is_404(client: TestClient, sources_dir: Path, kind: str) -> None:
    index = index_of(client, "b.mov")
    (sources_dir / "b.mov").unlink()
    response = client.get(f"/api/v1/sources/{index}/{kind}")
    assert response.status_code == 404
    assert response.json() == {"status_code": 404, "detail": f"Source {index} not found"}


def test_before_any_index_media_is_409(tmp_path: Path, sources_dir: Path) -> None:
    with TestClient(app=create_app(settings_for(tmp_path))) as client:
        response = client.get("/api/v1/sources/1/media")
    assert response.status_code == 409
    assert response.json() == {"status_code": 409, "detail": "No index. Call POST /sources/reindex first."}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/sources/..%2F..%2Fetc%2Fpasswd/media",
        "/api/v1/sources/a.mp4/media",
        "/api/v1/sources/1/media/../../../../etc/passwd",
        "/api/v1/sources/1/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/v1/sources/%2Fetc%2Fpasswd/thumbnail",
        "/api/v1/sources/-1/media",
    ],
)
def test_no_path_reaches_a_file_by_name(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code in {400, 404}
    assert b"root:" not in response.content


def test_the_source_folder_only_finds_plain_names_inside_it(tmp_path: Path, sources_dir: Path) -> None:
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(b"not for the browser")
    (sources_dir / "sub").mkdir()
    (sources_dir / "sub" / "c.mp4").write_bytes(b"x")
    (sources_dir / ".hidden.mp4").write_bytes(b"x")
    folder = SourceFolder(sources_dir)
    assert folder.existing("a.mp4") == sources_dir / "a.mp4"
    for name in ["../secret.mp4", str(outside), "sub/c.mp4", "sub", ".hidden.mp4", "..", ".", "", "a.mp4/",
                 "..\\secret.mp4", "missing.mp4"]:
        with pytest.raises(MissingSourceFile):
            folder.existing(name)
