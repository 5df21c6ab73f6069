"""The report of a finished render: per clip the path its video took and its frames (planned, written, encoded at
each cut end), and at every join where the video and the audio of the next clip start in the output, and the
errors found decoding the frames around it."""

from __future__ import annotations

from collections.abc import Iterable

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
class RenderReport:
    clips: tuple[ClipReport, ...]
    joins: tuple[JoinReport, ...]

    @property
    def largest_offset_ms(self) -> float:
        return max((abs(join.av_offset_ms) for join in self.joins), default=0.0)

    @property
    def joins_with_decode_errors(self) -> int:
        return sum(1 for join in self.joins if join.decode_errors)


def _clip_report(segment: SegmentPlan, written: int) -> ClipReport:
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
    )


def render_report(plan: RenderPlan, measured: OutputMeasurements) -> RenderReport:
    """The plan's figures beside those measured in its output."""
    clips = tuple(_clip_report(segment, written) for segment, written in zip(plan.segments, measured.clip_frames))
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
    return RenderReport(clips=clips, joins=joins)
