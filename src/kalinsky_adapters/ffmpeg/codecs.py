"""Codec rules: which coded frames may be copied into an output, and the encoder settings that make frames coded
like them. One object per codec answers both, so that what may be copied is always what can be matched.

Only H.264 in MP4/MOV is copied today: 8-bit 4:2:0, a B-frame delay libx264 can reproduce, constant frame rate,
any display rotation (frames are copied as stored, the output keeps the rotation, so only frames rotated like the
first clip's join it). Everything else is encoded whole with libx264.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from kalinsky_core.model import VideoCoding
from kalinsky_core.plan import quarter_turn


@attrs.frozen
class EncoderSettings:
    """How hard the encoder works: libx264's preset and constant rate factor."""

    preset: str
    crf: int


class X264Rules:
    """H.264 frames copied as coded; frames around them encoded by libx264 to match them."""

    codec = "h264"
    #: ffprobe's profile names → libx264's.
    PROFILES: Mapping[str, str] = {
        "High": "high", "Main": "main", "Constrained Baseline": "baseline", "Baseline": "baseline"
    }
    #: B-frame delay (frames) → the libx264 settings that give it.
    REORDER: Mapping[int, Mapping[str, str]] = {
        0: {"bframes": "0"},
        1: {"bframes": "2", "b-pyramid": "none"},
        2: {"bframes": "3", "b-pyramid": "normal"},
    }
    #: libx264 signals the lowest profile its tools need: these make the profile the copied frames have.
    PROFILE_TOOLS: Mapping[str, Mapping[str, str]] = {"high": {"8x8dct": "1"}, "main": {"cabac": "1"}}

    def copyable(self, coding: VideoCoding) -> bool:
        return (
            coding.codec == self.codec
            and coding.pix_fmt == "yuv420p"
            and coding.reorder_depth in self.REORDER
            and coding.constant_rate
        )

    def joinable(self, first: VideoCoding, other: VideoCoding) -> bool:
        return (
            self.copyable(first)
            and self.copyable(other)
            and (first.profile, first.pix_fmt, first.reorder_depth, first.time_base, quarter_turn(first.rotation))
            == (other.profile, other.pix_fmt, other.reorder_depth, other.time_base, quarter_turn(other.rotation))
        )

    def encoder_args(self, coding: VideoCoding | None, settings: EncoderSettings) -> list[str]:
        """libx264 arguments; with `coding`, set up like the frames coded so (profile, level, B-frame delay)."""
        args = ["-c:v", "libx264", "-preset", settings.preset, "-crf", str(settings.crf), "-pix_fmt", "yuv420p"]
        if coding is None:
            return args
        profile = self.PROFILES.get(coding.profile, "high")
        args += ["-profile:v", profile]
        if coding.level > 0:
            args += ["-level:v", f"{coding.level / 10:g}"]
        params = {**self.PROFILE_TOOLS.get(profile, {}), **self.REORDER[coding.reorder_depth]}
        return args + ["-x264-params", ":".join(f"{key}={value}" for key, value in params.items())]


class CodecRules:
    """The `CodingRules` port over the codecs Kalinsky copies, and the encoder for everything else."""

    def __init__(self, *codecs: X264Rules) -> None:
        self._by_codec = {rules.codec: rules for rules in codecs or (X264Rules(),)}
        self._default = next(iter(self._by_codec.values()))

    def copyable(self, coding: VideoCoding) -> bool:
        rules = self._by_codec.get(coding.codec)
        return rules is not None and rules.copyable(coding)

    def joinable(self, first: VideoCoding, other: VideoCoding) -> bool:
        rules = self._by_codec.get(first.codec)
        return rules is not None and first.codec == other.codec and rules.joinable(first, other)

    def encoder_args(self, coding: VideoCoding | None, settings: EncoderSettings) -> list[str]:
        """The encoder for frames of an output coded like `coding` (None: no frames are copied, the default
        encoder's own choice)."""
        if coding is None or not self.copyable(coding):
            return self._default.encoder_args(None, settings)
        return self._by_codec[coding.codec].encoder_args(coding, settings)
