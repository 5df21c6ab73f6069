"""GET /api/v1/assemblies/{id}/report: the figures of a render whose joins are known, and whether the frames
around them decode."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from litestar.testing import TestClient
from media import FFPROBE, frame_indices
from webapp import wait_done

from kalinsky_adapters.ffmpeg.joiner import MAX_DECODE_ERRORS, decode_errors_around


def test_report_of_a_smart_cut_a_copy_and_a_reencode(client: TestClient, tmp_path: Path) -> None:
    clips = [
        {"source": "a.mp4", "start": 0.5, "end": 3.5},  # frames 15..104: keyframes every 30 frames
        {"source": "a.mp4", "start": 1.0, "end": 2.0},  # frames 30..59: from one keyframe to the next
        {"source": "b.mov", "start": 0.4, "end": 1.2},  # 25 fps, 160x120: encoded whole to 30 fps, 320x240
    ]
    created = client.post("/api/v1/assemblies", json={"preview": False, "clips": clips}).json()
    assert client.get(f"/api/v1/assemblies/{created['id']}/report").status_code == 404  # not yet done
    done = wait_done(client, created["id"])
    assert done["status"] == "done", done["error"]
    response = client.get(f"/api/v1/assemblies/{created['id']}/report")
    assert response.status_code == 200
    report = response.json()
    smart, copied, encoded = report["clips"]
    paths = [clip["video"] for clip in done["clips"]]
    assert [clip["video"] for clip in report["clips"]] == paths
    assert [(c["pos"], c["filename"], c["frames_planned"]) for c in report["clips"]] == [
        (1, "a.mp4", 90), (2, "a.mp4", 30), (3, "b.mov", 24)]
    assert [c["frames_written"] for c in report["clips"]] == [90, 30, 24]
    for clip in report["clips"]:
        assert clip["encoded_at_start"] + clip["frames_copied"] + clip["encoded_at_end"] == clip["frames_planned"]
    # frames 15..29 come before keyframe 30; a copy may only end where the source's frame order allows it
    assert (smart["video"], smart["encoded_at_start"], smart["frames_copied"], smart["encoded_at_end"]) == (
        "smart", 15, 72, 3)
    assert (copied["video"], copied["encoded_at_start"], copied["frames_copied"], copied["encoded_at_end"]) == (
        "smart", 0, 29, 1)
    assert encoded["video"] == "reencode" and (encoded["frames_copied"], encoded["encoded_at_start"]) == (0, 24)

    assert [(j["pos"], j["at"]) for j in report["joins"]] == [(2, 3.0), (3, 4.0)]
    for join in report["joins"]:
        assert join["video_start"] == pytest.approx(join["at"], abs=1e-3)
        assert abs(join["av_offset_ms"]) < 1000 / 30  # within a frame
        assert join["av_offset_ms"] == pytest.approx((join["audio_start"] - join["video_start"]) * 1000, abs=1e-3)
    assert report["largest_offset_ms"] == max(abs(j["av_offset_ms"]) for j in report["joins"])
    assert [j["decode_errors"] for j in report["joins"]] == [[], []]  # both joins decode cleanly
    assert report["joins_with_decode_errors"] == 0
    frames = frame_indices(tmp_path / "output" / created["id"] / "result.mp4")
    assert len(frames) == 144 and frames[90:120] == list(range(30, 60))  # the figures describe this very file

    # a fresh cache served nothing; the steps were timed
    assert [(c["cache"], c["pieces_cached"], c["sound_cached"]) for c in report["clips"]] == [("miss", 0, False)] * 3
    assert [c["pieces"] for c in report["clips"]] == [c["pieces_made"] for c in report["clips"]]
    assert smart["pieces"] >= 3 and encoded["pieces"] == 1  # encoded head, copied run(s), encoded tail
    assert (report["pieces"], report["pieces_cached"], report["result_cached"]) == (
        sum(c["pieces"] for c in report["clips"]), 0, False)
    timings = report["timings"]
    assert list(timings) == ["cut_s", "join_s", "measure_s", "total_s"] and min(timings.values()) > 0
    assert timings["cut_s"] + timings["join_s"] + timings["measure_s"] <= timings["total_s"]
    # the same assembly again: its result comes whole from the cache, and so does every clip
    again = client.post("/api/v1/assemblies", json={"preview": False, "clips": clips}).json()
    assert wait_done(client, again["id"])["status"] == "done"
    second = client.get(f"/api/v1/assemblies/{again['id']}/report").json()
    assert [(c["cache"], c["pieces_made"], c["sound_cached"]) for c in second["clips"]] == [("hit", 0, True)] * 3
    assert (second["pieces_cached"], second["result_cached"]) == (report["pieces"], True)
    assert frame_indices(tmp_path / "output" / again["id"] / "result.mp4") == frames

    assert client.delete(f"/api/v1/assemblies/{created['id']}").status_code == 204
    assert client.get(f"/api/v1/assemblies/{created['id']}/report").json()["detail"] == "Assembly not found"


def test_report_of_unknown_failed_and_deleted_assemblies(client: TestClient, tmp_path: Path) -> None:
    unknown = client.get("/api/v1/assemblies/asm_404/report")
    assert unknown.status_code == 404 and unknown.json()["detail"] == "Assembly not found"
    created = client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": 0.5}]}).json()
    (tmp_path / "sources" / "a.mp4").write_bytes(b"damaged")
    assert wait_done(client, created["id"])["status"] == "failed"
    failed = client.get(f"/api/v1/assemblies/{created['id']}/report")
    assert failed.status_code == 404
    assert failed.json()["detail"] == f"Assembly {created['id']} has no report: it is failed"


def test_openapi_documents_the_cache_figures_and_timings(client: TestClient) -> None:
    schemas = client.get("/api/schema/openapi.json").json()["components"]["schemas"]
    clip, report, timings = schemas["ClipReport"]["properties"], schemas["RenderReport"], schemas["RenderTimings"]
    assert schemas["CacheUse"]["enum"] == ["hit", "partial", "miss", "none"]
    assert clip["cache"] == {"$ref": "#/components/schemas/CacheUse"} and clip["pieces_made"] == {"type": "integer"}
    assert clip["pieces_cached"] == {"oneOf": [{"type": "integer"}, {"type": "null"}]}
    assert clip["sound_cached"] == {"oneOf": [{"type": "boolean"}, {"type": "null"}]}
    assert {"pieces", "pieces_cached", "result_cached", "timings"} <= set(report["required"])
    assert report["properties"]["timings"]["oneOf"][0] == {"$ref": "#/components/schemas/RenderTimings"}
    assert timings["required"] == ["cut_s", "join_s", "measure_s", "total_s"]
    assert {prop["type"] for prop in timings["properties"].values()} == {"number"}


def _video_packets(path: Path) -> list[dict]:
    done = subprocess.run([FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_entries",
                           "packet=pts_time,pos,size,flags", "-of", "json", str(path)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)["packets"]


def _damage(path: Path, packets: list[dict]) -> None:
    """Overwrite the packets' payloads (past each NAL's length field) with noise, in place."""
    noise = random.Random(7)
    data = bytearray(path.read_bytes())
    for packet in packets:
        begin, size = int(packet["pos"]), int(packet["size"])
        data[begin + 4:begin + size] = bytes(noise.randrange(256) for _ in range(size - 4))
    path.write_bytes(bytes(data))


def test_a_damaged_gop_after_a_join_is_reported_at_that_join(client: TestClient, tmp_path: Path) -> None:
    clips = [{"source": "a.mp4", "start": 0.0, "end": 1.0}, {"source": "a.mp4", "start": 2.0, "end": 3.0},
             {"source": "a.mp4", "start": 1.0, "end": 2.0}]  # whole GOPs: all three copied
    created = client.post("/api/v1/assemblies", json={"preview": False, "clips": clips}).json()
    done = wait_done(client, created["id"])
    assert done["status"] == "done", done["error"]
    report = client.get(f"/api/v1/assemblies/{created['id']}/report").json()
    assert [(j["pos"], j["at"], j["decode_errors"]) for j in report["joins"]] == [(2, 1.0, []), (3, 2.0, [])]
    result = tmp_path / "output" / created["id"] / "result.mp4"
    assert frame_indices(result) == [*range(30), *range(60, 90), *range(30, 60)]
    joins = [j["video_start"] for j in report["joins"]]
    assert asyncio.run(decode_errors_around(FFPROBE, result, joins)) == ((), ())  # the check itself, on a clean file

    damaged = tmp_path / "damaged.mp4"
    shutil.copyfile(result, damaged)
    packets = _video_packets(damaged)
    keyframe = next(n for n, p in enumerate(packets) if "K" in p["flags"] and float(p["pts_time"]) >= 2.0)
    assert float(packets[keyframe]["pts_time"]) == pytest.approx(2.0)  # the copied GOP the third clip starts with
    _damage(damaged, packets[keyframe:keyframe + 4])
    first, second = asyncio.run(decode_errors_around(FFPROBE, damaged, joins))
    assert first == ()  # the join at 1 s is decoded up to 1.25 s: the damage is after it
    assert 0 < len(second) <= MAX_DECODE_ERRORS and all(len(message) <= 160 for message in second)
    assert any("h264" in message for message in second), second
    frames = frame_indices(damaged)  # what a player shows there is not the clip's frames
    assert frames[:60] == [*range(30), *range(60, 90)] and frames[60:64] != [30, 31, 32, 33], frames[60:]


def test_a_file_that_cannot_be_decoded_at_all_says_so_at_every_join(tmp_path: Path) -> None:
    unreadable = tmp_path / "result.mp4"
    unreadable.write_bytes(b"not a video" * 100)
    found = asyncio.run(decode_errors_around(FFPROBE, unreadable, [1.0, 2.0]))
    assert found == (("not decoded: Invalid data found when processing input",),) * 2  # and no path in it
    assert asyncio.run(decode_errors_around(FFPROBE, unreadable, [])) == ()


def test_the_report_schema_documents_the_decode_errors(client: TestClient) -> None:
    components = client.get("/api/schema/openapi.json").json()["components"]["schemas"]
    join = components["JoinReport"]
    assert join["properties"]["decode_errors"] == {"type": "array", "items": {"type": "string"}}
    assert "decode_errors" in join["required"]
    assert components["RenderReport"]["properties"]["joins_with_decode_errors"] == {"type": "integer"}
