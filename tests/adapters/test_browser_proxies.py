"""Browser proxies: a source a browser cannot play (HEVC, 10-bit, HLG, rotated) gets a proxy it plays, holding the
source's frames at the source's times, upright, in BT.709 SDR, with the source's sound."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from adapters.test_phone_footage import HLG_TAGS, PATCH, TO_HLG, X265, assert_same_colour, patch_rgb
from media import FFMPEG, FFPROBE, frame_indices, make_video, probe, stream

from kalinsky_adapters.ffprobe import FfprobeProber
from kalinsky_adapters.memory import InMemoryRepo
from kalinsky_adapters.proxies import PreviewProxies, ProxyState
from kalinsky_core import services
from kalinsky_core.model import Source

HEIGHT = 720  # taller than every source here: only what a browser cannot play gets a proxy


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("phone")
    # portrait HEVC Main 10 HLG stored sideways with a 90° display rotation, with sound, as iPhones record it
    make_video(folder / "iphone.mov", duration=1.5, size="360x640", codec="libx265", rotated=True, offset=100,
               extra=("-vf", TO_HLG, "-pix_fmt", "yuv420p10le", *HLG_TAGS, *X265,
                      "-x265-params", "log-level=error:keyint=15"))
    make_video(folder / "hlg.mp4", duration=1.0, size="360x640", codec="libx265", offset=200,
               extra=("-vf", f"{PATCH},{TO_HLG}", "-pix_fmt", "yuv420p10le", *HLG_TAGS, *X265,
                      "-x265-params", "log-level=error:keyint=15"))
    make_video(folder / "plain.mp4", duration=1.0)
    make_video(folder / "deep.mp4", duration=1.0, offset=300, extra=("-pix_fmt", "yuv420p10le"))
    return folder


async def indexed(folder: Path) -> dict[str, Source]:
    index = await services.reindex(FfprobeProber(folder, FFPROBE), InMemoryRepo())
    return {source.filename: source for source in index.sources}


def frame_times(path: Path) -> list[float]:
    """Presentation times of the video frames, from the start of the file."""
    report = json.loads(subprocess.run(
        [FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time:format=start_time",
         "-of", "json", str(path)], check=True, capture_output=True).stdout)
    start = float(report["format"]["start_time"])
    return sorted(round(float(packet["pts_time"]) - start, 5) for packet in report["packets"])


async def test_an_hevc_10_bit_hlg_rotated_source_gets_a_browser_proxy(library: Path, tmp_path: Path) -> None:
    sources = await indexed(library)
    proxies = PreviewProxies(library, tmp_path / "proxies", FFMPEG, FFPROBE, HEIGHT)
    assert proxies.status(sources["iphone.mov"]).state is ProxyState.WAITING
    proxy = await proxies.make(sources["iphone.mov"])
    assert proxy is not None and proxies.status(sources["iphone.mov"]).state is ProxyState.READY
    report = probe(proxy)
    video, audio = stream(report, "video"), stream(report, "audio")
    assert (video["codec_name"], video["pix_fmt"], video["width"], video["height"]) == ("h264", "yuv420p", 360, 640)
    assert (video["color_primaries"], video["color_transfer"], video["color_space"]) == ("bt709",) * 3
    assert not video.get("side_data_list")  # upright
    assert audio["codec_name"] == "aac" and float(audio["duration"]) == pytest.approx(1.5, abs=0.05)
    assert frame_indices(proxy) == frame_indices(library / "iphone.mov") == list(range(100, 145))
    assert frame_times(proxy) == frame_times(library / "iphone.mov")


async def test_hdr_is_converted_into_bt709_not_relabelled(library: Path, tmp_path: Path) -> None:
    sources = await indexed(library)
    proxy = await PreviewProxies(library, tmp_path / "proxies", FFMPEG, FFPROBE, HEIGHT).make(sources["hlg.mp4"])
    assert proxy is not None
    assert_same_colour(patch_rgb(proxy, 0.5), patch_rgb(library / "hlg.mp4", 0.5))


async def test_10_bit_h264_gets_a_proxy_and_8_bit_h264_none(library: Path, tmp_path: Path) -> None:
    sources = await indexed(library)
    proxies = PreviewProxies(library, tmp_path / "proxies", FFMPEG, FFPROBE, HEIGHT)
    assert proxies.status(sources["plain.mp4"]).state is ProxyState.NONE
    assert await proxies.make(sources["plain.mp4"]) is None
    proxy = await proxies.make(sources["deep.mp4"])
    assert proxy is not None
    assert stream(probe(proxy), "video")["pix_fmt"] == "yuv420p"
    assert frame_indices(proxy) == list(range(300, 330))
