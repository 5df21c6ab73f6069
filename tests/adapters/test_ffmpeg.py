"""Renders with ffmpeg on real media: which frames the output holds, its streams, its audio."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from media import FFMPEG, FFPROBE, audio_samples, frame_indices, probe, rms, stream

from kalinsky_adapters.binaries import find_font
from kalinsky_adapters.ffmpeg import CodecRules, ffmpeg_rendering
from kalinsky_adapters.ffmpeg.args import escape_filter_value
from kalinsky_adapters.ffprobe import FfprobeProber
from kalinsky_adapters.memory import InMemoryRepo
from kalinsky_adapters.source_files import SourceFolder
from kalinsky_core import services
from kalinsky_core.errors import RenderFailed
from kalinsky_core.model import Assembly, AssemblyStatus, ClipInput
from kalinsky_core.plan import plan_render, sources_by_filename

RULES = CodecRules()


async def render(sources_dir: Path, output_dir: Path, clips: list[ClipInput], preview: bool = False,
                 preview_height: int | None = None) -> Assembly:
    repo = InMemoryRepo()
    await services.reindex(FfprobeProber(sources_dir, FFPROBE), repo)
    rendering = ffmpeg_rendering(sources_dir, output_dir, FFMPEG, FFPROBE, preview_height=preview_height)
    assembly = await services.create_assembly(repo, RULES, clips, preview=preview)
    return await services.render_assembly(assembly, repo, rendering)


# a.mp4: 120 frames at 30 fps, keyframe every 30 frames; b.mov: 75 frames at 25 fps (coded 500..574), no audio
CLIPS = [
    ClipInput("a.mp4", 1.5, 2.5),  # off keyframe, across one
    ClipInput("a.mp4", 0.0, 0.51),  # from frame 0; 0.51 s ends after frame 15
    ClipInput("a.mp4", 2.1, 2.4),  # inside one GOP
    ClipInput("a.mp4", 3.5),  # to the source's end
]
EXPECTED = [*range(45, 75), *range(0, 16), *range(63, 72), *range(105, 120)]


@pytest.mark.parametrize("preview", [False, True], ids=["clean", "preview"])
async def test_output_holds_exactly_the_frames_of_each_clip(tmp_path: Path, sources_dir: Path, preview: bool) -> None:
    done = await render(sources_dir, tmp_path / "out", CLIPS, preview=preview)
    assert done.status is AssemblyStatus.DONE, done.error
    result = tmp_path / "out" / done.id / "result.mp4"
    assert frame_indices(result) == EXPECTED
    report = probe(result)
    video, audio = stream(report, "video"), stream(report, "audio")
    assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p"
    assert float(video["duration"]) == pytest.approx(len(EXPECTED) / 30, abs=1e-3)
    assert abs(float(audio["duration"]) - float(video["duration"])) <= 1 / 30
    assert done.duration == pytest.approx(len(EXPECTED) / 30, abs=1 / 30)
    assert sorted(p.name for p in result.parent.iterdir()) == ["result.mp4"]  # segments are cleaned up


async def test_mixed_sources_are_scaled_and_converted_to_the_first_clip(tmp_path: Path, sources_dir: Path) -> None:
    done = await render(sources_dir, tmp_path / "out", [ClipInput("b.mov", 0.0, 1.0), ClipInput("a.mp4", 0.0, 1.0)])
    result = tmp_path / "out" / done.id / "result.mp4"
    video = stream(probe(result), "video")
    assert (video["width"], video["height"], video["r_frame_rate"]) == (160, 120, "25/1")
    # 1 s of a.mp4 at 30 fps shown at 25 fps: 25 frames, each a frame of 0..29 in order, 5 dropped
    frames = frame_indices(result)
    assert frames[:25] == list(range(500, 525))
    assert len(frames) == 50 and frames[25:] == sorted(frames[25:]) and set(frames[25:]) <= set(range(30))
    assert stream(probe(result), "audio") is not None  # b.mov has none: silence keeps the track whole


async def test_preview_is_smaller_and_carries_a_timecode(tmp_path: Path, sources_dir: Path) -> None:
    done = await render(sources_dir, tmp_path / "out", [ClipInput("a.mp4", 0.0, 1.0)], preview=True,
                        preview_height=120)
    result = tmp_path / "out" / done.id / "result.mp4"
    video = stream(probe(result), "video")
    assert (video["width"], video["height"]) == (160, 120)
    assert frame_indices(result) == list(range(30))
    # stripes are uniform top to bottom; the overlay box at the top left breaks that
    assert frame_indices(result, row_fraction=0.08) != list(range(30))


async def test_audio_fades_at_every_trim_boundary(tmp_path: Path, sources_dir: Path) -> None:
    done = await render(sources_dir, tmp_path / "out", [ClipInput("a.mp4", 0.5, 1.5), ClipInput("a.mp4", 2.0, 3.0)])
    samples = audio_samples(tmp_path / "out" / done.id / "result.mp4")
    rate = 48000
    assert len(samples) == pytest.approx(2 * rate, abs=rate / 30)
    steady = rms(samples[rate // 4: rate // 2])
    assert steady > 1000
    for boundary in (0, rate, 2 * rate):  # start, the join, the end
        edge = samples[max(0, boundary - rate // 500): boundary + rate // 500]  # ±2 ms
        assert rms(edge) < steady * 0.15, boundary


async def test_a_failing_ffmpeg_fails_the_render_with_its_message(tmp_path: Path, sources_dir: Path) -> None:
    repo = InMemoryRepo()
    await services.reindex(FfprobeProber(sources_dir, FFPROBE), repo)
    rendering = ffmpeg_rendering(sources_dir, tmp_path / "out", FFMPEG, FFPROBE)
    assembly = await services.create_assembly(repo, RULES, [ClipInput("a.mp4"), ClipInput("b.mov")])
    size = (sources_dir / "b.mov").stat().st_size
    (sources_dir / "b.mov").write_bytes(b"\0" * size)  # corrupt, same size
    # as if it had been indexed like this (ffprobe would refuse it): only ffmpeg can tell
    folder = SourceFolder(sources_dir)
    indexed = await repo.list_sources()
    await repo.replace_sources([attrs.evolve(s, identity=folder.identity(s.filename)) for s in indexed])
    failed = await services.render_assembly(assembly, repo, rendering)
    assert failed.status is AssemblyStatus.FAILED
    assert "clip 2 (b.mov)" in failed.error and "Invalid data" in failed.error
    assert not (tmp_path / "out" / assembly.id).exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda path: path.write_bytes(b"truncated"), "Source b.mov changed since it was indexed (4996 bytes, now 9)"),
        (lambda path: path.unlink(), "Source b.mov is gone since it was indexed: reindex"),
    ],
    ids=["changed", "vanished"],
)
async def test_a_source_changed_since_indexing_fails_the_render_clearly(
    tmp_path: Path, sources_dir: Path, change, message: str
) -> None:
    repo = InMemoryRepo()
    await services.reindex(FfprobeProber(sources_dir, FFPROBE), repo)
    rendering = ffmpeg_rendering(sources_dir, tmp_path / "out", FFMPEG, FFPROBE)
    assembly = await services.create_assembly(repo, RULES, [ClipInput("a.mp4"), ClipInput("b.mov")])
    change(sources_dir / "b.mov")
    failed = await services.render_assembly(assembly, repo, rendering)
    assert failed.status is AssemblyStatus.FAILED and failed.error.startswith(message)


async def test_cut_raises_render_failed_for_a_missing_source(tmp_path: Path, sources_dir: Path) -> None:
    repo = InMemoryRepo()
    await services.reindex(FfprobeProber(sources_dir, FFPROBE), repo)
    assembly = await services.create_assembly(repo, RULES, [ClipInput("a.mp4")])
    plan = plan_render(assembly, sources_by_filename(await repo.list_sources()), RULES, fade_ms=50)
    (sources_dir / "a.mp4").unlink()
    rendering = ffmpeg_rendering(sources_dir, tmp_path / "out", FFMPEG, FFPROBE)

    async def ignore(_seconds: float) -> None:
        pass

    with pytest.raises(RenderFailed, match="Source a.mp4 is gone since it was indexed"):
        await rendering.cutter.cut(plan, plan.segments[0], ignore)


def test_filter_values_survive_both_escaping_levels() -> None:
    assert escape_filter_value("/f/it's: a[1],b;c\\d") == "/f/it\\\\\\'s\\\\: a\\[1\\]\\,b\\;c\\\\\\\\d"


async def test_previews_work_without_system_fonts(tmp_path: Path, sources_dir: Path, monkeypatch) -> None:
    monkeypatch.setattr("kalinsky_adapters.binaries.shutil.which", lambda _name: None)  # no fontconfig
    font = find_font()
    assert font.endswith("Roboto-Regular.ttf")
    repo = InMemoryRepo()
    await services.reindex(FfprobeProber(sources_dir, FFPROBE), repo)
    rendering = ffmpeg_rendering(sources_dir, tmp_path / "out", FFMPEG, FFPROBE, font=font)
    assembly = await services.create_assembly(repo, RULES, [ClipInput("a.mp4", 0.0, 1.0)], preview=True)
    done = await services.render_assembly(assembly, repo, rendering)
    result = tmp_path / "out" / done.id / "result.mp4"
    assert frame_indices(result) == list(range(30))
    assert frame_indices(result, row_fraction=0.04) != list(range(30))  # the timecode box is there


async def test_a_clip_that_comes_out_short_fails_instead_of_losing_frames(tmp_path: Path, sources_dir: Path) -> None:
    repo = InMemoryRepo()
    await services.reindex(FfprobeProber(sources_dir, FFPROBE), repo)
    assembly = await services.create_assembly(repo, RULES, [ClipInput("a.mp4", 3.5)])
    plan = plan_render(assembly, sources_by_filename(await repo.list_sources()), RULES, fade_ms=50)
    (segment,) = plan.segments
    # as if the index promised more than the file holds: 50 frames asked where 15 remain
    greedy = attrs.evolve(segment, pieces=(attrs.evolve(segment.pieces[0], output_frames=50),))
    rendering = ffmpeg_rendering(sources_dir, tmp_path / "out", FFMPEG, FFPROBE)

    async def ignore(_seconds: float) -> None:
        pass

    with pytest.raises(RenderFailed, match="ffmpeg made 15 of 50 frames for clip 1 .a.mp4.: the source ends early"):
        await rendering.cutter.cut(plan, greedy, ignore)


async def test_a_damaged_piece_fails_the_join_with_ffmpegs_own_words(tmp_path: Path, sources_dir: Path) -> None:
    repo = InMemoryRepo()
    await services.reindex(FfprobeProber(sources_dir, FFPROBE), repo)
    assembly = await services.create_assembly(repo, RULES, [ClipInput("a.mp4", 0.5, 2.5)], preview=False)
    plan = plan_render(assembly, sources_by_filename(await repo.list_sources()), RULES, fade_ms=50)
    rendering = ffmpeg_rendering(sources_dir, tmp_path / "out", FFMPEG, FFPROBE)

    async def ignore(_seconds: float) -> None:
        pass

    (segment,) = plan.segments
    cut, audio = await rendering.cutter.cut(plan, segment, ignore), await rendering.cutter.cut_audio(plan)
    assert [piece.copy for piece in segment.pieces][:2] == [False, True]  # re-encoded head, copied GOPs
    Path(cut.video_files[1]).write_bytes(b"\0" * 1000)
    with pytest.raises(RenderFailed) as failed:
        await rendering.concatenator.concat(plan, [cut], audio, ignore)
    assert "joining the clips" in failed.value.message and "001-1.mov" in failed.value.message
    assert "whitelist" not in failed.value.message and "Last message" not in failed.value.message
