"""Clean renders never define one H.264 parameter-set id twice with different content: a decoder that takes them
from the sample entry, or keeps the first it saw, would decode the rest with the wrong ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from media import FFMPEG, FFPROBE, frame_indices, make_video, parameter_sets

from kalinsky_adapters.ffmpeg import ffmpeg_rendering
from kalinsky_adapters.ffprobe import FfprobeProber
from kalinsky_adapters.memory import InMemoryRepo
from kalinsky_core import services
from kalinsky_core.model import AssemblyStatus, ClipInput, VideoPath


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("parameter-sets")
    make_video(folder / "a.mp4", duration=4.0)
    make_video(folder / "small.mov", duration=2.0, size="160x120", fps="25", audio=False, offset=500)
    # coded like a.mp4 in every way ffprobe names (High, B-frames, time base), but CAVLC: other parameter sets
    make_video(folder / "cavlc.mp4", duration=3.0, offset=700, extra=("-x264-params", "cabac=0"))
    return folder


async def render(library: Path, out: Path, clips: list[ClipInput]):
    repo = InMemoryRepo()
    await services.reindex(FfprobeProber(library, FFPROBE), repo)
    rendering = ffmpeg_rendering(library, out, FFMPEG, FFPROBE)
    assembly = await services.create_assembly(repo, rendering.rules, clips, preview=False)
    done = await services.render_assembly(assembly, repo, rendering)
    assert done.status is AssemblyStatus.DONE, done.error
    return assembly, out / done.id / "result.mp4"


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
