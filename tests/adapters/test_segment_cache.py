"""The segment cache on real renders: what a render runs again, and what it takes from the cache."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

import pytest
from media import FFMPEG, FFPROBE, frame_indices, make_video

from kalinsky_adapters.ffmpeg import ffmpeg_rendering
from kalinsky_adapters.ffmpeg import jobs as ffmpeg_jobs
from kalinsky_adapters.ffprobe import FfprobeProber
from kalinsky_adapters.memory import InMemoryRepo
from kalinsky_adapters.segment_cache import SegmentCache
from kalinsky_core import services
from kalinsky_core.model import AssemblyStatus, ClipInput
from kalinsky_core.report import CacheUse, RenderReport

# a.mp4: 30 fps, keyframe every second, frames coded 0..; b.mov: 25 fps, coded from 500, no audio
CLIPS = [ClipInput("a.mp4", 0.5, 2.5), ClipInput("b.mov", 0.2, 1.4), ClipInput("a.mp4", 1.1, 3.2)]


def holds(result: Path, b_frames: range) -> bool:
    """Whether the render of CLIPS (with clip 2 taking `b_frames` of b.mov) holds exactly their frames: a.mp4's
    as they are, b.mov's turned from 25 to 30 fps (36 frames, some twice)."""
    frames = frame_indices(result)
    return (frames[:60], frames[-63:], len(frames), sorted(set(frames[60:-63]))) == (
        list(range(15, 75)), list(range(33, 96)), 60 + 36 + 63, list(b_frames))


class Runs:
    """The ffmpeg commands that ran (ffprobe is not counted)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.argvs: list[list[str]] = []
        run = ffmpeg_jobs.process.run

        async def recording(argv, *args, **kwargs):
            if argv[0] == FFMPEG:
                self.argvs.append(list(argv))
            return await run(argv, *args, **kwargs)

        monkeypatch.setattr(ffmpeg_jobs.process, "run", recording)

    def take(self) -> list[list[str]]:
        argvs, self.argvs = self.argvs, []
        return argvs


class Studio:
    def __init__(self, sources: Path, root: Path, cache: SegmentCache, preview_height: int | None = None) -> None:
        self.sources, self.root, self.cache = sources, root, cache
        self.repo = InMemoryRepo()
        self.rendering = ffmpeg_rendering(sources, root / "out", FFMPEG, FFPROBE, cache=cache,
                                          preview_height=preview_height)

    async def render(self, clips: Sequence[ClipInput], preview: bool = False) -> Path:
        await services.reindex(FfprobeProber(self.sources, FFPROBE), self.repo)
        assembly = await services.create_assembly(self.repo, self.rendering.rules, clips, preview=preview)
        done = await services.render_assembly(assembly, self.repo, self.rendering)
        assert done.status is AssemblyStatus.DONE, done.error
        self.last = done.id
        return self.root / "out" / done.id / "result.mp4"

    async def report(self) -> RenderReport:
        """The report of the last render."""
        return await services.get_report(self.repo, self.last)


@pytest.fixture
def cache(tmp_path: Path) -> SegmentCache:
    return SegmentCache(tmp_path / "cache", 10**9, FFMPEG)


def written(argvs: list[list[str]]) -> list[str]:
    return sorted(Path(argv[-1].removeprefix("file:")).name for argv in argvs)


async def test_the_same_cut_again_runs_no_ffmpeg_and_is_frame_exact(
    sources_dir: Path, tmp_path: Path, cache: SegmentCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs, studio = Runs(monkeypatch), Studio(sources_dir, tmp_path, cache)
    first = await studio.render(CLIPS)
    made = runs.take()
    assert "result.mp4" in written(made) and len(made) >= 3 + len(CLIPS) + 2  # pieces, sounds, track, join
    again = await studio.render(CLIPS)
    assert runs.take() == [] and cache.hits == len(made) + 1  # and the result's measurements, kept beside it
    assert holds(first, range(505, 535)) and frame_indices(again) == frame_indices(first)
    assert again.read_bytes() == first.read_bytes()


async def test_a_moved_cut_remakes_only_its_own_clip(
    sources_dir: Path, tmp_path: Path, cache: SegmentCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs, studio = Runs(monkeypatch), Studio(sources_dir, tmp_path, cache)
    await studio.render(CLIPS)
    runs.take()
    moved = [CLIPS[0], ClipInput("b.mov", 0.4, 1.4), CLIPS[2]]
    result = await studio.render(moved)
    remade = written(runs.take())
    # clip 2's pieces and sound, then the audio track and the join: nothing of clips 1 and 3
    assert [name for name in remade if name.startswith(("001", "003"))] == []
    assert any(name.startswith("002-") for name in remade) and "002.wav" in remade
    assert {"audio.m4a", "result.mp4"} <= set(remade)
    frames = frame_indices(result)
    assert frames[:60] == list(range(15, 75)) and frames[-63:] == list(range(33, 96))
    assert sorted(set(frames[60:-63])) == list(range(510, 535))


def made_now(argvs: list[list[str]]) -> tuple[dict[int, int], set[int]]:
    """Of the commands that ran: how many pieces of each clip they wrote, and which clips' sounds."""
    names = written(argvs)
    pieces = {pos: sum(name.startswith(f"{pos:03d}-") for name in names) for pos in range(1, len(CLIPS) + 1)}
    return pieces, {pos for pos in range(1, len(CLIPS) + 1) if f"{pos:03d}.wav" in names}


