"""Kalinsky on Debian's own ffmpeg 5.1 (bookworm's `apt install ffmpeg`, which wins over the wheel's 6.0 when it is
on PATH): indexing, clean and preview renders, proxies, posters, filmstrips, waveforms and the join check.

`.ci/debian-ffmpeg` unpacks Debian's ffmpeg into a private prefix and `.ci/run` points KALINSKY_TEST_DEBIAN_FFMPEG
at its `bin` folder; without the variable the tests look in the script's default prefix, and run the script when
it is empty. They fail, not skip, when they still find none: a skipped check of this kind goes unnoticed. The
sources are made, and the outputs read back, with the wheel's ffmpeg (tests/media.py); only Kalinsky's own
commands run 5.1, and where an output has no exact expected content (posters, filmstrips, timecodes) it is
compared with the one 6.0 makes.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import pytest
from adapters.test_phone_footage import (
    BT709_TAGS,
    HLG_TAGS,
    MASTERING,
    PATCH,
    PQ_TAGS,
    TO_HLG,
    TO_PQ,
    X265,
    assert_same_colour,
    colour_tags,
    hdr_side_data,
    patch_rgb,
    rotation,
    segment_middles,
)
from media import FFMPEG, FFPROBE, decode_errors, frame_indices, make_video, probe, stream

from kalinsky_adapters.ffmpeg import FfmpegCommands, ffmpeg_rendering
from kalinsky_adapters.ffmpeg.joiner import decode_errors_around
from kalinsky_adapters.ffprobe import FfprobeProber
from kalinsky_adapters.memory import InMemoryRepo
from kalinsky_adapters.proxies import PreviewProxies
from kalinsky_adapters.source_files import SourceFolder
from kalinsky_adapters.thumbnails import FfmpegThumbnailer
from kalinsky_adapters.timeline import FfmpegTimeline, filmstrip_layout
from kalinsky_core import services
from kalinsky_core.model import Assembly, AssemblyStatus, ClipInput, Source
from kalinsky_core.plan import frame_span
from kalinsky_core.report import RenderReport


def _debian_bin() -> Path:
    configured = os.environ.get("KALINSKY_TEST_DEBIAN_FFMPEG")
    if configured:
        return Path(configured)
    prefix = os.environ.get("KALINSKY_DEBIAN_FFMPEG_PREFIX") or (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kalinsky" / "debian-ffmpeg")
    if not (Path(prefix) / "bin" / "ffmpeg").is_file():
        # a machine where `.ci/run` has not run: fetch it as that does (nothing is installed; quiet without apt)
        script = Path(__file__).resolve().parents[2] / ".ci" / "debian-ffmpeg"
        found = subprocess.run([str(script)], capture_output=True, text=True).stdout.strip()
        if found:
            return Path(found)
    return Path(prefix) / "bin"


BIN = _debian_bin()
FFMPEG_51, FFPROBE_51 = str(BIN / "ffmpeg"), str(BIN / "ffprobe")

SIZE = "180x320"  # portrait, as displayed
DURATION = 2.0
PREVIEW_HEIGHT = 160  # below the sources' height: they all get preview proxies
#: name: offset coded into its frames
OFFSETS = {"sdr.mp4": 0, "phone.mp4": 100, "hlg.mov": 200, "pq.mov": 300}


@pytest.fixture(scope="module", autouse=True)
def debian_ffmpeg() -> str:
    """Debian's ffmpeg 5.1 must be there (see the module's docstring)."""
    if not (BIN / "ffmpeg").is_file() or not (BIN / "ffprobe").is_file():
        pytest.fail(f"no Debian ffmpeg in {BIN}: run .ci/debian-ffmpeg (Debian, apt) or set "
                    "KALINSKY_TEST_DEBIAN_FFMPEG to a folder holding an ffmpeg and ffprobe 5.1")
    versions = [subprocess.run([tool, "-hide_banner", "-version"], capture_output=True, text=True, check=True)
                .stdout.split("\n", 1)[0] for tool in (FFMPEG_51, FFPROBE_51)]
    assert all(version.startswith(("ffmpeg version 5.1", "ffprobe version 5.1")) for version in versions), versions
    return versions[0]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("debian")
    # H.264 BT.709 with a colour patch; H.264 stored sideways with a 90° display matrix (both: B-frames, a keyframe
    # every second)
    make_video(folder / "sdr.mp4", duration=DURATION, size=SIZE,
               extra=("-vf", PATCH, *BT709_TAGS, "-sc_threshold", "0"))
    make_video(folder / "phone.mp4", duration=DURATION, size=SIZE, rotated=True, offset=OFFSETS["phone.mp4"],
               extra=("-sc_threshold", "0"))
    # HEVC Main 10 HLG, and HEVC Main 10 PQ with HDR10 metadata, both with the patch
    make_video(folder / "hlg.mov", duration=DURATION, size=SIZE, codec="libx265", offset=OFFSETS["hlg.mov"],
               extra=("-vf", f"{PATCH},{TO_HLG}", "-pix_fmt", "yuv420p10le", *HLG_TAGS, *X265,
                      "-x265-params", "log-level=error:keyint=30"))
    make_video(folder / "pq.mov", duration=DURATION, size=SIZE, codec="libx265", offset=OFFSETS["pq.mov"],
               extra=("-vf", f"{PATCH},{TO_PQ}", "-pix_fmt", "yuv420p10le", *PQ_TAGS, *X265,
                      "-x265-params", f"log-level=error:keyint=30:hdr10=1:master-display={MASTERING}:max-cll=1000,400"))
    return folder


@pytest.fixture(scope="module")
def sources(library: Path) -> dict[str, Source]:
    index = asyncio.run(services.reindex(FfprobeProber(library, FFPROBE_51), InMemoryRepo()))
    return {source.filename: source for source in index.sources}


def expected(clips: Sequence[ClipInput]) -> list[int]:
    frames = []
    for clip in clips:
        first, stop = frame_span(clip.start or 0.0, clip.end if clip.end is not None else DURATION, Fraction(30))
        frames += [OFFSETS[str(clip.source)] + k for k in range(first, stop)]
    return frames


async def render(
    library: Path, out: Path, clips: Sequence[ClipInput], *, preview: bool = False, ffmpeg: str = FFMPEG_51,
    ffprobe: str = FFPROBE_51, proxies: PreviewProxies | None = None,
) -> tuple[Assembly, Path, RenderReport]:
    repo = InMemoryRepo()
    await services.reindex(FfprobeProber(library, ffprobe), repo)
    rendering = ffmpeg_rendering(library, out, ffmpeg, ffprobe, proxies=proxies,
                                 preview_height=PREVIEW_HEIGHT if preview else None)
    assembly = await services.create_assembly(repo, rendering.rules, clips, preview=preview)
    done = await services.render_assembly(assembly, repo, rendering)
    assert done.status is AssemblyStatus.DONE, done.error
    report = await repo.get_report(done.id)
    assert report is not None
    assert [join.decode_errors for join in report.joins] == [()] * (len(clips) - 1)  # the join check ran clean
    return done, out / done.id / "result.mp4", report


def gray(path: Path, *, frames: int = 1, vf: str = "null") -> tuple[int, int, bytes]:
    """Width, height and 8-bit luma of the first `frames` pictures of `path` (an image or a video, shown upright)."""
    video = stream(probe(path), "video")
    width, height = int(video["width"]), int(video["height"])
    if rotation(video) % 180:
        width, height = height, width
    raw = subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-i", str(path), "-frames:v", str(frames), "-vf", vf,
                          "-f", "rawvideo", "-pix_fmt", "gray", "-"], check=True, capture_output=True).stdout
    return width, height, raw


def mean_difference(a: bytes, b: bytes) -> float:
    assert len(a) == len(b) > 0
    return sum(abs(x - y) for x, y in zip(a, b)) / len(a)


# -- indexing -------------------------------------------------------------------------------------------------------


async def test_ffprobe_51_indexes_what_ffprobe_60_does(library: Path, sources: dict[str, Source]) -> None:
    reference = await services.reindex(FfprobeProber(library, FFPROBE), InMemoryRepo())
    assert {source.filename: source for source in reference.sources} == sources  # every field, keyframes and all
    phone, sdr, hlg, pq = (sources[name] for name in ("phone.mp4", "sdr.mp4", "hlg.mov", "pq.mov"))
    assert phone.coding is not None and (phone.width, phone.height, phone.coding.rotation) == (180, 320, 90)
    assert sdr.keyframes == (0, 30) and sdr.frame_count == 60 and sdr.copy_ends  # B-frames: runs end after anchors
    assert sdr.coding is not None and sdr.coding.parameter_sets  # the extradata's hash
    assert (sdr.coding.color_primaries, sdr.coding.color_transfer, sdr.coding.color_space) == ("bt709",) * 3
    assert hlg.coding is not None and (hlg.coding.codec, hlg.coding.pix_fmt, hlg.coding.color_transfer,
                                       hlg.coding.color_primaries) == ("hevc", "yuv420p10le", "arib-std-b67", "bt2020")
    assert pq.coding is not None and (pq.coding.master_display, pq.coding.max_cll) == (MASTERING, "1000,400")


# -- clean renders --------------------------------------------------------------------------------------------------

SMART_CUT = [ClipInput("sdr.mp4", 0.3, 1.7), ClipInput("sdr.mp4", 1.0, 2.0), ClipInput("sdr.mp4", 0.2, 0.5)]


@pytest.fixture(scope="module")
def smart_cut(library: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Assembly, Path, RenderReport]:
    return asyncio.run(render(library, tmp_path_factory.mktemp("smart-cut"), SMART_CUT))


async def test_a_clean_smart_cut_holds_exactly_the_clips_frames(
    smart_cut: tuple[Assembly, Path, RenderReport],
) -> None:
    done, result, _report = smart_cut
    assert [clip.video for clip in done.clips] == ["smart", "copy", "reencode"]
    video = stream(probe(result), "video")
    assert (video["codec_name"], video["pix_fmt"], colour_tags(video)) == ("h264", "yuv420p", ("bt709",) * 3)
    assert frame_indices(result) == expected(SMART_CUT)
    assert decode_errors(result) == ""


async def test_a_rotated_clean_render_keeps_its_rotation(library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("phone.mp4", 0.3, 1.7), ClipInput("phone.mp4", 1.0, 2.0), ClipInput("sdr.mp4", 0.5, 1.0)]
    done, result, _report = await render(library, tmp_path, clips)
    assert [clip.video for clip in done.clips] == ["smart", "copy", "reencode"]
    video = stream(probe(result), "video")
    assert (video["width"], video["height"], rotation(video)) == (320, 180, 90)  # stored sideways, shown upright
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""


async def test_an_hlg_first_clip_gives_hevc_hlg_with_sdr_and_pq_clips_converted(library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("hlg.mov", 0.3, 1.3), ClipInput("sdr.mp4", 0.5, 1.0), ClipInput("pq.mov", 0.5, 1.0)]
    done, result, _report = await render(library, tmp_path, clips)
    video = stream(probe(result), "video")
    assert (video["codec_name"], video["codec_tag_string"], video["profile"], video["pix_fmt"]) == (
        "hevc", "hvc1", "Main 10", "yuv420p10le")
    assert colour_tags(video) == ("bt2020", "arib-std-b67", "bt2020nc")
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""
    for n, (clip, middle) in enumerate(zip(clips, segment_middles(done))):
        source_time = (clip.start or 0.0) + done.clips[n].duration / 2
        assert_same_colour(patch_rgb(result, middle), patch_rgb(library / str(clip.source), source_time))


async def test_hdr_clips_after_an_sdr_first_clip_are_converted_and_tone_mapped(library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("sdr.mp4", 0.0, 1.0), ClipInput("hlg.mov", 0.5, 1.0), ClipInput("pq.mov", 0.5, 1.0)]
    done, result, _report = await render(library, tmp_path, clips)
    assert [clip.video for clip in done.clips] == ["copy", "reencode", "reencode"]
    video = stream(probe(result), "video")
    assert (video["codec_name"], video["pix_fmt"], colour_tags(video)) == ("h264", "yuv420p", ("bt709",) * 3)
    assert frame_indices(result) == expected(clips)
    _sdr, hlg_middle, pq_middle = segment_middles(done)
    assert_same_colour(patch_rgb(result, hlg_middle), patch_rgb(library / "hlg.mov", 0.75))
    # tone mapping darkens but keeps the hue
    (red, green, blue), (red0, green0, blue0) = patch_rgb(result, pq_middle), patch_rgb(library / "pq.mov", 0.75)
    assert red <= red0 + 8 and green <= green0 + 8 and blue <= blue0 + 8
    assert abs(red / green - red0 / green0) < 0.1 and abs(green / blue - green0 / blue0) < 0.25, (red, green, blue)


async def test_a_pq_first_clip_keeps_pq_and_its_hdr10_metadata(library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("pq.mov", 0.5, 1.5), ClipInput("sdr.mp4", 0.5, 1.0)]
    done, result, _report = await render(library, tmp_path, clips)
    video = stream(probe(result), "video")
    assert (video["codec_name"], video["codec_tag_string"], video["pix_fmt"]) == ("hevc", "hvc1", "yuv420p10le")
    assert colour_tags(video) == ("bt2020", "smpte2084", "bt2020nc")
    assert hdr_side_data(result) == hdr_side_data(library / "pq.mov") != {}
    assert frame_indices(result) == expected(clips)
    assert_same_colour(patch_rgb(result, segment_middles(done)[1]), patch_rgb(library / "sdr.mp4", 0.75))


# -- proxies and previews -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def proxies(library: Path, sources: dict[str, Source], tmp_path_factory: pytest.TempPathFactory) -> PreviewProxies:
    made = PreviewProxies(library, tmp_path_factory.mktemp("proxies"), FFMPEG_51, FFPROBE_51, PREVIEW_HEIGHT)
    asyncio.run(made.make_all(list(sources.values())))
    return made


async def test_proxies_hold_every_frame_upright_in_sdr(
    library: Path, sources: dict[str, Source], proxies: PreviewProxies
) -> None:
    for name, source in sources.items():
        proxy = proxies.ready(name)
        assert proxy is not None, name  # made, and its frame times checked against the source's
        video = stream(probe(proxy), "video")
        assert (video["codec_name"], video["pix_fmt"], video["width"], video["height"], rotation(video)) == (
            "h264", "yuv420p", 90, 160, 0), name
        assert frame_indices(proxy) == [OFFSETS[name] + k for k in range(source.frame_count or 60)], name
    # the browser proxy of an HEVC 10-bit HLG source: BT.709 SDR, its colours converted
    hlg = proxies.ready("hlg.mov")
    assert hlg is not None
    assert colour_tags(stream(probe(hlg), "video")) == ("bt709",) * 3
    assert_same_colour(patch_rgb(hlg, 1.0), patch_rgb(library / "hlg.mov", 1.0))


async def test_a_preview_from_proxies_burns_in_the_timecode_as_60_does(
    library: Path, proxies: PreviewProxies, tmp_path: Path
) -> None:
    clips = [ClipInput("sdr.mp4", 0.5, 1.5), ClipInput("phone.mp4", 0.5, 1.0), ClipInput("hlg.mov", 1.0, 1.5)]
    done, result, _report = await render(library, tmp_path / "51", clips, preview=True, proxies=proxies)
    _done, reference, _report = await render(library, tmp_path / "60", clips, preview=True, proxies=proxies,
                                             ffmpeg=FFMPEG, ffprobe=FFPROBE)
    video = stream(probe(result), "video")
    assert (video["codec_name"], video["pix_fmt"], video["height"]) == ("h264", "yuv420p", PREVIEW_HEIGHT)
    assert frame_indices(result) == expected(clips)
    # the timecode's band across the top (a box of black@0.6, white text): as 6.0 draws it, in every clip
    band = "crop=iw:16:0:4"
    count = len(expected(clips))
    width, _height, got = gray(result, frames=count, vf=band)
    assert mean_difference(got, gray(reference, frames=count, vf=band)[2]) < 3
    assert sum(value > 200 for value in got[:width * 16]) > 20  # the text's strokes
    assert sum(60 < value < 150 for value in got) > len(got) // 10  # the box over white stripes


# -- posters, filmstrips, waveforms ---------------------------------------------------------------------------------


async def test_posters_filmstrips_and_waveforms_are_as_60_makes_them(
    library: Path, sources: dict[str, Source], tmp_path: Path
) -> None:
    folder, source = SourceFolder(library), sources["phone.mp4"]  # rotated, with sound
    made = {}
    for version, ffmpeg in (("51", FFMPEG_51), ("60", FFMPEG)):
        cache = tmp_path / version
        made[version] = (await FfmpegThumbnailer(folder, cache, ffmpeg).thumbnail(source),
                         await FfmpegTimeline(folder, cache, ffmpeg).filmstrip(source),
                         await FfmpegTimeline(folder, cache, ffmpeg).waveform(source))
    (poster, strip, wave), (poster0, strip0, wave0) = made["51"], made["60"]
    width, height, picture = gray(poster)
    assert (width, height) == (180, 320)  # upright
    assert mean_difference(picture, gray(poster0)[2]) < 3
    layout = filmstrip_layout(source)
    width, height, picture = gray(strip)
    assert (width, height) == (layout.count * layout.tile_width, layout.tile_height) == (20 * 90, 160)
    assert mean_difference(picture, gray(strip0)[2]) < 3
    peaks, peaks0 = json.loads(wave.read_text()), json.loads(wave0.read_text())
    assert peaks["rate"] == peaks0["rate"] and len(peaks["peaks"]) == len(peaks0["peaks"]) > 100
    assert max(abs(a - b) for a, b in zip(peaks["peaks"], peaks0["peaks"])) < 0.02
    assert min(peaks["peaks"][5:-5]) > 0.1  # the tone, throughout


# -- the join decode check ------------------------------------------------------------------------------------------


def _damage(path: Path, after: float) -> None:
    """Overwrite the payloads of the first video packets from the keyframe at `after` seconds with noise."""
    packets = json.loads(subprocess.run(
        [FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,pos,size,flags",
         "-of", "json", str(path)], capture_output=True, text=True, check=True).stdout)["packets"]
    keyframe = next(n for n, p in enumerate(packets) if "K" in p["flags"] and float(p["pts_time"]) >= after)
    noise = random.Random(7)
    data = bytearray(path.read_bytes())
    for packet in packets[keyframe:keyframe + 4]:
        begin, size = int(packet["pos"]), int(packet["size"])
        data[begin + 4:begin + size] = bytes(noise.randrange(256) for _ in range(size - 4))
    path.write_bytes(bytes(data))


async def test_the_join_decode_check_finds_damage_with_ffprobe_51(
    smart_cut: tuple[Assembly, Path, RenderReport], tmp_path: Path
) -> None:
    _done, result, report = smart_cut
    joins = [join.video_start for join in report.joins]
    assert await decode_errors_around(FFPROBE_51, result, joins) == ((), ())
    damaged = tmp_path / "damaged.mp4"
    shutil.copyfile(result, damaged)
    _damage(damaged, joins[1] - 0.01)  # the third clip's first GOP, after the second join
    first, second = await decode_errors_around(FFPROBE_51, damaged, joins)
    assert first == () and second and any("h264" in message for message in second), (first, second)
    unreadable = tmp_path / "unreadable.mp4"
    unreadable.write_bytes(b"not a video" * 100)
    assert await decode_errors_around(FFPROBE_51, unreadable, joins) == (
        ("not decoded: Invalid data found when processing input",),) * 2


def test_the_join_tags_every_rotation_as_60_does(tmp_path: Path) -> None:
    """5.1 has no `-display_rotation`: its joins are tagged through the `rotate` tag, into the same display matrix."""
    upright = make_video(tmp_path / "upright.mp4", duration=0.2, audio=False)
    assert FfmpegCommands(FFMPEG_51).rotation_args(90) == ([], ["-metadata:s:v:0", "rotate=90"])
    assert FfmpegCommands(FFMPEG).rotation_args(90) == (["-display_rotation", "90"], [])
    for turn in (90, 180, 270):
        matrices = []
        for ffmpeg in (FFMPEG_51, FFMPEG):
            before, after = FfmpegCommands(ffmpeg).rotation_args(turn)
            tagged = tmp_path / f"{turn}-{len(matrices)}.mp4"
            subprocess.run([ffmpeg, "-nostdin", "-v", "error", *before, "-i", str(upright), "-c", "copy", *after,
                            str(tagged)], check=True)
            matrices.append(stream(probe(tagged), "video")["side_data_list"])
        assert matrices[0] == matrices[1], turn
        assert rotation({"side_data_list": matrices[0]}) % 360 == turn  # ffprobe says 270 as -90, 180 as -180
