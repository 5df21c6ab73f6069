"""What a user should know of a source before cutting it, and whether a browser plays it as it is. Pure derivations
from what indexing recorded."""

from __future__ import annotations

import enum
from fractions import Fraction
from pathlib import PurePath

import attrs

from kalinsky_core.model import Source, VideoPath
from kalinsky_core.ports import CodingRules

#: Containers browsers play, by file extension.
BROWSER_CONTAINERS = frozenset({".mp4", ".mov", ".webm"})
#: Video codecs (ffprobe's names) Chromium decodes, and the pixel formats it decodes them in.
BROWSER_VIDEO = {
    "h264": frozenset({"yuv420p", "yuvj420p"}),
    "vp8": frozenset({"yuv420p"}),
    "vp9": frozenset({"yuv420p"}),
    "av1": frozenset({"yuv420p"}),
}
#: Codecs browsers play only in WebM.
WEBM_ONLY = frozenset({"vp8", "vp9"})
BROWSER_AUDIO = frozenset({"aac", "mp3", "opus", "vorbis"})
#: Audio this much shorter than the picture is worth a word (a frame or two is usual).
AUDIO_SLACK = 0.1
#: A keyframe interval above this makes smart cuts noticeably slower (more frames to encode at each end).
LONG_GOP_SECONDS = 2.0


def browser_plays(filename: str, video_codec: str, pix_fmt: str, audio_codec: str | None) -> bool:
    """Whether a browser (Chromium) plays a file as it is: MP4/MOV/WebM, H.264 8-bit 4:2:0, VP8/VP9 (in WebM) or
    AV1, with AAC, MP3, Opus or Vorbis sound or none (`audio_codec` None)."""
    container = PurePath(filename).suffix.lower()
    if container not in BROWSER_CONTAINERS or pix_fmt not in BROWSER_VIDEO.get(video_codec, ()):
        return False
    if video_codec in WEBM_ONLY and container != ".webm":
        return False
    return audio_codec is None or audio_codec in BROWSER_AUDIO


class HdrKind(str, enum.Enum):
    SDR = "sdr"
    HLG = "hlg"
    PQ = "pq"


def hdr_kind(color_transfer: str) -> HdrKind:
    return {"arib-std-b67": HdrKind.HLG, "smpte2084": HdrKind.PQ}.get(color_transfer, HdrKind.SDR)


def bit_depth(pix_fmt: str) -> int:
    """Bits per sample of an ffmpeg pixel format name (8 unless it says otherwise: yuv420p10le → 10)."""
    for depth in (16, 14, 12, 10, 9):
        if f"p{depth}" in pix_fmt:
            return depth
    return 8


def keyframe_interval(keyframes: tuple[int, ...], frame_rate: str, frame_count: int | None = None) -> float | None:
    """The longest distance between the keyframes a copy may start at, and from the last one to the end of the
    stream where its frame count is known, in seconds; None with fewer than two such points known. Keyframes of
    an open GOP are not copy starts: a stream of them shows as one long GOP, which it is for a smart cut."""
    marks = (*keyframes, *([frame_count] if keyframes and frame_count and frame_count > keyframes[-1] else []))
    if len(marks) < 2:
        return None
    longest = max(b - a for a, b in zip(marks, marks[1:]))
    return float(longest / Fraction(frame_rate))


@attrs.frozen
class SourceQC:
    """What indexing learnt of a source that matters before cutting it."""

    hdr: HdrKind
    bit_depth: int | None  # None: coding unknown
    rotation: int
    variable_frame_rate: bool
    audio: str  # "ok", "missing" or "short" (shorter than the picture)
    keyframe_interval: float | None  # longest, seconds
    browser_plays: bool
    clean_render: VideoPath  # the path of its video as the first clip of a clean render (cut off keyframes)
    #: The width of a pixel over its height as shown, "W:H" ("1:1" square; others: anamorphic video)
    pixel_aspect: str = "1:1"

    @property
    def long_gop(self) -> bool:
        return self.keyframe_interval is not None and self.keyframe_interval > LONG_GOP_SECONDS


def source_qc(source: Source, rules: CodingRules) -> SourceQC:
    coding = source.coding
    if not source.has_audio:
        audio = "missing"
    elif source.audio_duration is not None and source.audio_duration < source.duration - AUDIO_SLACK:
        audio = "short"
    else:
        audio = "ok"
    copyable = coding is not None and rules.copyable(coding) and source.width % 2 == 0 and source.height % 2 == 0
    return SourceQC(
        hdr=hdr_kind(coding.color_transfer if coding else ""),
        bit_depth=None if coding is None else bit_depth(coding.pix_fmt),
        rotation=coding.rotation if coding else 0,
        variable_frame_rate=coding is not None and not coding.constant_rate,
        audio=audio,
        keyframe_interval=keyframe_interval(source.keyframes, source.frame_rate, source.frame_count),
        browser_plays=browser_playable(source),
        clean_render=VideoPath.SMART if copyable else VideoPath.REENCODE,
        pixel_aspect=f"{source.pixel_aspect.numerator}:{source.pixel_aspect.denominator}",
    )


def browser_playable(source: Source) -> bool:
    """Whether a browser plays the source's file as it is (unknown coding: not)."""
    if source.coding is None:
        return False
    audio = (source.audio_codec or "unknown") if source.has_audio else None
    return browser_plays(source.filename, source.codec, source.coding.pix_fmt, audio)