def plausible(report: RenderReport) -> None:
    timings = report.timings
    assert timings is not None
    assert timings.cut_s > 0 and timings.join_s >= 0 and timings.measure_s > 0
    assert timings.join_s > 0 or report.result_cached  # only taking a result from the cache may be that quick
    assert timings.cut_s + timings.join_s + timings.measure_s <= timings.total_s < 120


async def test_the_report_says_which_clips_came_from_the_cache_and_how_long_the_render_took(
    sources_dir: Path, tmp_path: Path, cache: SegmentCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs, studio = Runs(monkeypatch), Studio(sources_dir, tmp_path, cache)
    await studio.render(CLIPS)
    first = await studio.report()
    pieces, sounds = made_now(runs.take())
    assert [(c.cache, c.pieces_cached, c.sound_cached) for c in first.clips] == [(CacheUse.MISS, 0, False)] * 3
    assert [c.pieces_made for c in first.clips] == [pieces[c.pos] for c in first.clips] and sounds == {1, 2, 3}
    assert first.clips[0].pieces >= 2 and (first.pieces_cached, first.result_cached) == (0, False)  # a smart cut
    plausible(first)

    moved = [CLIPS[0], ClipInput("b.mov", 0.4, 1.4), CLIPS[2]]
    result = await studio.render(moved)
    second = await studio.report()
    pieces, sounds = made_now(runs.take())
    assert [c.cache for c in second.clips] == [CacheUse.HIT, CacheUse.MISS, CacheUse.HIT]
    assert [c.sound_cached for c in second.clips] == [True, False, True] and sounds == {2}
    assert [c.pieces_made for c in second.clips] == [0, second.clips[1].pieces, 0] == [pieces[n] for n in (1, 2, 3)]
    assert second.pieces_cached == second.clips[0].pieces + second.clips[2].pieces and not second.result_cached
    assert [c.frames_written for c in second.clips] == [60, 30, 63] and len(frame_indices(result)) == 153
    plausible(second)

    again = await studio.render(moved)
    third = await studio.report()
    assert runs.take() == []
    assert [c.cache for c in third.clips] == [CacheUse.HIT] * 3 and third.pieces_cached == third.pieces
    assert third.result_cached is True and frame_indices(again) == frame_indices(result)
    plausible(third)
    assert third.timings is not None and second.timings is not None and third.timings.cut_s < second.timings.cut_s


async def test_without_a_cache_the_report_says_none_was_asked(sources_dir: Path, tmp_path: Path) -> None:
    studio = Studio(sources_dir, tmp_path, SegmentCache(tmp_path / "cache", 0, FFMPEG))
    await studio.render(CLIPS)
    report = await studio.report()
    assert [(c.cache, c.pieces_cached, c.sound_cached) for c in report.clips] == [(CacheUse.NONE, None, None)] * 3
    assert [c.pieces_made for c in report.clips] == [c.pieces for c in report.clips]
    assert (report.pieces_cached, report.result_cached) == (None, None)
    plausible(report)


async def test_a_changed_source_or_setting_misses(
    sources_dir: Path, tmp_path: Path, cache: SegmentCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = Runs(monkeypatch)
    studio = Studio(sources_dir, tmp_path, cache, preview_height=120)
    await studio.render(CLIPS, preview=True)
    runs.take()
    smaller = Studio(sources_dir, tmp_path / "other", cache, preview_height=60)
    await smaller.render(CLIPS, preview=True)
    assert len([argv for argv in runs.take() if "-vf" in argv]) >= len(CLIPS)  # every picture made again
    make_video(sources_dir / "b.mov", duration=3.0, size="160x120", fps="25", audio=False, offset=600)
    result = await studio.render(CLIPS, preview=True)
    remade = written(runs.take())
    assert any(name.startswith("002-") for name in remade)
    assert not any(name.startswith(("001-", "003-")) for name in remade)
    assert holds(result, range(605, 635))


async def test_eviction_keeps_the_cache_under_its_bound(sources_dir: Path, tmp_path: Path) -> None:
    unbounded = SegmentCache(tmp_path / "cache", 10**9, FFMPEG)
    await Studio(sources_dir, tmp_path, unbounded).render(CLIPS)
    total = unbounded.size()
    bound = total // 3
    bounded = SegmentCache(tmp_path / "cache", bound, FFMPEG)
    await Studio(sources_dir, tmp_path / "again", bounded).render([ClipInput("a.mp4", 0.2, 3.9)])
    assert 0 < bounded.size() <= bound


async def test_two_renders_racing_for_the_same_pieces_both_end_right(
    sources_dir: Path, tmp_path: Path, cache: SegmentCache
) -> None:
    one, two = Studio(sources_dir, tmp_path / "one", cache), Studio(sources_dir, tmp_path / "two", cache)
    first, second = await asyncio.gather(one.render(CLIPS), two.render(CLIPS))
    assert holds(first, range(505, 535)) and frame_indices(second) == frame_indices(first)
    other = SegmentCache(tmp_path / "cache", 10**9, FFMPEG)  # another process racing the same folder
    third = await Studio(sources_dir, tmp_path / "three", other).render(CLIPS)
    assert other.misses == 0 and frame_indices(third) == frame_indices(first)
    assert not [path for path in (tmp_path / "cache").rglob(".*")]  # no partial file left behind


@pytest.mark.parametrize("damage", ["truncate", "flip"])
async def test_a_damaged_entry_is_made_again_and_never_joined(
    sources_dir: Path, tmp_path: Path, cache: SegmentCache, damage: str
) -> None:
    studio = Studio(sources_dir, tmp_path, cache)
    await studio.render(CLIPS)
    for entry in (tmp_path / "cache").glob("??/*"):
        if entry.suffix == ".sum":
            continue
        data = bytearray(entry.read_bytes())
        os.unlink(entry)  # the render's own links keep their bytes
        entry.write_bytes(bytes(data[: len(data) // 2]) if damage == "truncate" else bytes(b ^ 0xFF for b in data))
    later = SegmentCache(tmp_path / "cache", 10**9, FFMPEG)
    result = await Studio(sources_dir, tmp_path / "later", later).render(CLIPS)
    assert later.hits == 0 and holds(result, range(505, 535))
