"""Preview proxies on real media: every frame at its time, previews read from them exactly, stale ones go."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest
from media import FFMPEG, FFPROBE, frame_indices, make_video, probe, stream

from kalinsky_adapters.ffmpeg import CodecRules, ffmpeg_rendering
from kalinsky_adapters.ffmpeg import jobs as ffmpeg_jobs
from kalinsky_adapters.ffprobe import FfprobeProber
from kalinsky_adapters.memory import InMemoryRepo
from kalinsky_adapters.proxies import PreviewProxies
from kalinsky_core import services
from kalinsky_core.model import AssemblyStatus, ClipInput, Source
from kalinsky_core.plan import frame_span

RULES = CodecRules()
HEIGHT = 120  # previews of these 320x240 sources are 160x120: each gets a proxy


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("proxied")
    make_video(folder / "gop.mp4", duration=3.0, extra=("-sc_threshold", "0"))  # B-frames, keyframe every 30
    make_video(folder / "phone.mp4", duration=2.0, offset=300, rotated=True)
    # Opus starts before the picture: the file's timeline starts 6.5 ms before the first frame
    make_video(folder / "vp9.webm", duration=2.0, offset=500, codec="libvpx-vp9",
               extra=("-deadline", "realtime", "-cpu-used", "8"))
    make_video(folder / "steady.mkv", duration=2.0, offset=700, audio=False)
    subprocess.run([FFMPEG, "-v", "error", "-y", "-i", str(folder / "steady.mkv"), "-vf",
                    "setpts='(N/30+mod(N,3)*0.004)/TB'", "-fps_mode", "passthrough", "-c:v", "libx264",
                    str(folder / "vfr.mkv")], check=True)
    (folder / "steady.mkv").unlink()
    make_video(folder / "pcm.mov", duration=1.0, offset=800, extra=("-c:a", "pcm_s16le"))  # as cameras record
    make_video(folder / "small.mp4", duration=1.0, size="160x120", offset=900)  # no bigger than a preview
    return folder


async def indexed(folder: Path) -> tuple[InMemoryRepo, dict[str, Source]]:
    repo = InMemoryRepo()
    index = await services.reindex(FfprobeProber(folder, FFPROBE), repo)
    return repo, {source.filename: source for source in index.sources}


def proxies_of(library: Path, tmp_path: Path) -> PreviewProxies:
    return PreviewProxies(library, tmp_path / "proxies", FFMPEG, FFPROBE, HEIGHT)


@pytest.mark.parametrize("name", ["gop.mp4", "phone.mp4", "vp9.webm", "vfr.mkv", "pcm.mov"])
async def test_a_proxy_holds_every_frame_upright_at_preview_size(library: Path, tmp_path: Path, name: str) -> None:
    _repo, sources = await indexed(library)
    proxy = await proxies_of(library, tmp_path).make(sources[name])
    assert proxy is not None
    video = stream(probe(proxy), "video")
    assert (video["height"], video["codec_name"]) == (HEIGHT, "h264")
    assert not video.get("side_data_list")  # upright: no rotation left to apply
    assert frame_indices(proxy) == frame_indices(library / name)


async def test_sources_no_taller_than_a_preview_get_no_proxy(library: Path, tmp_path: Path) -> None:
    _repo, sources = await indexed(library)
    assert await proxies_of(library, tmp_path).make(sources["small.mp4"]) is None
    assert not (tmp_path / "proxies").exists()


class FrameDroppingProxies(PreviewProxies):
    def command(self, path: Path, source: Source, destination: Path) -> list[str]:
        argv = super().command(path, source, destination)
        graph = argv.index("-vf") + 1
        argv[graph] = "select='not(eq(n\\,5))'," + argv[graph]
        return argv


async def test_a_proxy_whose_frames_differ_from_the_sources_is_thrown_away(library: Path, tmp_path: Path) -> None:
    _repo, sources = await indexed(library)
    proxies = FrameDroppingProxies(library, tmp_path / "proxies", FFMPEG, FFPROBE, HEIGHT)
    assert await proxies.make(sources["gop.mp4"]) is None
    assert proxies.ready("gop.mp4") is None and os.listdir(tmp_path / "proxies") == []


async def test_previews_read_proxies_and_hold_exactly_the_clips_frames(
    library: Path, tmp_path: Path, monkeypatch
) -> None:
    repo, sources = await indexed(library)
    proxies = proxies_of(library, tmp_path)
    await proxies.make_all(list(sources.values()))
    read: list[str] = []
    run = ffmpeg_jobs.process.run

    async def recording_run(argv, *args, **kwargs):
        read.extend(argv[argv.index("-i") + 1:argv.index("-i") + 2] if "-vf" in argv else [])
        return await run(argv, *args, **kwargs)

    monkeypatch.setattr(ffmpeg_jobs.process, "run", recording_run)
    clips = [ClipInput("gop.mp4", 0.5, 2.5), ClipInput("phone.mp4", 0.2, 1.1), ClipInput("vp9.webm", 1.0, 1.5),
             ClipInput("vfr.mkv", 0.3, 0.9), ClipInput("gop.mp4", 1.0, 1.1), ClipInput("small.mp4", 0.0, 0.5)]
    rendering = ffmpeg_rendering(library, tmp_path / "out", FFMPEG, FFPROBE, proxies=proxies, preview_height=HEIGHT)
    assembly = await services.create_assembly(repo, RULES, clips, preview=True)
    done = await services.render_assembly(assembly, repo, rendering)
    assert done.status is AssemblyStatus.DONE, done.error
    offsets = {"gop.mp4": 0, "phone.mp4": 300, "vp9.webm": 500, "vfr.mkv": 700, "small.mp4": 900}
    expected = [offsets[clip.source] + frame for clip in clips
                for frame in range(*frame_span(clip.start, clip.end, sources[clip.source].fps))]
    assert frame_indices(tmp_path / "out" / done.id / "result.mp4") == expected
    proxied = {f"file:{proxies.ready(name)}" for name in offsets if name != "small.mp4"}
    assert set(read) == proxied | {f"file:{library / 'small.mp4'}"}


async def test_clean_renders_never_read_proxies(library: Path, tmp_path: Path, monkeypatch) -> None:
    repo, sources = await indexed(library)
    proxies = proxies_of(library, tmp_path)
    await proxies.make(sources["gop.mp4"])
    rendering = ffmpeg_rendering(library, tmp_path / "out", FFMPEG, FFPROBE, proxies=proxies, preview_height=HEIGHT)
    assembly = await services.create_assembly(repo, RULES, [ClipInput("gop.mp4", 0.5, 1.5)], preview=False)
    done = await services.render_assembly(assembly, repo, rendering)
    result = tmp_path / "out" / done.id / "result.mp4"
    assert stream(probe(result), "video")["height"] == 240 and frame_indices(result) == list(range(15, 45))


async def test_a_changed_source_loses_its_proxy_and_stale_proxies_are_removed(tmp_path: Path) -> None:
    folder = tmp_path / "sources"
    folder.mkdir()
    make_video(folder / "a.mp4", duration=1.0)
    make_video(folder / "b.mp4", duration=1.0, offset=100)
    _repo, sources = await indexed(folder)
    proxies = PreviewProxies(folder, tmp_path / "proxies", FFMPEG, FFPROBE, HEIGHT)
    await proxies.make_all(list(sources.values()))
    old_a, old_b = proxies.ready("a.mp4"), proxies.ready("b.mp4")
    assert old_a is not None and old_b is not None
    make_video(folder / "a.mp4", duration=1.5)  # replaced under the same name
    assert proxies.ready("a.mp4") is None  # previews read the new file itself until its proxy is made
    (folder / "b.mp4").unlink()
    _repo, sources = await indexed(folder)
    await proxies.make_all(list(sources.values()))
    assert sorted(os.listdir(tmp_path / "proxies")) == [proxies.ready("a.mp4").name]
    assert frame_indices(proxies.ready("a.mp4")) == list(range(45))


async def test_a_source_replaced_by_a_file_of_the_same_size_and_time_loses_its_proxy(tmp_path: Path) -> None:
    folder = tmp_path / "sources"
    folder.mkdir()
    make_video(folder / "a.mp4", duration=1.0)
    _repo, sources = await indexed(folder)
    proxies = PreviewProxies(folder, tmp_path / "proxies", FFMPEG, FFPROBE, HEIGHT)
    assert await proxies.make(sources["a.mp4"]) is not None
    before = (folder / "a.mp4").stat()
    replacement = tmp_path / "other.mp4"
    replacement.write_bytes((folder / "a.mp4").read_bytes())  # the same size; another file
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, folder / "a.mp4")
    assert proxies.ready("a.mp4") is None


async def test_a_source_turned_into_a_link_out_of_the_folder_gets_no_proxy(tmp_path: Path) -> None:
    folder = tmp_path / "sources"
    folder.mkdir()
    make_video(folder / "a.mp4", duration=1.0)
    _repo, sources = await indexed(folder)
    (folder / "a.mp4").rename(tmp_path / "outside.mp4")
    (folder / "a.mp4").symlink_to(tmp_path / "outside.mp4")
    proxies = PreviewProxies(folder, tmp_path / "proxies", FFMPEG, FFPROBE, HEIGHT)
    assert await proxies.make(sources["a.mp4"]) is None and proxies.ready("a.mp4") is None


async def test_refresh_works_in_the_background_and_stops_on_close(library: Path, tmp_path: Path) -> None:
    _repo, sources = await indexed(library)
    proxies = proxies_of(library, tmp_path)
    proxies.refresh(list(sources.values()))
    async with asyncio.timeout(60):
        while proxies.ready("gop.mp4") is None:
            await asyncio.sleep(0.05)
    await proxies.aclose()  # stops whatever is still being made
    left = sorted(os.listdir(tmp_path / "proxies"))
    finished = sorted(path.name for path in map(proxies.ready, sources) if path is not None)
    assert left == finished  # no partial file stays behind
    assert len(finished) < len([s for s in sources.values() if proxies.wanted(s)])  # it stopped midway
    await asyncio.sleep(0.5)
    assert sorted(os.listdir(tmp_path / "proxies")) == left  # and nothing goes on after close
