"""Codec rules: which coded frames may be copied into an output, and the encoder settings that make frames coded
like them. One object per codec answers both, so that what may be copied is always what can be matched.

H.264 (8-bit 4:2:0) and HEVC (Main and Main 10, 4:2:0) are copied: with a B-frame delay the encoder can
reproduce, a constant frame rate, any display rotation (frames are copied as stored, the output keeps the rotation,
so only frames rotated like the first clip's join it), and only beside frames of the same colour description and
the same parameter sets. An output whose first clip is HEVC is encoded in HEVC; every other output is encoded with
libx264, 8 or 10 bits like its first clip.

Frames the encoders write refer to parameter sets of their own (ids other than the copied frames' 0): libx264
numbers them itself (`sps-id`); libx265 cannot, so its pieces are renumbered after encoding (`mp4/hevc.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import attrs

from kalinsky_adapters.mp4.hevc import HevcIds
from kalinsky_core.model import VideoCoding
from kalinsky_core.plan import quarter_turn

#: Rewrites one NAL unit (header included, no length prefix) of an encoded piece; None drops it.
NalRewrite = Callable[[bytes], bytes | None]


@attrs.frozen
class EncoderSettings:
    """How hard the encoder works: the preset and constant rate factor; and the id of the parameter sets (H.264
    SPS/PPS) its frames refer to. Frames copied from sources keep their own (0); pieces encoded with other settings
    get ids of their own, so that one output never defines one id twice with different content."""

    preset: str
    crf: float
    parameter_sets: int = 0


def colour(coding: VideoCoding) -> tuple[str, str, str, str]:
    return coding.color_primaries, coding.color_transfer, coding.color_space, coding.color_range


class CodecRule(Protocol):
    """What Kalinsky knows of one codec: whether its frames may be copied (and next to which), and how to encode
    frames of an output coded with it."""

    codec: str

    def copyable(self, coding: VideoCoding) -> bool: ...

    def joinable(self, first: VideoCoding, other: VideoCoding) -> bool: ...

    def encodes(self, coding: VideoCoding) -> bool:
        """Whether an output whose first clip is coded so can be encoded in that codec."""
        ...

    def pix_fmt(self, coding: VideoCoding | None) -> str:
        """The pixel format frames are encoded in, for an output following `coding`."""
        ...

    def encoder_args(self, coding: VideoCoding | None, settings: EncoderSettings) -> list[str]: ...

    def renumbering(self, settings: EncoderSettings) -> NalRewrite | None:
        """What gives the frames the encoder wrote the parameter-set ids `settings` asks for, when the encoder
        cannot number them itself (a new, stateful rewrite per piece); None when it can."""
        ...


def _stored_to_copy(coding: VideoCoding) -> bool:
    """Whether the frames are progressive (or not said otherwise), in MP4/MOV: interlaced frames are never copied
    (the encoders here write progressive frames that could not join them), nor frames of other containers."""
    return coding.field_order in ("", "progressive") and coding.mp4


def _same_join_coding(first: VideoCoding, other: VideoCoding) -> bool:
    """Whether frames coded as `other` may be copied next to frames coded as `first`, as far as every codec is
    concerned: the same profile, bit depth, B-frame delay, time base, rotation, colours, and parameter sets."""
    return (
        (first.profile, first.pix_fmt, first.reorder_depth, first.time_base, quarter_turn(first.rotation))
        == (other.profile, other.pix_fmt, other.reorder_depth, other.time_base, quarter_turn(other.rotation))
        and colour(first) == colour(other)
        and first.parameter_sets == other.parameter_sets
        and (first.master_display, first.max_cll) == (other.master_display, other.max_cll)
    )


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
            and _stored_to_copy(coding)
        )

    def joinable(self, first: VideoCoding, other: VideoCoding) -> bool:
        return self.copyable(first) and self.copyable(other) and _same_join_coding(first, other)

    def encodes(self, coding: VideoCoding) -> bool:
        return coding.codec == self.codec

    def pix_fmt(self, coding: VideoCoding | None) -> str:
        """8-bit 4:2:0, or 10-bit 4:2:0 for an output following a deeper H.264 clip."""
        deep = coding is not None and coding.codec == self.codec and _deeper_than_8_bits(coding.pix_fmt)
        return "yuv420p10le" if deep else "yuv420p"

    def encoder_args(self, coding: VideoCoding | None, settings: EncoderSettings) -> list[str]:
        """libx264 arguments: 8 or 10 bits as `coding` is, and for a copyable one set up like the frames coded so
        (profile, level, B-frame delay). Colour tags are the caller's (FfmpegCommands.encoder_args)."""
        pix_fmt = self.pix_fmt(coding)
        args = ["-c:v", "libx264", "-preset", settings.preset, "-crf", str(settings.crf), "-pix_fmt", pix_fmt]
        if pix_fmt != "yuv420p":
            args += ["-profile:v", "high10"]
        params = {"sps-id": str(settings.parameter_sets)} if settings.parameter_sets else {}
        if coding is not None and self.copyable(coding):
            profile = self.PROFILES.get(coding.profile, "high")
            args += ["-profile:v", profile]
            if coding.level > 0:
                args += ["-level:v", f"{coding.level / 10:g}"]
            params |= {**self.PROFILE_TOOLS.get(profile, {}), **self.REORDER[coding.reorder_depth]}
        if params:
            args += ["-x264-params", ":".join(f"{key}={value}" for key, value in params.items())]
        return args

    def renumbering(self, settings: EncoderSettings) -> NalRewrite | None:
        return None


def _deeper_than_8_bits(pix_fmt: str) -> bool:
    return any(depth in pix_fmt for depth in ("10", "12", "16"))


