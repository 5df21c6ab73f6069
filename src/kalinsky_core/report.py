"""The report of a finished render: per clip the path its video took, its frames (planned, written, encoded at
each cut end) and how many of its files the segment cache served; at every join where the video and the audio of
the next clip start in the output, and the errors found decoding the frames around it; and how long the render
took, step by step.

Reports stored before a field existed load with its default: None where it means "not known"."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

import attrs

from kalinsky_core.model import VideoPath
from kalinsky_core.plan import RenderPlan, SegmentPlan


def _strings(messages: Iterable[str]) -> tuple[str, ...]:
    return tuple(messages)


def _string_lists(lists: Iterable[Iterable[str]]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(messages) for messages in lists)


@attrs.frozen
class OutputMeasurements:
    """What was measured in a finished output, by whoever wrote it: video frames per clip (in output order),
    where each clip after the first starts in the video and in the audio, seconds from the output's start, and
    per join the errors met decoding its frames (none measured: no errors)."""

    clip_frames: tuple[int, ...]
    video_starts: tuple[float, ...]
    audio_starts: tuple[float, ...]
    decode_errors: tuple[tuple[str, ...], ...] = attrs.field(default=(), converter=_string_lists)


class CacheUse(str, enum.Enum):
    """What the segment cache served of a clip's files (its video pieces and its sound)."""

    HIT = "hit"  # all of them
    PARTIAL = "partial"  # some of them
    MISS = "miss"  # none: all made by this render
    NONE = "none"  # no cache was asked (turned off, or the report predates the cache's figures)


@attrs.frozen
class ClipReport:
    pos: int
    filename: str
    video: VideoPath = attrs.field(converter=VideoPath)
    frames_planned: int
    frames_written: int
    frames_copied: int
    encoded_at_start: int  # frames encoded before the first copied one (all of them when nothing is copied)
    encoded_at_end: int  # frames encoded after the last copied one (0 when nothing is copied)
    pieces: int = 0  # the video pieces the clip was made of (each one ffmpeg command: a copied run or an encode)
    pieces_cached: int | None = None  # of them, served by the segment cache (None: no cache was asked)
    sound_cached: bool | None = None  # whether the clip's sound came from the cache (None: no cache was asked)

    @property
    def pieces_made(self) -> int:
        """Pieces made by this render (encoded or copied by ffmpeg), not taken from the cache."""
        return self.pieces - (self.pieces_cached or 0)

    @property
    def cache(self) -> CacheUse:
        if self.pieces_cached is None:
            return CacheUse.NONE
        cached = self.pieces_cached + (1 if self.sound_cached else 0)
        files = self.pieces + (0 if self.sound_cached is None else 1)
        return CacheUse.MISS if cached == 0 else CacheUse.HIT if cached == files else CacheUse.PARTIAL


@attrs.frozen
class JoinReport:
    """The join before clip `pos`: planned at `at` seconds; where its video and audio really start; what the
    decoder said of the frames around it (empty: they decode cleanly; reports stored before it was checked
    have none)."""

    pos: int
    at: float
    video_start: float
    audio_start: float
    av_offset_ms: float  # audio start minus video start: > 0 means the sound comes late
    decode_errors: tuple[str, ...] = attrs.field(default=(), converter=_strings)


@attrs.frozen
class RenderTimings:
    """Wall-clock seconds a render spent: cutting (from the first cut's start to the last one's end: every clip's
    video and the audio track, at once), joining, measuring the result, and in all (from planning to the result in
    place, so more than the steps together)."""

    cut_s: float
    join_s: float
    measure_s: float
    total_s: float


@attrs.frozen
class RenderReport:
    clips: tuple[ClipReport, ...]
    joins: tuple[JoinReport, ...]
    result_cached: bool | None = None  # the joined result was taken whole from the cache (None: no cache asked)
    timings: RenderTimings | None = None

    @property
    def largest_offset_ms(self) -> float:
        return max((abs(join.av_offset_ms) for join in self.joins), default=0.0)

    @property
    def pieces(self) -> int:
        return sum(clip.pieces for clip in self.clips)

    @property
    def joins_with_decode_errors(self) -> int:
        return sum(1 for join in self.joins if join.decode_errors)

    @property
    def pieces_cached(self) -> int | None:
        """Video pieces the cache served, over all clips (None: no cache was asked)."""
        known = [clip.pieces_cached for clip in self.clips if clip.pieces_cached is not None]
        return sum(known) if known else None


@attrs.frozen
class ClipCache:
    """What the segment cache served of one clip: how many of its video pieces, and whether its sound (None for
    either: no cache was asked)."""

    pieces_cached: int | None = None
    sound_cached: bool | None = None


def _clip_report(segment: SegmentPlan, written: int, cache: ClipCache) -> ClipReport:
    pieces = segment.pieces
    copied = sum(piece.output_frames for piece in pieces if piece.copy)
    if not copied:
        head, tail = segment.output_frames, 0
    else:
        first_copy = next(n for n, piece in enumerate(pieces) if piece.copy)
        last_copy = max(n for n, piece in enumerate(pieces) if piece.copy)
        head = sum(piece.output_frames for piece in pieces[:first_copy])
        tail = sum(piece.output_frames for piece in pieces[last_copy + 1:])
    return ClipReport(
        pos=segment.pos, filename=segment.filename, video=segment.video, frames_planned=segment.output_frames,
        frames_written=written, frames_copied=copied, encoded_at_start=head, encoded_at_end=tail,
        pieces=len(pieces), pieces_cached=cache.pieces_cached, sound_cached=cache.sound_cached,
    )


def render_report(
    plan: RenderPlan,
    measured: OutputMeasurements,
    cache: Mapping[int, ClipCache] | None = None,
    *,
    result_cached: bool | None = None,
    timings: RenderTimings | None = None,
) -> RenderReport:
    """The plan's figures beside those measured in its output; `cache`: what the cache served, by clip position."""
    served = cache or {}
    clips = tuple(
        _clip_report(segment, written, served.get(segment.pos, ClipCache()))
        for segment, written in zip(plan.segments, measured.clip_frames)
    )
    errors = measured.decode_errors + ((),) * (len(measured.video_starts) - len(measured.decode_errors))
    joins = tuple(
        JoinReport(
            pos=segment.pos, at=round(segment.output_offset, 6), video_start=round(video, 6),
            audio_start=round(audio, 6), av_offset_ms=round((audio - video) * 1000, 3), decode_errors=messages,
        )
        for segment, video, audio, messages in zip(
            plan.segments[1:], measured.video_starts, measured.audio_starts, errors
        )
    )
    return RenderReport(clips=clips, joins=joins, result_cached=result_cached, timings=timings)
