"""The source JSON tells what to know before cutting (qc) and where the proxy stands; /media serves what the
browser plays: the file itself, or the proxy of a source the browser cannot play."""

from __future__ import annotations

import time
from pathlib import Path

from litestar.testing import TestClient
from media import frame_indices, make_video, probe, stream
from webapp import settings_for

from kalinsky_web.app import create_app


def wait_for_proxy(client: TestClient, index: int, timeout: float = 60) -> list[dict]:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        source = client.get("/api/v1/sources").json()[index - 1]
        seen.append(source["proxy"])
        if source["proxy"]["state"] == "ready":
            return seen
        time.sleep(0.05)
    raise TimeoutError(f"proxy of source {index}: {seen[-1]}")


def test_sources_report_qc_and_hevc_plays_through_its_proxy(tmp_path: Path, sources_dir: Path) -> None:
    make_video(sources_dir / "c.mov", duration=1.0, codec="libx265", offset=900,
               extra=("-preset", "ultrafast", "-tag:v", "hvc1", "-x265-params", "log-level=error:keyint=15"))
    with TestClient(app=create_app(settings_for(tmp_path, auto_reindex=False))) as client:
        assert client.post("/api/v1/sources/reindex").status_code == 200
        a, b, c = client.get("/api/v1/sources").json()
        assert a["qc"] == {"audio": "ok", "bit_depth": 8, "browser_plays": True, "clean_render": "smart",
                           "hdr": "sdr", "keyframe_interval": 1.0, "long_gop": False, "pixel_aspect": "1:1",
                           "rotation": 0, "variable_frame_rate": False}
        assert list(a["qc"]) == sorted(a["qc"]) and list(a["coding"]) == sorted(a["coding"])
        assert a["coding"]["sample_aspect"] == "1:1"
        assert a["proxy"] == {"progress": 0.0, "state": "none"}  # no taller than a preview (720), plays as it is
        assert list(a) == sorted(a)  # fields in alphabetical order, as ever
        assert (b["qc"]["audio"], b["qc"]["browser_plays"]) == ("missing", True)
        assert (c["codec"], c["qc"]["browser_plays"], c["qc"]["clean_render"], c["qc"]["keyframe_interval"]) == (
            "hevc", False, "smart", 1.0)  # an open GOP: a copy may start at frame 0 only
        assert c["proxy"]["state"] in ("waiting", "making", "ready")
        states = wait_for_proxy(client, 3)
        assert states[-1] == {"progress": 1.0, "state": "ready"}

        served = client.get("/api/v1/sources/3/media")
        assert served.status_code == 200 and served.headers["content-type"] == "video/mp4"
        copy = tmp_path / "served.mp4"
        copy.write_bytes(served.content)
        report = probe(copy)
        assert (stream(report, "video")["codec_name"], stream(report, "audio")["codec_name"]) == ("h264", "aac")
        assert frame_indices(copy) == frame_indices(sources_dir / "c.mov") == list(range(900, 930))
        ranged = client.get("/api/v1/sources/3/media", headers={"Range": "bytes=0-99"})
        assert ranged.status_code == 206 and len(ranged.content) == 100
        # a source the browser plays is served as it is
        assert client.get("/api/v1/sources/1/media").content == (sources_dir / "a.mp4").read_bytes()
