"""Frame-exact renders, frame by frame: smart cuts, every kind of source, long joins, random clip lists.

Every source codes its frame numbers (plus a per-source offset) in stripes; the output's frames are decoded
and compared with the frames `[start, end)` of each clip. Sources are tiny so this stays fast.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from media import FFMPEG, FFPROBE, audio_samples, decode_errors, frame_indices, make_video, probe, rms, stream
from renders import render_clips

from kalinsky_adapters import mp4
from kalinsky_adapters.ffmpeg import CodecRules
from kalinsky_adapters.ffprobe import FfprobeProber
from kalinsky_adapters.memory import InMemoryRepo
from kalinsky_core import services
from kalinsky_core.model import Assembly, ClipInput
from kalinsky_core.plan import frame_span, plan_render, sources_by_filename

RULES = CodecRules()
SIZE = "160x120"
# name: (offset coded into its frames, fps, make_video options)
SOURCES = {
    "gop.mp4": (0, "30", dict(extra=("-sc_threshold", "0"))),  # High, B-frames (delay 2), keyframes every 30
    "nob.mp4": (200, "30", dict(extra=("-sc_threshold", "0", "-profile:v", "main", "-bf", "0"))),  # no B-frames
    "pyr.mp4": (400, "30", dict(extra=("-sc_threshold", "0", "-bf", "2", "-x264-params", "b-pyramid=none"))),
    "ntsc.mp4": (600, "30000/1001", dict(extra=("-sc_threshold", "0",))),
    "hevc.mp4": (800, "30", dict(codec="libx265", audio=False, extra=("-x265-params", "log-level=error"))),
    "vp9.webm": (300, "30", dict(codec="libvpx-vp9", extra=("-deadline", "realtime", "-cpu-used", "8"))),
    "phone.mp4": (500, "30", dict(rotated=True)),  # stored sideways, shown upright
    "odd.mp4": (700, "30", dict(size="161x121", pix_fmt="yuv444p")),
    "pal.mov": (900, "25", dict(audio=False)),
}
FPS = {name: Fraction(fps) for name, (_offset, fps, _options) in SOURCES.items()}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("frame-coded")
    for name, (offset, fps, options) in SOURCES.items():
        make_video(folder / name, duration=4.0, fps=fps, offset=offset, **{"size": SIZE, **options})
    # variable frame rate: the frames of a 30 fps stream, each shown up to 8 ms late
    make_video(folder / "steady.mkv", duration=4.0, size=SIZE, offset=100, audio=False)
    subprocess.run([FFMPEG, "-v", "error", "-y", "-i", str(folder / "steady.mkv"), "-vf",
                    "setpts='(N/30+mod(N,3)*0.004)/TB'", "-fps_mode", "passthrough", "-c:v", "libx264",
                    str(folder / "vfr.mkv")], check=True)
    (folder / "steady.mkv").unlink()
    return folder


def expected(clips: Sequence[ClipInput]) -> list[int]:
    frames = []
    for clip in clips:
        offset = SOURCES.get(clip.source, (100,))[0]
        first, stop = frame_span(clip.start or 0.0, clip.end if clip.end is not None else 4.0, FPS.get(clip.source, 30))
        frames += [offset + k for k in range(first, stop)]
    return frames


async def render(library: Path, out: Path, clips: Sequence[ClipInput], preview: bool = False) -> tuple[Assembly, Path]:
    return await render_clips(library, out, clips, preview=preview)


def assert_in_sync(path: Path, fps: float = 30) -> None:
    report = probe(path)
    video, audio = stream(report, "video"), stream(report, "audio")
    assert audio is not None
    assert abs(float(audio["duration"]) - float(video["duration"])) <= 1 / fps


GOP_CLIPS = [
    ClipInput("gop.mp4", 1.0, 3.0),  # keyframe to keyframe: copied whole
    ClipInput("gop.mp4", 0.5, 3.5),  # off keyframes: re-encoded ends, copied middle
    ClipInput("gop.mp4", 2.1, 2.4),  # inside one GOP
    ClipInput("gop.mp4", 0.0, 0.99),  # frames 0..29: the first GOP exactly
    ClipInput("gop.mp4", 0.0, 1.9),  # from frame 0, ends inside a GOP
    ClipInput("gop.mp4", 2.5),  # to the source's end, across its last keyframe
    ClipInput("gop.mp4", 3.5),  # to the end, inside the last GOP
]


async def test_clean_render_copies_whole_gops_and_reencodes_only_the_ends(library: Path, tmp_path: Path) -> None:
    done, result = await render(library, tmp_path, GOP_CLIPS)
    assert [clip.video for clip in done.clips] == ["copy", "smart", "reencode", "copy", "smart", "smart", "reencode"]
    assert frame_indices(result) == expected(GOP_CLIPS)
    assert decode_errors(result) == ""
    assert_in_sync(result)
    video = stream(probe(result), "video")
    assert (video["profile"], video["has_b_frames"]) == ("High", 2)


def keyframes_with_parameter_sets(path: Path) -> dict[int, bool]:
    """For each keyframe packet (by pts), whether it carries an SPS in-band."""
    trace = subprocess.run([FFMPEG, "-nostdin", "-v", "trace", "-i", str(path), "-map", "0:v", "-c", "copy",
                            "-bsf:v", "trace_headers", "-f", "null", "-"], capture_output=True, text=True).stderr
    found: dict[int, bool] = {}
    keyframe = None  # trace_headers prints a packet's line, then its NAL units
    for line in trace.splitlines():
        if "] Packet: " in line:
            keyframe = int(line.split(" pts ")[1].split(",")[0]) if "key frame" in line else None
            if keyframe is not None:
                found[keyframe] = False
        elif keyframe is not None and "nal_unit_type: 7(SPS)" in line:
            found[keyframe] = True
    return found


async def test_every_piece_finds_its_parameter_sets_in_the_sample_entry(library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("gop.mp4", 0.5, 2.5), ClipInput("gop.mp4", 1.5, 3.5)]
    done, result = await render(library, tmp_path, clips)
    # pieces: [15,30) [30,60) [60,75) | [45,60) [60,90) [90,105) start at output frames 0 15 45 60 75 105
    ticks = 15360 // 30
    assert stream(probe(result), "video")["codec_tag_string"] == "avc1"
    with_sps = keyframes_with_parameter_sets(result)
    assert set(with_sps) >= {frame * ticks for frame in (0, 15, 45, 60, 75, 105)} and not any(with_sps.values())
    record = mp4.open_video(result).record
    assert record is not None
    assert {mp4.parameter_set_key("h264", unit) for unit in record.units} == {
        (kind, n) for kind in ("SPS", "PPS") for n in (0, 1)}
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""


async def test_preview_render_of_the_same_cuts_is_exact_too(library: Path, tmp_path: Path) -> None:
    done, result = await render(library, tmp_path, GOP_CLIPS, preview=True)
    assert {clip.video for clip in done.clips} == {"reencode"}
    assert frame_indices(result) == expected(GOP_CLIPS)
    assert_in_sync(result)


@pytest.mark.parametrize("name", ["nob.mp4", "pyr.mp4", "ntsc.mp4"])
async def test_smart_cut_matches_each_coding(library: Path, tmp_path: Path, name: str) -> None:
    clips = [ClipInput(name, 0.5, 2.5), ClipInput(name, 1.2, 3.9), ClipInput(name, 0.0, 2.0), ClipInput(name, 1, 1.5)]
    done, result = await render(library, tmp_path, clips)
    # without B-frames, a clip from a keyframe to anywhere is copied whole; with them, up to its last anchor frame
    last = "copy" if name == "nob.mp4" else "smart"
    assert [clip.video for clip in done.clips] == ["smart", "smart", "copy", last]
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""
    fps = FPS[name]
    assert_in_sync(result, float(fps))


async def test_any_mix_of_sources_renders_with_frames_in_place(library: Path, tmp_path: Path) -> None:
    same_rate = ["hevc.mp4", "vp9.webm", "phone.mp4", "odd.mp4", "vfr.mkv", "nob.mp4"]
    clips = [ClipInput("gop.mp4", 0.5, 2.5), *(ClipInput(name, 0.5, 1.5) for name in same_rate)]
    done, result = await render(library, tmp_path, [*clips, ClipInput("pal.mov", 0.4, 1.2)])
    # only frames coded like the first clip's can be copied next to its own
    assert [clip.video for clip in done.clips] == ["smart"] + ["reencode"] * 7
    video = stream(probe(result), "video")
    assert (video["width"], video["height"], video["r_frame_rate"]) == (160, 120, "30/1")
    frames = frame_indices(result)
    assert frames[:-24] == expected(clips)
    # 0.8 s of 25 fps shown at 30 fps: 24 frames, pal's frames 10..29 in order, some twice
    assert len(frames) - len(expected(clips)) == 24
    assert frames[-24:] == sorted(frames[-24:]) and set(frames[-24:]) == set(range(910, 930))
    assert decode_errors(result) == ""
    assert_in_sync(result)


async def test_fifty_joins_keep_audio_in_step_with_video(library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("gop.mp4", round(0.05 * k, 3), round(0.05 * k + 0.1 + 0.01 * (k % 5), 3)) for k in range(50)]
    done, result = await render(library, tmp_path, clips)
    assert frame_indices(result) == expected(clips)
    assert_in_sync(result)
    # every clip fades out and in at its join: silence there proves the audio joins sit on the video's
    samples, rate = audio_samples(result), 48000
    steady = rms(samples[int(0.04 * rate): int(0.06 * rate)])
    assert steady > 1000
    join = 0
    for clip_frames in (len(expected([clip])) for clip in clips[:-1]):
        join += clip_frames * rate // 30
        assert rms(samples[join - 48: join + 48]) < steady * 0.2, f"audio off its join at {join / rate:.3f} s"
    assert abs(len(samples) - join - len(expected(clips[-1:])) * rate // 30) <= rate // 30


@st.composite
def clip_lists(draw) -> list[ClipInput]:
    clips = []
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(["gop.mp4", "nob.mp4", "pyr.mp4"]))
        first = draw(st.integers(0, 110))
        stop = draw(st.integers(first + 1, 120))
        nudge = draw(st.sampled_from([0.0, 0.01]))  # on a frame's time, or just after it
        clip = ClipInput(name, round(first / 30 + nudge, 3), min(4.0, round(stop / 30 + nudge, 3)))
        assume(expected([clip]))  # times rounded to the millisecond may leave no frame between them
        clips.append(clip)
    return clips


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(clip_lists(), st.booleans())
async def test_random_clip_lists_render_exactly_their_frames(library: Path, tmp_path_factory, clips, preview) -> None:
    done, result = await render(library, tmp_path_factory.mktemp("random"), clips, preview=preview)
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""


async def test_plan_for_a_source_without_copyable_frames_reencodes_it_whole(library: Path) -> None:
    repo = InMemoryRepo()
    await services.reindex(FfprobeProber(library, FFPROBE), repo)
    sources = sources_by_filename(await repo.list_sources())
    assert sources["gop.mp4"].keyframes == (0, 30, 60, 90) and sources["gop.mp4"].frame_count == 120
    webm = sources["vp9.webm"].coding
    assert webm is not None and not webm.mp4 and not RULES.copyable(webm)  # known, but never copied from WebM
    assert sources["phone.mp4"].coding.rotation == 90
    clips = [ClipInput("hevc.mp4", 0.5, 3.5), ClipInput("gop.mp4", 0, 2)]
    assembly = await services.create_assembly(repo, RULES, clips)
    plan = plan_render(assembly, sources, RULES, fade_ms=50)
    assert [segment.video for segment in plan.segments] == ["reencode", "reencode"]  # nothing to match: re-encode


async def test_clips_ending_inside_a_gop_reencode_only_the_frames_after_their_last_anchor(library: Path) -> None:
    repo = InMemoryRepo()
    await services.reindex(FfprobeProber(library, FFPROBE), repo)
    sources = sources_by_filename(await repo.list_sources())
    for name in ("gop.mp4", "pyr.mp4", "ntsc.mp4"):  # B-frame delay 2, 1, 2
        assert set(sources[name].keyframes) <= {0, *sources[name].copy_ends} and 120 in sources[name].copy_ends
    assert sources["nob.mp4"].copy_ends == ()  # no B-frames: a copy ends anywhere
    for name in ("gop.mp4", "pyr.mp4", "ntsc.mp4"):
        clips = [ClipInput(name, start, end) for start, end in ((1.0, 1.9), (0.5, 3.7), (0.2, 2.45))]
        assembly = await services.create_assembly(repo, RULES, clips, preview=False)
        for segment in plan_render(assembly, sources, RULES, fade_ms=50).segments:
            copied = [piece for piece in segment.pieces if piece.copy]
            tail = segment.pieces[-1]
            assert len(copied) == 1 and (tail.copy or tail.frames <= 3), (name, segment.pieces)