class X265Rules:
    """HEVC outputs: HEVC first clips give HEVC outputs, encoded by libx265 in the clip's bit depth (Main or Main 10)
    and colour description, tagged `hvc1` as Apple's players require.

    HEVC frames are copied like H.264's (smart cut). With `hvc1`, every parameter set must be in the sample entry
    (the join puts them there), and none may be defined twice: x265, which has no option to choose parameter-set
    ids, writes VPS, SPS and PPS with the id the source's use (0), so every piece it encodes is renumbered to the
    id its settings ask for (`mp4/hevc.py`). Open GOPs need no rule of their own: a keyframe whose leading frames
    are shown before it is never a copy start (see `kalinsky_core.copying`), so their clips are encoded whole.
    """

    codec = "hevc"
    #: pixel formats kept as they are → the profile that carries them
    PROFILES: Mapping[str, str] = {"yuv420p": "main", "yuv420p10le": "main10"}
    #: ffprobe's names of the profiles whose frames are copied
    COPIED_PROFILES = frozenset({"Main", "Main 10"})
    #: B-frame delay (frames) → the libx265 settings that give it.
    REORDER: Mapping[int, Mapping[str, str]] = {
        0: {"bframes": "0"},
        1: {"bframes": "2", "b-pyramid": "0"},
        2: {"bframes": "4", "b-pyramid": "1"},
    }

    def copyable(self, coding: VideoCoding) -> bool:
        return (
            coding.codec == self.codec
            and coding.profile in self.COPIED_PROFILES
            and coding.pix_fmt in self.PROFILES
            and coding.reorder_depth in self.REORDER
            and coding.constant_rate
            and _stored_to_copy(coding)
        )

    def joinable(self, first: VideoCoding, other: VideoCoding) -> bool:
        return self.copyable(first) and self.copyable(other) and _same_join_coding(first, other)

    def encodes(self, coding: VideoCoding) -> bool:
        return coding.codec == self.codec

    def pix_fmt(self, coding: VideoCoding | None) -> str:
        """The clip's own 4:2:0 format, 8 or 10 bits; other formats are encoded as 10-bit 4:2:0 when deeper than 8
        bits, else 8-bit."""
        if coding is None or coding.pix_fmt in self.PROFILES:
            return coding.pix_fmt if coding is not None else "yuv420p"
        return "yuv420p10le" if _deeper_than_8_bits(coding.pix_fmt) else "yuv420p"

    def encoder_args(self, coding: VideoCoding | None, settings: EncoderSettings) -> list[str]:
        pix_fmt = self.pix_fmt(coding)
        return [
            "-c:v", "libx265", "-preset", settings.preset, "-crf", str(settings.crf), "-pix_fmt", pix_fmt,
            "-profile:v", self.PROFILES[pix_fmt], "-tag:v", "hvc1", "-x265-params", self._params(coding),
        ]

    def _params(self, coding: VideoCoding | None) -> str:
        """x265's own options: quiet; closed GOPs (a piece's frames refer to none before it); PQ's static HDR
        metadata (HDR10) where the first clip has it; and for a copyable clip, its level and B-frame delay."""
        params = {"log-level": "error", "open-gop": "0"}
        if coding is not None and coding.master_display:
            params |= {"hdr10": "1", "master-display": coding.master_display}
        if coding is not None and coding.max_cll:
            params |= {"hdr10": "1", "max-cll": coding.max_cll}
        if coding is not None and self.copyable(coding):
            if coding.level > 0:  # general_level_idc is 30 times the level
                params["level-idc"] = f"{coding.level / 30:g}"
            params |= self.REORDER[coding.reorder_depth]
        return ":".join(f"{key}={value}" for key, value in params.items())

    def renumbering(self, settings: EncoderSettings) -> NalRewrite | None:
        return HevcIds(settings.parameter_sets) if settings.parameter_sets else None


class CodecRules:
    """The `CodingRules` port over the codecs Kalinsky knows, and the encoder for everything else (the first
    codec's)."""

    def __init__(self, *codecs: CodecRule) -> None:
        self._by_codec: dict[str, CodecRule] = {
            rules.codec: rules for rules in codecs or (X264Rules(), X265Rules())
        }
        self._default = next(iter(self._by_codec.values()))

    def copyable(self, coding: VideoCoding) -> bool:
        rules = self._by_codec.get(coding.codec)
        return rules is not None and rules.copyable(coding)

    def joinable(self, first: VideoCoding, other: VideoCoding) -> bool:
        rules = self._by_codec.get(first.codec)
        return rules is not None and first.codec == other.codec and rules.joinable(first, other)

    def _encoder(self, coding: VideoCoding | None) -> CodecRule:
        rules = self._by_codec.get(coding.codec) if coding is not None else None
        return rules if rules is not None and coding is not None and rules.encodes(coding) else self._default

    def pix_fmt(self, coding: VideoCoding | None) -> str:
        """The pixel format of the frames encoded for an output following `coding`."""
        return self._encoder(coding).pix_fmt(coding)

    def encoder_args(self, coding: VideoCoding | None, settings: EncoderSettings) -> list[str]:
        """The encoder for frames of an output following `coding`: set up like its frames where they are copied,
        in its codec and colours where that codec is known, else the default encoder's own choice."""
        encoder = self._encoder(coding)
        return encoder.encoder_args(coding if coding is not None and encoder.encodes(coding) else None, settings)

    def renumbering(self, coding: VideoCoding | None, settings: EncoderSettings) -> NalRewrite | None:
        """The rewrite that gives the frames encoded for an output following `coding` their parameter-set ids,
        where the encoder cannot (see `CodecRule.renumbering`)."""
        return self._encoder(coding).renumbering(settings)
