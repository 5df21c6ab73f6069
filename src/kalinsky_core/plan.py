"""From a user's clip list to resolved clips, and from an assembly to a render plan.

Time → frame rule (the contract's "frames in [start, end)"): a clip holds every source frame whose
presentation time t (seconds from the start of the file) satisfies start <= t < end. Times are taken at
microsecond precision, as ffmpeg parses them, and compared exactly with the frame times k / fps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction

import attrs

from kalinsky_core.errors import InvalidClip, NotIndexed, SourceNotFound
from kalinsky_core.model import Assembly, Clip, ClipInput, Source

#: Slack when comparing a requested end with a probed duration (ffprobe rounds to microseconds).
DURATION_TOLERANCE = 1e-6


def to_microseconds(seconds: float) -> int:
    return round(seconds * 1_000_000)


def frame_span(start: float, end: float, fps: Fraction) -> tuple[int, int]:
    """Source frame indices `[first, stop)` of the frames shown in `[start, end)` at a constant `fps`."""
    first = math.ceil(Fraction(to_microseconds(start), 1_000_000) * fps)
    stop = math.ceil(Fraction(to_microseconds(end), 1_000_000) * fps)
    return first, max(first, stop)


def find_source(sources: Sequence[Source], ref: int | str) -> Source:
    """A source by 1-based index or by exact filename; nothing else (no paths) matches."""
    for source in sources:
        if (isinstance(ref, int) and source.index == ref) or (isinstance(ref, str) and source.filename == ref):
            return source
    raise SourceNotFound(ref)


def _resolve_clip(pos: int, clip: ClipInput, sources: Sequence[Source]) -> Clip:
    if isinstance(clip.source, bool) or not isinstance(clip.source, (int, str)):
        raise InvalidClip(f"source must be an index or a filename for clip {pos}")
    source = find_source(sources, clip.source)
    start = 0.0 if clip.start is None else clip.start
    end = source.duration if clip.end is None else clip.end
    for label, value in (("start", start), ("end", end)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidClip(f"{label} must be a finite number for clip {pos}")
    if start < 0:
        raise InvalidClip(f"start < 0 for clip {pos}")
    if start >= end:
        raise InvalidClip(f"start >= end for clip {pos}")
    if end > source.duration + DURATION_TOLERANCE:
        raise InvalidClip(f"end {end:g} exceeds duration {source.duration:g} of {source.filename} for clip {pos}")
    end = min(float(end), source.duration)
    first, stop = frame_span(start, end, source.fps)
    if stop <= first:
        raise InvalidClip(f"no frame between start and end for clip {pos} (the source has {source.fps} fps)")
    return Clip(pos=pos, filename=source.filename, start=float(start), end=end)


def resolve_clips(inputs: Sequence[ClipInput], sources: Sequence[Source] | None) -> tuple[Clip, ...]:
    """Validate a clip list against the source index; positions are 1..n in the given order."""
    if sources is None:
        raise NotIndexed()
    if not inputs:
        raise InvalidClip("clips must not be empty")
    return tuple(_resolve_clip(pos, clip, sources) for pos, clip in enumerate(inputs, start=1))


@attrs.frozen
class VideoFormat:
    """The output picture every segment is encoded to."""

    width: int
    height: int
    frame_rate: str

    @property
    def fps(self) -> Fraction:
        return Fraction(self.frame_rate)


@attrs.frozen
class SegmentPlan:
    """How one clip becomes one segment of the output."""

    pos: int
    filename: str
    start: float  # seconds in the source
    end: float
    seek: float  # where to start reading: the first frame's time, rounded down to a microsecond
    first_frame: int  # source frame indices [first_frame, first_frame + source_frames)
    source_frames: int
    output_frames: int  # after conversion to the output frame rate
    output_offset: float  # where the segment starts in the output, seconds
    duration: float  # output_frames at the output frame rate, seconds
    scale: bool  # source picture differs from the output's: scale and pad
    convert_fps: bool
    has_audio: bool
    fade: float  # seconds of audio fade in and out


@attrs.frozen
class RenderPlan:
    assembly_id: str
    preview: bool
    output: VideoFormat
    segments: tuple[SegmentPlan, ...]

    @property
    def duration(self) -> float:
        return sum(segment.duration for segment in self.segments)

    @property
    def total_frames(self) -> int:
        return sum(segment.output_frames for segment in self.segments)


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def output_format(first: Source, preview_height: int | None) -> VideoFormat:
    """The first clip's picture (even sizes, as H.264 needs), shrunk to `preview_height` if it is taller."""
    width, height = first.width, first.height
    if preview_height is not None and height > preview_height:
        width, height = width * preview_height / height, preview_height
    return VideoFormat(width=_even(width), height=_even(height), frame_rate=first.frame_rate)


def plan_render(
    assembly: Assembly,
    sources: Mapping[str, Source],
    *,
    fade_ms: int,
    preview_height: int | None = None,
) -> RenderPlan:
    """Everything the cutter and the concatenator need, computed without touching any file.

    `sources` maps filenames to the indexed sources; `preview_height` caps the picture of preview renders.
    """
    missing = [clip.filename for clip in assembly.clips if clip.filename not in sources]
    if missing:
        raise SourceNotFound(missing[0])
    first = sources[assembly.clips[0].filename]
    output = output_format(first, preview_height if assembly.preview else None)
    segments = []
    offset = Fraction(0)
    for clip in assembly.clips:
        source = sources[clip.filename]
        first_frame, stop = frame_span(clip.start, clip.end, source.fps)
        source_frames = stop - first_frame
        output_frames = max(1, round(Fraction(source_frames) / source.fps * output.fps))
        duration = Fraction(output_frames) / output.fps
        segments.append(
            SegmentPlan(
                pos=clip.pos,
                filename=clip.filename,
                start=clip.start,
                end=clip.end,
                seek=math.floor(Fraction(first_frame) / source.fps * 1_000_000) / 1_000_000,
                first_frame=first_frame,
                source_frames=source_frames,
                output_frames=output_frames,
                output_offset=float(offset),
                duration=float(duration),
                scale=(source.width, source.height) != (output.width, output.height),
                convert_fps=source.fps != output.fps,
                has_audio=source.has_audio,
                fade=min(fade_ms / 1000, float(duration) / 2),
            )
        )
        offset += duration
    return RenderPlan(assembly_id=assembly.id, preview=assembly.preview, output=output, segments=tuple(segments))


def sources_by_filename(sources: Iterable[Source]) -> dict[str, Source]:
    return {source.filename: source for source in sources}
