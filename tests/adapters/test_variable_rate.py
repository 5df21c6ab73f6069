"""Variable frame rate, as phones record it: 59.94 fps in a time scale of 600 (every frame time rounded), with a
stretch where the light drops and every other frame is left out (30 fps), and 44.1 kHz mono sound.

A render holds, at each output frame's time, the source frame shown then: the last one to have started by that
time (to the nearest output frame). A frame that lasts two output frames is shown twice, also when a clip starts
part-way through it.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import pytest
from media import BITS, FFMPEG, FFPROBE, frame_indices, make_video, probe, stream
from renders import render_clips

from kalinsky_adapters.ffmpeg import CodecRules
from kalinsky_adapters.ffprobe import FfprobeProber
from kalinsky_adapters.memory import InMemoryRepo
from kalinsky_core import services
from kalinsky_core.model import ClipInput
from kalinsky_core.plan import frame_span, seek_time
from kalinsky_core.qc import source_qc

RULES = CodecRules()
FPS = Fraction(60000, 1001)
DURATION = 4.0
#: the frames left out: every other one of frames 60..119 (1.0 s to 2.0 s)
DROPPED = "between(n,60,119)*mod(n,2)"
#: name: offset coded into its frames
OFFSETS = {"phone.mov": 0, "steady.mp4": 500}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("variable-rate")
    stripes = f"lum='255*mod(floor(N/pow(2,floor(X/W*{BITS}))),2)':cb=128:cr=128"
    subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"nullsrc=s=360x640:r={FPS}:d={DURATION},format=yuv420p,geq={stripes},"
                              f"select='not({DROPPED})'",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={DURATION}",
         "-map", "0:v", "-map", "1:a", "-c:a", "aac", "-ac", "1", "-c:v", "libx264", "-g", "60",
         "-fps_mode", "vfr", "-video_track_timescale", "600", str(folder / "phone.mov")],
        check=True,
    )
    make_video(folder / "steady.mp4", duration=DURATION, size="360x640", fps=str(FPS), offset=OFFSETS["steady.mp4"])
    return folder


def shown_frames(path: Path, clip: ClipInput) -> list[int]:
    """The frame numbers `clip` of the source at `path` shows, one per output frame: at each output frame's time
    from the clip's start, the last source frame to have started by then, to the nearest output frame."""
    times = subprocess.run(
        [FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time", "-of", "csv=p=0",
         str(path)], check=True, capture_output=True, text=True,
    ).stdout.split()
    start_time = float(probe(path)["format"].get("start_time", 0))
    numbers = frame_indices(path, every_frame=True)
    assert len(numbers) == len(times)
    first, stop = frame_span(clip.start or 0.0, clip.end if clip.end is not None else DURATION, FPS)
    start = seek_time(first, FPS, copy=False)
    slots = [math.floor((float(t.strip(",")) - start_time - start) * FPS + 0.5) for t in times]
    return [numbers[max(i for i, slot in enumerate(slots) if slot <= n)] for n in range(stop - first)]


def expected(library: Path, clips: Sequence[ClipInput]) -> list[int]:
    frames: list[int] = []
    for clip in clips:
        frames += shown_frames(library / str(clip.source), clip)
    return frames


def assert_constant_rate_in_sync(path: Path) -> None:
    report = probe(path)
    video, audio = stream(report, "video"), stream(report, "audio")
    assert audio is not None and video is not None
    assert video["r_frame_rate"] == video["avg_frame_rate"] == "60000/1001"
    assert abs(float(audio["duration"]) - float(video["duration"])) <= 1 / FPS


async def test_a_phone_clip_of_variable_rate_is_indexed_as_such(library: Path) -> None:
    repo = InMemoryRepo()
    await services.reindex(FfprobeProber(library, FFPROBE), repo)
    phone = next(source for source in await repo.list_sources() if source.filename == "phone.mov")
    assert (phone.frame_rate, source_qc(phone, RULES).variable_frame_rate) == ("60000/1001", True)
    # the source itself: 30 frames left out of 1.0 s to 2.0 s
    assert shown_frames(library / "phone.mov", ClipInput("phone.mov", 0.9, 1.2))[:8] == [54, 55, 56, 57, 58, 59,
                                                                                        60, 60]


async def test_a_clean_render_shows_each_frame_for_as_long_as_the_source_does(library: Path, tmp_path: Path) -> None:
    # the second clip starts at frame 61's time, which frame 60 still fills
    clips = [ClipInput("phone.mov", 0.5, 2.5), ClipInput("phone.mov", 1.0175, 1.6), ClipInput("steady.mp4", 0.5, 1.5),
             ClipInput("phone.mov", 2.0, 3.0)]
    done, result = await render_clips(library, tmp_path, clips)
    assert [clip.video for clip in done.clips] == ["reencode", "reencode", "reencode", "reencode"]
    frames = frame_indices(result)
    assert frames == expected(library, clips)
    assert frames[30:34] == [60, 60, 62, 62]  # the light drops: each frame shown twice
    first = len(shown_frames(library / "phone.mov", clips[0]))
    assert frames[first:first + 3] == [60, 62, 62]  # a clip starting part-way through frame 60
    assert_constant_rate_in_sync(result)


async def test_a_variable_rate_clip_after_a_copied_one_is_timed_alike(library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("steady.mp4", 0.5, 2.5), ClipInput("phone.mov", 0.9, 2.1)]
    done, result = await render_clips(library, tmp_path, clips)
    assert [clip.video for clip in done.clips] == ["smart", "reencode"]
    assert frame_indices(result) == expected(library, clips)
    assert_constant_rate_in_sync(result)


async def test_a_preview_shows_the_same_frames(library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("phone.mov", 1.0175, 2.5)]
    _done, result = await render_clips(library, tmp_path, clips, preview=True)
    assert frame_indices(result) == expected(library, clips)
