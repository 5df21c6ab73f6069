"""GET /api/v1/sources/{index}/filmstrip, /waveform and /timeline: what the player's trim bar shows of a source."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient
from media import FFMPEG, FFPROBE, frame_indices, make_video, probe, stream
from webapp import settings_for

from kalinsky_adapters import process
from kalinsky_web.app import create_app


def index_of(client: TestClient, filename: str) -> int:
    return next(source["index"] for source in client.get("/api/v1/sources").json() if source["filename"] == filename)


@pytest.fixture
def client(tmp_path: Path, sources_dir: Path) -> Iterator[TestClient]:
    # a.mp4: 4 s 320x240 30 fps with a 440 Hz tone, keyframe every second; b.mov: 3 s 160x120 25 fps, no sound
    make_video(sources_dir / "hush.mp4", duration=3.0, extra=("-af", "volume=enable='between(t,1,2)':volume=0"))
    make_video(sources_dir / "phone.mp4", duration=1.0, size="120x160", rotated=True, audio=False)
    with TestClient(app=create_app(settings_for(tmp_path, auto_reindex=False))) as test_client:
        test_client.post("/api/v1/sources/reindex")
        yield test_client


@pytest.fixture
def ffmpeg_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    runs: list[list[str]] = []
    real = process.run

    async def counted(argv, *args, **kwargs):  # type: ignore[no-untyped-def]
        runs.append(list(argv))
        return await real(argv, *args, **kwargs)

    monkeypatch.setattr(process, "run", counted)
    return runs


def tiles_of(sprite: Path, count: int, width: int, height: int, tmp_path: Path) -> list[int]:
    """The source frame each tile of a sprite shows, read from its stripes."""
    frames = []
    for i in range(count):
        tile = tmp_path / f"tile{i}.png"
        subprocess.run([FFMPEG, "-v", "error", "-y", "-i", str(sprite), "-vf", f"crop={width}:{height}:{i * width}:0",
                        str(tile)], check=True)
        frames += frame_indices(tile)
    return frames


def keyframes_of(path: Path) -> list[int]:
    frames = json.loads(subprocess.run(
        [FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=key_frame", "-of", "json",
         str(path)], check=True, capture_output=True, text=True,
    ).stdout)["frames"]
    return [at for at, frame in enumerate(frames) if frame["key_frame"] == 1]


def test_the_timeline_gives_keyframes_copy_ends_and_the_filmstrip_layout(client: TestClient, sources_dir: Path) -> (
    None
):
    response = client.get(f"/api/v1/sources/{index_of(client, 'a.mp4')}/timeline")
    assert response.status_code == 200
    timeline = response.json()
    assert timeline["frame_rate"] == "30" and timeline["frame_count"] == 120
    assert timeline["keyframes"] == keyframes_of(sources_dir / "a.mp4")
    assert timeline["copy_ends"] and timeline["copy_ends"] == sorted(timeline["copy_ends"])
    assert timeline["copyable"] is True
    strip = timeline["filmstrip"]
    assert (strip["count"], strip["tile_width"], strip["tile_height"]) == (20, 214, 160)
    assert strip["frames"] == [3 + 6 * i for i in range(20)]
    assert strip["times"] == pytest.approx([frame / 30 for frame in strip["frames"]], abs=1e-6)
    assert "keyframes" not in client.get("/api/v1/sources").json()[0], "the source list stays small"


def test_the_filmstrip_is_a_sprite_of_the_evenly_spaced_frames(
    client: TestClient, tmp_path: Path, ffmpeg_runs: list[list[str]]
) -> None:
    index = index_of(client, "a.mp4")
    response = client.get(f"/api/v1/sources/{index}/filmstrip")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    sprite = tmp_path / "sprite.jpg"
    sprite.write_bytes(response.content)
    picture = stream(probe(sprite), "video")
    assert (picture["codec_name"], picture["width"], picture["height"]) == ("mjpeg", 20 * 214, 160)
    assert tiles_of(sprite, 20, 214, 160, tmp_path) == [3 + 6 * i for i in range(20)]

    made = len(ffmpeg_runs)
    assert made > 0
    again = client.get(f"/api/v1/sources/{index}/filmstrip")
    assert again.content == response.content
    assert len(ffmpeg_runs) == made, "the second request runs no ffmpeg"
    assert len(list((tmp_path / "data" / "timeline").glob("*.filmstrip.jpg"))) == 1


def test_the_filmstrip_of_a_rotated_source_has_upright_tiles(client: TestClient, tmp_path: Path) -> None:
    index = index_of(client, "phone.mp4")
    strip = client.get(f"/api/v1/sources/{index}/timeline").json()["filmstrip"]
    assert (strip["count"], strip["tile_width"], strip["tile_height"]) == (20, 120, 160)  # 120x160 upright
    sprite = tmp_path / "phone.jpg"
    sprite.write_bytes(client.get(f"/api/v1/sources/{index}/filmstrip").content)
    picture = stream(probe(sprite), "video")
    assert (picture["width"], picture["height"]) == (20 * 120, 160)
    assert tiles_of(sprite, 20, 120, 160, tmp_path) == strip["frames"]  # stripes read upright, frame by frame


def test_the_waveform_is_loud_where_the_tone_is_and_silent_where_it_is_muted(
    client: TestClient, ffmpeg_runs: list[list[str]]
) -> None:
    url = f"/api/v1/sources/{index_of(client, 'hush.mp4')}/waveform"
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    waveform = response.json()
    rate, peaks = waveform["rate"], waveform["peaks"]
    assert rate == pytest.approx(100)
    assert len(peaks) == pytest.approx(3 * rate, abs=8)  # 3 s, give or take the encoder's padding
    assert all(0 <= peak <= 1 for peak in peaks)
    loud = peaks[int(0.2 * rate) : int(0.8 * rate)] + peaks[int(2.2 * rate) : int(2.8 * rate)]
    silent = peaks[int(1.2 * rate) : int(1.8 * rate)]
    assert min(loud) == pytest.approx(0.125, abs=0.01), "lavfi's sine is at 1/8 of full scale"
    assert max(silent) < 0.01

    made = len(ffmpeg_runs)
    assert client.get(url).json() == waveform
    assert len(ffmpeg_runs) == made == 1, "made once, with one ffmpeg"


def test_a_source_without_sound_has_no_peaks(client: TestClient, ffmpeg_runs: list[list[str]]) -> None:
    response = client.get(f"/api/v1/sources/{index_of(client, 'b.mov')}/waveform")
    assert response.status_code == 200
    assert response.json()["peaks"] == []
    assert ffmpeg_runs == []


@pytest.mark.parametrize("kind", ["filmstrip", "waveform", "timeline"])
def test_an_unknown_index_is_404_with_the_seed_text(client: TestClient, kind: str) -> None:
    response = client.get(f"/api/v1/sources/99/{kind}")
    assert response.status_code == 404
    assert response.json() == {"status_code": 404, "detail": "Source 99 not found"}


@pytest.mark.parametrize("kind", ["filmstrip", "waveform", "timeline"])
def test_an_indexed_source_whose_file_is_gone_is_404(client: TestClient, sources_dir: Path, kind: str) -> None:
    index = index_of(client, "a.mp4")
    (sources_dir / "a.mp4").unlink()
    response = client.get(f"/api/v1/sources/{index}/{kind}")
    assert response.status_code == 404
    assert response.json() == {"status_code": 404, "detail": f"Source {index} not found"}


@pytest.mark.parametrize("kind", ["filmstrip", "waveform", "timeline"])
def test_before_any_index_it_is_409(tmp_path: Path, sources_dir: Path, kind: str) -> None:
    with TestClient(app=create_app(settings_for(tmp_path, auto_reindex=False))) as client:
        response = client.get(f"/api/v1/sources/1/{kind}")
    assert response.status_code == 409
    assert response.json() == {"status_code": 409, "detail": "No index. Call POST /sources/reindex first."}


@pytest.mark.parametrize("kind", ["filmstrip", "waveform"])
def test_a_source_that_became_unreadable_is_422_without_a_path(
    client: TestClient, sources_dir: Path, tmp_path: Path, kind: str
) -> None:
    index = index_of(client, "a.mp4")
    (sources_dir / "a.mp4").write_bytes(b"no longer a video" * 100)
    response = client.get(f"/api/v1/sources/{index}/{kind}")
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith(f"No {kind} for a.mp4: ")
    assert str(tmp_path) not in detail and "file:" not in detail
    assert not list((tmp_path / "data" / "timeline").glob(f"*{kind}*")), "nothing half made is kept"
