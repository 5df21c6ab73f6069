"""Which sources a browser plays as they are, and what indexing tells a user before cutting a source."""

from __future__ import annotations

import attrs
import pytest

from kalinsky_core.model import Source, VideoCoding, VideoPath
from kalinsky_core.qc import HdrKind, bit_depth, browser_playable, browser_plays, hdr_kind, keyframe_interval, source_qc


@pytest.mark.parametrize(
    ("filename", "codec", "pix_fmt", "audio", "plays"),
    [
        ("a.mp4", "h264", "yuv420p", "aac", True),
        ("a.MOV", "h264", "yuvj420p", None, True),
        ("a.mp4", "h264", "yuv420p", "mp3", True),
        ("a.webm", "vp9", "yuv420p", "opus", True),
        ("a.webm", "vp8", "yuv420p", "vorbis", True),
        ("a.mp4", "av1", "yuv420p", "opus", True),
        ("a.mp4", "hevc", "yuv420p", "aac", False),  # Chromium here has no HEVC decoder
        ("a.mov", "hevc", "yuv420p10le", "aac", False),
        ("a.mp4", "h264", "yuv420p10le", "aac", False),  # 10-bit H.264
        ("a.mp4", "h264", "yuv422p", "aac", False),
        ("a.mov", "prores", "yuv422p10le", "pcm_s16le", False),
        ("a.mov", "dnxhd", "yuv422p", None, False),
        ("a.mkv", "vp9", "yuv420p", "opus", False),  # Matroska
        ("a.mkv", "h264", "yuv420p", "aac", False),
        ("a.mp4", "vp9", "yuv420p", "opus", False),  # VP9 only in WebM
        ("a.mov", "h264", "yuv420p", "pcm_s16le", False),  # as cameras record sound
        ("a.mp4", "h264", "yuv420p", "ac3", False),
    ],
)
def test_browser_plays(filename: str, codec: str, pix_fmt: str, audio: str | None, plays: bool) -> None:
    assert browser_plays(filename, codec, pix_fmt, audio) is plays


def test_hdr_kind_bit_depth_and_keyframe_interval() -> None:
    assert [hdr_kind(t) for t in ("arib-std-b67", "smpte2084", "bt709", "")] == [
        HdrKind.HLG, HdrKind.PQ, HdrKind.SDR, HdrKind.SDR]
    assert [bit_depth(p) for p in ("yuv420p", "yuvj420p", "yuv420p10le", "yuv422p12be", "gbrp")] == [8, 8, 10, 12, 8]
    assert keyframe_interval((0, 30, 90, 100), "30") == 2.0
    assert keyframe_interval((0, 25), "25") == 1.0
    assert keyframe_interval((0,), "30") is None
    # to the end of the stream: an open GOP's keyframes are no copy starts, so all of it is one long GOP
    assert keyframe_interval((0,), "30", frame_count=1800) == 60.0
    assert keyframe_interval((0, 30), "30", frame_count=45) == 1.0


class H264Only:
    def copyable(self, coding: VideoCoding) -> bool:
        return coding.codec == "h264" and coding.constant_rate

    def joinable(self, first: VideoCoding, other: VideoCoding) -> bool:
        return self.copyable(first) and self.copyable(other)


H264 = VideoCoding(codec="h264", profile="High", level=40, pix_fmt="yuv420p", reorder_depth=2, time_base="1/15360")
PLAIN = Source(index=1, filename="a.mp4", duration=4.0, resolution="320x240", codec="h264", file_size=1, width=320,
               height=240, frame_rate="30", has_audio=True, coding=H264, keyframes=(0, 30, 60, 90),
               audio_codec="aac", audio_duration=4.0)


def test_qc_of_a_plain_h264_source() -> None:
    qc = source_qc(PLAIN, H264Only())
    assert (qc.hdr, qc.bit_depth, qc.rotation, qc.variable_frame_rate, qc.audio) == (HdrKind.SDR, 8, 0, False, "ok")
    assert (qc.keyframe_interval, qc.long_gop, qc.browser_plays, qc.clean_render) == (1.0, False, True,
                                                                                         VideoPath.SMART)


def test_qc_of_a_phone_hevc_hlg_source() -> None:
    coding = attrs.evolve(H264, codec="hevc", profile="Main 10", pix_fmt="yuv420p10le", rotation=90,
                          constant_rate=False, color_transfer="arib-std-b67", color_primaries="bt2020")
    phone = attrs.evolve(PLAIN, filename="IMG_0001.MOV", codec="hevc", coding=coding, keyframes=(0, 90),
                         audio_duration=3.5)
    qc = source_qc(phone, H264Only())
    assert (qc.hdr, qc.bit_depth, qc.rotation, qc.variable_frame_rate, qc.audio) == (HdrKind.HLG, 10, 90, True,
                                                                                     "short")
    assert (qc.keyframe_interval, qc.long_gop, qc.browser_plays, qc.clean_render) == (3.0, True, False,
                                                                                         VideoPath.REENCODE)


def test_qc_without_audio_or_coding() -> None:
    silent = attrs.evolve(PLAIN, has_audio=False, audio_codec="", audio_duration=None)
    assert source_qc(silent, H264Only()).audio == "missing"
    assert browser_playable(silent)
    unknown = attrs.evolve(PLAIN, coding=None)
    qc = source_qc(unknown, H264Only())
    assert (qc.bit_depth, qc.browser_plays, qc.clean_render) == (None, False, VideoPath.REENCODE)
    # indexed before audio codecs were recorded: not known to play
    assert not browser_playable(attrs.evolve(PLAIN, audio_codec=""))
