"""Clean renders never define one H.264 parameter-set id twice with different content: a decoder that takes them
from the sample entry, or keeps the first it saw, would decode the rest with the wrong ones. Every piece's
parameter sets are in the output's sample entry, and none in-band: decoders that read them only from there (Apple's,
some hardware) decode every piece."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from media import FFMPEG, FFPROBE, frame_indices, make_video, parameter_sets

from kalinsky_adapters import mp4
from kalinsky_adapters.ffmpeg import ffmpeg_rendering
from kalinsky_adapters.ffmpeg.joiner import complete_sample_entry
from kalinsky_adapters.ffprobe import FfprobeProber
from kalinsky_adapters.memory import InMemoryRepo
from kalinsky_adapters.segment_cache import SegmentCache
from kalinsky_core import services
from kalinsky_core.errors import RenderFailed
from kalinsky_core.model import AssemblyStatus, ClipInput, VideoPath


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("parameter-sets")
    make_video(folder / "a.mp4", duration=4.0)
    make_video(folder / "small.mov", duration=2.0, size="160x120", fps="25", audio=False, offset=500)
    # coded like a.mp4 in every way ffprobe names (High, B-frames, time base), but CAVLC: other parameter sets
    make_video(folder / "cavlc.mp4", duration=3.0, offset=700, extra=("-x264-params", "cabac=0"))
    # a camera's way: its SPS and PPS in every keyframe too, the same as in its sample entry
    make_video(folder / "camera.mp4", duration=3.0, offset=300, extra=("-x264-params", "repeat-headers=1"))
    return folder


async def render(library: Path, out: Path, clips: list[ClipInput], cache: SegmentCache | None = None):
    repo = InMemoryRepo()
    await services.reindex(FfprobeProber(library, FFPROBE), repo)
    rendering = ffmpeg_rendering(library, out, FFMPEG, FFPROBE, cache=cache)
    assembly = await services.create_assembly(repo, rendering.rules, clips, preview=False)
    done = await services.render_assembly(assembly, repo, rendering)
    assert done.status is AssemblyStatus.DONE, done.error
    return assembly, out / done.id / "result.mp4"


def in_sample_entry_and_in_band(path: Path) -> tuple[list[str], list[str]]:
    """The kinds of NAL units ffmpeg reads from the video's sample entry, and those it reads from its packets."""
    trace = subprocess.run(
        [FFMPEG, "-v", "repeat+trace", "-nostdin", "-i", str(path), "-map", "0:v:0", "-c", "copy",
         "-bsf:v", "trace_headers", "-f", "null", "-"], capture_output=True, text=True, check=True,
    ).stderr
    entry: list[str] = []
    packets: list[str] = []
    current = entry
    for line in trace.splitlines():
        if "[trace_headers" not in line:
            continue
        if "] Packet: " in line:
            current = packets
        elif "] Extradata" in line:
            current = entry
        elif "nal_unit_type: " in line:
            current.append(line.split("nal_unit_type: ", 1)[1].split("(", 1)[1].split(")", 1)[0])
    return entry, packets


def decode_errors(path: Path) -> str:
    return subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-i", str(path), "-map", "0", "-f", "null", "-"],
                          capture_output=True, text=True, check=True).stderr


def assert_all_in_sample_entry(path: Path, ids: set[int]) -> None:
    entry, packets = in_sample_entry_and_in_band(path)
    assert entry.count("SPS") == entry.count("PPS") == len(ids)
    assert "SPS" not in packets and "PPS" not in packets and "IDR" in packets
    track = mp4.open_video(path)
    assert track.fourcc == "avc1" and track.record is not None
    assert [mp4.parameter_set_key("h264", unit) for unit in track.record.units] == [
        (kind, n) for kind in ("SPS", "PPS") for n in sorted(ids)]
    assert track.find_units(mp4.PARAMETER_SET_TYPES["h264"]) == []
    assert decode_errors(path) == ""


def redefined(path: Path) -> dict:
    return {key: len(contents) for key, contents in parameter_sets(path).items() if len(contents) > 1}


