"""Preview proxies in the service: made in the background after a reindex, read by previews, optional."""

from __future__ import annotations

import time
from pathlib import Path

from litestar.testing import TestClient
from media import frame_indices, probe, stream
from webapp import settings_for, wait_done

from kalinsky_web.app import create_app


def proxies_in(folder: Path, count: int, timeout: float = 60) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        made = sorted(folder.glob("*.mp4")) if folder.is_dir() else []
        if len(made) >= count:
            return made
        time.sleep(0.05)
    raise TimeoutError(f"{count} proxies in {folder}")


def test_a_reindex_makes_proxies_that_previews_then_read(tmp_path: Path, sources_dir: Path) -> None:
    settings = settings_for(tmp_path, preview_height=120, auto_reindex=False)
    with TestClient(app=create_app(settings), base_url="http://kalinsky.localhost") as client:
        assert client.post("/api/v1/sources/reindex").status_code == 200
        # a.mp4 (320x240) gets one; b.mov (160x120) is no taller than a preview
        (proxy,) = proxies_in(tmp_path / "data" / "proxies", 1)
        assert stream(probe(proxy), "video")["height"] == 120
        assert frame_indices(proxy) == frame_indices(sources_dir / "a.mp4")
        created = client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "start": 0.5, "end": 1.5},
                                                                    {"source": 2, "start": 0, "end": 1}]})
        done = wait_done(client, created.json()["id"])
        assert done["status"] == "done", done["error"]
        frames = frame_indices(tmp_path / "output" / done["id"] / "result.mp4")
        # a.mp4's frames 15..44 from its proxy, then b.mov's first second (25 fps) shown at 30 fps
        assert frames[:30] == list(range(15, 45))
        assert len(frames) == 60 and frames[30:] == sorted(frames[30:]) and set(frames[30:]) == set(range(500, 525))


def test_proxies_can_be_turned_off(tmp_path: Path, sources_dir: Path) -> None:
    settings = settings_for(tmp_path, preview_height=120, preview_proxies=False)
    with TestClient(app=create_app(settings), base_url="http://kalinsky.localhost") as client:
        assert client.post("/api/v1/sources/reindex").status_code == 200
        created = client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": 1}]}).json()
        assert wait_done(client, created["id"])["status"] == "done"
    assert not (tmp_path / "data" / "proxies").exists()
