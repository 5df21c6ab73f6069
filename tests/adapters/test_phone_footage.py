"""Phone footage in clean renders: portrait video stored sideways with a display rotation.

Sources are 360x640 as displayed and code their frame numbers in stripes (see tests/media.py); `frame_indices`
decodes the output turned upright, as players show it, so reading the stripes also proves the picture is upright.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import pytest
from media import FFMPEG, FFPROBE, frame_indices, make_video, probe, stream

from kalinsky_adapters.ffmpeg import CodecRules, ffmpeg_rendering
from kalinsky_adapters.ffprobe import FfprobeProber
from kalinsky_adapters.memory import InMemoryRepo
from kalinsky_core import services
from kalinsky_core.model import Assembly, AssemblyStatus, ClipInput
from kalinsky_core.plan import frame_span

RULES = CodecRules()
SIZE = "360x640"  # as displayed
DURATION = 3.0
#: name: offset coded into its frames
OFFSETS = {"phone.mp4": 0, "upright.mp4": 200, "turned.mp4": 400}
#: how ffmpeg's autorotate turns a picture stored for a display rotation upright (ffprobe reports 270 as -90)
UPRIGHT_TO_STORED = {270: "transpose=cclock"}


def make_turned(path: Path, rotation: int, offset: int) -> Path:
    """A frame-coded clip stored turned for `rotation` and tagged with it: shown upright."""
    upright = make_video(path.with_name(f".upright-{path.name}"), duration=DURATION, size=SIZE, offset=offset)
    stored = path.with_name(f".stored-{path.name}")
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", "-i", str(upright), "-vf", UPRIGHT_TO_STORED[rotation],
                    "-c:v", "libx264", "-g", "30", "-c:a", "copy", str(stored)], check=True)
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", "-display_rotation", str(rotation), "-i", str(stored),
                    "-c", "copy", str(path)], check=True)
    upright.unlink()
    stored.unlink()
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("phone-footage")
    # H.264 stored 640x360 with a 90° display matrix, B-frames, a keyframe every second
    make_video(folder / "phone.mp4", duration=DURATION, size=SIZE, rotated=True, extra=("-sc_threshold", "0"))
    make_video(folder / "upright.mp4", duration=DURATION, size=SIZE, offset=OFFSETS["upright.mp4"],
               extra=("-sc_threshold", "0"))
    make_turned(folder / "turned.mp4", 270, OFFSETS["turned.mp4"])
    return folder


def expected(clips: Sequence[ClipInput]) -> list[int]:
    frames = []
    for clip in clips:
        first, stop = frame_span(clip.start or 0.0, clip.end if clip.end is not None else DURATION, Fraction(30))
        frames += [OFFSETS[str(clip.source)] + k for k in range(first, stop)]
    return frames


async def render(library: Path, out: Path, clips: Sequence[ClipInput]) -> tuple[Assembly, Path]:
    repo = InMemoryRepo()
    await services.reindex(FfprobeProber(library, FFPROBE), repo)
    rendering = ffmpeg_rendering(library, out, FFMPEG, FFPROBE)
    assembly = await services.create_assembly(repo, RULES, clips, preview=False)
    done = await services.render_assembly(assembly, repo, rendering)
    assert done.status is AssemblyStatus.DONE, done.error
    return done, out / done.id / "result.mp4"


def decode_errors(path: Path) -> str:
    return subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
                          capture_output=True, text=True).stderr


def rotation(video: dict) -> int:
    return next((int(d["rotation"]) for d in video.get("side_data_list", ()) if "rotation" in d), 0)


def assert_in_sync(path: Path, fps: float = 30) -> None:
    report = probe(path)
    video, audio = stream(report, "video"), stream(report, "audio")
    assert audio is not None
    assert abs(float(audio["duration"]) - float(video["duration"])) <= 1 / fps


async def test_rotated_h264_is_copied_and_the_output_keeps_its_rotation(library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("phone.mp4", 0.5, 2.5), ClipInput("phone.mp4", 1.0, 2.0), ClipInput("phone.mp4", 2.1, 2.4)]
    done, result = await render(library, tmp_path, clips)
    assert [clip.video for clip in done.clips] == ["smart", "copy", "reencode"]
    video = stream(probe(result), "video")
    assert (video["width"], video["height"], rotation(video)) == (640, 360, 90)  # stored sideways, shown upright
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""
    assert_in_sync(result)


async def test_clips_rotated_unlike_the_first_are_reencoded_into_its_orientation(
    library: Path, tmp_path: Path
) -> None:
    clips = [ClipInput("phone.mp4", 0.5, 2.5), ClipInput("upright.mp4", 0.5, 1.5), ClipInput("turned.mp4", 1.0, 2.0),
             ClipInput("phone.mp4", 1.0, 2.0)]
    done, result = await render(library, tmp_path, clips)
    assert [clip.video for clip in done.clips] == ["smart", "reencode", "reencode", "copy"]
    video = stream(probe(result), "video")
    assert (video["width"], video["height"], rotation(video)) == (640, 360, 90)
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""


async def test_a_rotated_clip_after_an_upright_first_clip_is_turned_upright(library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("upright.mp4", 0.0, 2.0), ClipInput("phone.mp4", 0.5, 1.5), ClipInput("turned.mp4", 1.0, 2.0)]
    done, result = await render(library, tmp_path, clips)
    assert [clip.video for clip in done.clips] == ["copy", "reencode", "reencode"]
    video = stream(probe(result), "video")
    assert (video["width"], video["height"], rotation(video)) == (360, 640, 0)
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""
    assert_in_sync(result)