async def test_copied_frames_cut_ends_and_whole_clips_each_keep_their_own_ids(library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("a.mp4", 0.5, 2.5), ClipInput("small.mov", 0.0, 1.0), ClipInput("a.mp4", 1.2, 3.1)]
    assembly, result = await render(library, tmp_path, clips)
    assert [clip.video for clip in assembly.clips] == [VideoPath.SMART, VideoPath.REENCODE, VideoPath.SMART]
    assert redefined(result) == {}
    # the source's own sets, the cut ends' and the whole clip's: three of each, none shared
    assert {key for key in parameter_sets(result)} == {(kind, n) for kind in ("SPS", "PPS") for n in (0, 1, 2)}
    frames = frame_indices(result)
    assert frames[:60] == list(range(15, 75)) and frames[-57:] == list(range(36, 93))
    assert_all_in_sample_entry(result, {0, 1, 2})


async def test_a_join_taken_from_the_cache_has_them_all_in_its_sample_entry_too(
    library: Path, tmp_path: Path
) -> None:
    cache = SegmentCache(tmp_path / "cache", 10**9, FFMPEG)
    clips = [ClipInput("a.mp4", 0.5, 2.5), ClipInput("small.mov", 0.0, 1.0)]
    _first, made = await render(library, tmp_path / "one", clips, cache)
    hits = cache.hits
    _again, taken = await render(library, tmp_path / "two", clips, cache)
    assert cache.hits > hits and taken.read_bytes() == made.read_bytes()
    # what the cache keeps of the join is the completed output itself
    kept = [entry for entry in (tmp_path / "cache").glob("??/*") if entry.stat().st_size == taken.stat().st_size]
    assert [entry.read_bytes() == taken.read_bytes() for entry in kept] == [True]
    assert_all_in_sample_entry(taken, {0, 1, 2})
    frames = frame_indices(taken)
    assert frames[:60] == list(range(15, 75)) and len(frames) == 90 and set(frames[60:]) == set(range(500, 525))


async def test_in_band_parameter_sets_of_copied_frames_move_to_the_sample_entry(
    library: Path, tmp_path: Path
) -> None:
    assert mp4.open_video(library / "camera.mp4").find_units(mp4.PARAMETER_SET_TYPES["h264"])
    clips = [ClipInput("camera.mp4", 0.5, 2.5), ClipInput("camera.mp4", 0.0, 1.5)]
    assembly, result = await render(library, tmp_path, clips)
    assert [clip.video for clip in assembly.clips] == [VideoPath.SMART, VideoPath.SMART]
    assert redefined(result) == {}
    assert_all_in_sample_entry(result, {0, 1})
    assert frame_indices(result) == [*range(315, 375), *range(300, 345)]


def test_two_pieces_defining_one_id_differently_fail_the_join(library: Path, tmp_path: Path) -> None:
    pieces = []
    for name in ("a.mp4", "cavlc.mp4"):
        pieces.append(tmp_path / f"{name}.mov")
        subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-i", str(library / name), "-map", "0:v", "-c", "copy",
                        str(pieces[-1])], check=True)
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"file '{piece}'\n" for piece in pieces))
    joined = tmp_path / "joined.mp4"
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-f", "concat", "-safe", "0", "-auto_convert", "0",
                    "-i", str(listing), "-c", "copy", str(joined)], check=True)
    with pytest.raises(RenderFailed, match="PPS.* id 0"):
        complete_sample_entry(pieces, joined)


async def test_sources_with_other_parameter_sets_are_not_copied_side_by_side(library: Path, tmp_path: Path) -> None:
    sources = InMemoryRepo()
    await services.reindex(FfprobeProber(library, FFPROBE), sources)
    coding = {source.filename: source.coding for source in await sources.list_sources() or ()}
    assert coding["a.mp4"] and coding["cavlc.mp4"]
    assert coding["a.mp4"].parameter_sets and coding["a.mp4"].parameter_sets != coding["cavlc.mp4"].parameter_sets
    clips = [ClipInput("a.mp4", 0.5, 2.5), ClipInput("cavlc.mp4", 0.5, 2.5)]
    assembly, result = await render(library, tmp_path, clips)
    assert [clip.video for clip in assembly.clips] == [VideoPath.SMART, VideoPath.REENCODE]
    assert redefined(result) == {}
    assert frame_indices(result) == [*range(15, 75), *range(715, 775)]
    assert_all_in_sample_entry(result, {0, 1, 2})  # a.mp4's own and its cut ends', cavlc.mp4 encoded whole
