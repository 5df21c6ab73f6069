"""Source identity: a render reads only the files indexed, and only inside the sources folder.

A source swapped for another file (same name, same size), replaced while a render reads it, or turned into a link
out of the folder fails the render with a message saying so, and leaves no result; a reindex of unchanged files
neither probes nor hashes them again.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from media import FFMPEG, FFPROBE, make_video

import kalinsky_adapters.source_files
from kalinsky_adapters.ffmpeg import CodecRules, ffmpeg_rendering
from kalinsky_adapters.ffprobe import FfprobeProber
from kalinsky_adapters.memory import InMemoryRepo
from kalinsky_core import services
from kalinsky_core.errors import RenderFailed
from kalinsky_core.model import AssemblyStatus, ClipInput
from kalinsky_core.plan import plan_render, sources_by_filename

RULES = CodecRules()


def same_size_copy(path: Path, size: int) -> Path:
    """`path` padded with zeros (after its last box: players ignore them) to `size` bytes."""
    data = path.read_bytes()
    assert len(data) < size
    path.write_bytes(data + b"\0" * (size - len(data)))
    return path


async def indexed(sources_dir: Path) -> InMemoryRepo:
    repo = InMemoryRepo()
    index = await services.reindex(FfprobeProber(sources_dir, FFPROBE), repo)
    assert {s.filename for s in index.sources} == {"a.mp4", "b.mov"}
    return repo


async def render(repo: InMemoryRepo, sources_dir: Path, output_dir: Path, clips: list[ClipInput]):
    rendering = ffmpeg_rendering(sources_dir, output_dir, FFMPEG, FFPROBE)
    assembly = await services.create_assembly(repo, RULES, clips, preview=False)
    return await services.render_assembly(assembly, repo, rendering)


@pytest.mark.parametrize("in_place", [True, False], ids=["written-in-place-same-mtime", "renamed-over"])
async def test_a_same_size_swap_fails_the_render_and_keeps_no_output(
    tmp_path: Path, sources_dir: Path, in_place: bool
) -> None:
    repo = await indexed(sources_dir)
    original = sources_dir / "b.mov"
    before = original.stat()
    other = make_video(tmp_path / "other.mov", duration=2.0, size="160x120", fps="25", audio=False, offset=700)
    same_size_copy(other, before.st_size)
    if in_place:  # the same inode, its old modification time put back: only the content tells
        original.write_bytes(other.read_bytes())
        os.utime(original, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert (original.stat().st_ino, original.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    else:
        os.replace(other, original)
    assert original.stat().st_size == before.st_size

    failed = await render(repo, sources_dir, tmp_path / "out", [ClipInput("b.mov", 0.0, 1.0)])

    assert failed.status is AssemblyStatus.FAILED
    change = "its content differs" if in_place else "another file took its place"
    assert failed.error == f"Source b.mov changed since it was indexed ({change}): reindex"
    assert not (tmp_path / "out" / failed.id).exists()


async def test_a_source_replaced_while_the_render_reads_it_fails_the_render(
    tmp_path: Path, sources_dir: Path
) -> None:
    long = make_video(sources_dir / "long.mp4", duration=12.0, size="320x240", audio=False)
    replacement = shutil.copy(sources_dir / "a.mp4", tmp_path / "replacement.mp4")
    repo = InMemoryRepo()
    await services.reindex(FfprobeProber(sources_dir, FFPROBE), repo)
    rendering = ffmpeg_rendering(sources_dir, tmp_path / "out", FFMPEG, FFPROBE)
    # off a keyframe and as a preview: encoded, so it takes a while
    assembly = await services.create_assembly(repo, RULES, [ClipInput("long.mp4", 0.1, 11.9)], preview=True)
    task = asyncio.ensure_future(services.render_assembly(assembly, repo, rendering))
    while (stored := await repo.get(assembly.id)) is not None and stored.progress <= 0 and not task.done():
        await asyncio.sleep(0.005)
    assert not task.done(), "the render ended before the file could be replaced"
    os.replace(replacement, long)  # `mv new.mp4 long.mp4` while ffmpeg reads the old file
    finished = await task

    assert finished.status is AssemblyStatus.FAILED, finished
    assert finished.error.startswith("Source long.mp4 changed since it was indexed (")
    assert finished.error.endswith("): reindex")
    assert not (tmp_path / "out" / assembly.id).exists()


async def test_a_source_turned_into_a_link_out_of_the_folder_is_never_read(tmp_path: Path, sources_dir: Path) -> None:
    repo = await indexed(sources_dir)
    outside = shutil.copy(sources_dir / "b.mov", tmp_path / "outside.mov")  # the very same bytes, elsewhere
    (sources_dir / "b.mov").unlink()
    (sources_dir / "b.mov").symlink_to(outside)

    failed = await render(repo, sources_dir, tmp_path / "out", [ClipInput("b.mov", 0.0, 1.0)])

    assert failed.status is AssemblyStatus.FAILED
    assert failed.error == "Source b.mov changed since it was indexed (it now leads out of the sources folder): reindex"
    assert not (tmp_path / "out" / failed.id).exists()
    index = await services.reindex(FfprobeProber(sources_dir, FFPROBE), repo)
    assert [s.filename for s in index.sources] == ["a.mp4"]
    assert ("b.mov", "a link to a file outside the sources folder") in {(s.filename, s.reason) for s in index.skipped}


async def test_a_link_to_a_file_inside_the_folder_is_a_source(tmp_path: Path, sources_dir: Path) -> None:
    (sources_dir / "same.mp4").symlink_to("a.mp4")
    repo = InMemoryRepo()
    index = await services.reindex(FfprobeProber(sources_dir, FFPROBE), repo)
    assert [s.filename for s in index.sources] == ["a.mp4", "b.mov", "same.mp4"]
    done = await render(repo, sources_dir, tmp_path / "out", [ClipInput("same.mp4", 0.0, 1.0)])
    assert done.status is AssemblyStatus.DONE, done.error


async def test_skip_reasons_name_no_path(sources_dir: Path) -> None:
    index = await services.reindex(FfprobeProber(sources_dir, FFPROBE), InMemoryRepo())
    (broken,) = index.skipped
    assert broken.filename == "broken.mp4"
    assert broken.reason == "Invalid data found when processing input"


async def test_a_reindex_of_unchanged_files_neither_probes_nor_hashes_them(
    sources_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prober = FfprobeProber(sources_dir, FFPROBE)
    probed: list[str] = []
    hashed: list[int] = []
    probe_path, digest = prober.probe_path, kalinsky_adapters.source_files._digest

    async def counted_probe(path: Path):
        probed.append(path.name)
        return await probe_path(path)

    def counted_digest(fd: int, size: int) -> str:
        hashed.append(size)
        return digest(fd, size)

    monkeypatch.setattr(prober, "probe_path", counted_probe)
    monkeypatch.setattr(kalinsky_adapters.source_files, "_digest", counted_digest)
    repo = InMemoryRepo()
    first = await services.reindex(prober, repo)
    assert sorted(probed) == ["a.mp4", "b.mov", "broken.mp4"] and len(hashed) == 3
    assert all(s.identity is not None and len(s.identity.digest) == 32 for s in first.sources)

    probed.clear(), hashed.clear()
    again = await services.reindex(prober, repo)
    assert again.sources == first.sources
    assert probed == ["broken.mp4"] and len(hashed) == 1  # only the file that was skipped is tried again

    probed.clear(), hashed.clear()
    os.utime(sources_dir / "a.mp4", ns=(10**18, 10**18))  # touched: probed and hashed again
    touched = await services.reindex(prober, repo)
    assert sorted(probed) == ["a.mp4", "broken.mp4"] and len(hashed) == 2
    assert touched.sources[0].identity.mtime_ns == 10**18


async def test_the_join_moves_no_result_into_place_when_a_source_changed_after_it_was_cut(
    tmp_path: Path, sources_dir: Path
) -> None:
    repo = await indexed(sources_dir)
    assembly = await services.create_assembly(repo, RULES, [ClipInput("a.mp4", 0.5, 2.5)], preview=False)
    plan = plan_render(assembly, sources_by_filename(await repo.list_sources()), RULES, fade_ms=50)
    rendering = ffmpeg_rendering(sources_dir, tmp_path / "out", FFMPEG, FFPROBE)

    async def ignore(_seconds: float) -> None:
        pass

    (segment,) = plan.segments
    cut, audio = await rendering.cutter.cut(plan, segment, ignore), await rendering.cutter.cut_audio(plan)
    os.replace(shutil.copy(sources_dir / "a.mp4", tmp_path / "copy.mp4"), sources_dir / "a.mp4")  # same bytes
    with pytest.raises(RenderFailed, match=r"Source a.mp4 changed since it was indexed \(another file took its place"):
        await rendering.concatenator.concat(plan, [cut], audio, ignore)
    assert not (tmp_path / "out" / assembly.id / "result.mp4").exists()


async def test_an_unreadable_joined_output_is_told_without_its_path(tmp_path: Path, sources_dir: Path) -> None:
    rendering = ffmpeg_rendering(sources_dir, tmp_path / "out", FFMPEG, FFPROBE)
    damaged = tmp_path / "out" / "asm_001" / "segments" / "result.mp4"
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"not a video")
    with pytest.raises(RenderFailed) as failed:
        await rendering.concatenator.measure_duration(damaged)
    assert "output/asm_001/segments/result.mp4" in failed.value.message
    assert str(tmp_path) not in failed.value.message
