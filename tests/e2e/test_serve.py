"""The real `kalinsky serve` process: a render of three clips from two unlike sources, checked in the file."""

from __future__ import annotations

from pathlib import Path

from media import frame_indices, probe, stream
from server import http_json, running_server, wait_for_assembly


def test_served_render_of_mixed_sources(tmp_path: Path, sources_dir: Path) -> None:
    with running_server(tmp_path) as base:
        status, index = http_json("POST", f"{base}/api/v1/sources/reindex")
        assert status == 200 and index["count"] == 2
        status, created = http_json(
            "POST",
            f"{base}/api/v1/assemblies",
            {
                "name": "mixed",
                "preview": False,
                "clips": [
                    {"source": "a.mp4", "start": 1.0, "end": 2.0},
                    {"source": 2, "start": 0.4, "end": 1.2},  # 160x120, 25 fps, no audio
                    {"source": 1, "end": 0.5},
                ],
            },
        )
        assert status == 202 and created["status"] == "processing"
        done = wait_for_assembly(base, created["id"])
        assert done["status"] == "done", done["error"]

        result = tmp_path / "output" / created["id"] / "result.mp4"
        assert done["output_url"] == f"/output/{created['id']}/result.mp4"
        report = probe(result)
        video, audio = stream(report, "video"), stream(report, "audio")
        assert (video["codec_name"], video["width"], video["height"]) == ("h264", 320, 240)
        assert video["r_frame_rate"] == "30/1"
        assert audio is not None and audio["codec_name"] == "aac"
        # 30 frames + 0.8 s at 25 fps converted to 30 fps (24 frames) + 15 frames
        assert int(video["nb_frames"]) == 30 + 24 + 15
        assert abs(float(video["duration"]) - 69 / 30) < 1e-3
        assert abs(float(audio["duration"]) - float(video["duration"])) <= 1 / 30
        assert abs(done["duration"] - 69 / 30) < 0.05
        frames = frame_indices(result)
        assert frames[:30] == list(range(30, 60))
        assert frames[54:] == list(range(0, 15))
        assert sorted(set(frames[30:54])) == list(range(510, 530))  # b's frames 10..29, some shown twice

