"""From a user's clip list to resolved clips, and from an assembly to a render plan.

Time → frame rule (the contract's "frames in [start, end)"): a clip holds every source frame whose
presentation time t (seconds from the start of the file) satisfies start <= t < end. Times are taken at
microsecond precision, as ffmpeg parses them, and compared exactly with the frame times k / fps.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

import attrs

from kalinsky_core.errors import InvalidClip, NotIndexed, SourceNotFound
from kalinsky_core.model import Assembly, Clip, ClipInput, FileIdentity, Source, VideoCoding, VideoPath

if TYPE_CHECKING:
    from kalinsky_core.ports import CodingRules

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
        raise InvalidClip(f"source must be an index or a filename for clip {pos}", pos)
    try:
        source = find_source(sources, clip.source)
    except SourceNotFound as error:
        raise SourceNotFound(clip.source, pos) from error
    start = 0.0 if clip.start is None else clip.start
    end = source.duration if clip.end is None else clip.end
    for label, value in (("start", start), ("end", end)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidClip(f"{label} must be a finite number for clip {pos}", pos)
    if start < 0:
        raise InvalidClip(f"start < 0 for clip {pos}", pos)
    if start >= end:
        raise InvalidClip(f"start >= end for clip {pos}", pos)
    if end > source.duration + DURATION_TOLERANCE:
        raise InvalidClip(
            f"end {end:g} exceeds duration {source.duration:g} of {source.filename} for clip {pos}", pos
        )
    end = min(float(end), source.duration)
    first, stop = frame_span(start, end, source.fps)
    if stop <= first:
        raise InvalidClip(f"no frame between start and end for clip {pos} (the source has {source.fps} fps)", pos)
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
    """The output picture every segment is encoded to; with `coding`, encoded frames match that coding so that
    frames copied from sources coded alike can sit next to them."""

    width: int
    height: int
    frame_rate: str
    coding: VideoCoding | None = None
    #: The first clip's coding, which every encoded frame follows where the codec rules can encode it (codec,
    #: bit depth, colour description), also when none of its frames are copied; None: the rules' default.
    target: VideoCoding | None = None
    #: The width of a pixel over its height, upright as `width` and `height` are: the first clip's in clean
    #: renders (its frames are copied as they are coded), square in previews
    pixel_aspect: Fraction = Fraction(1)

    @property
    def fps(self) -> Fraction:
        return Fraction(self.frame_rate)

    @property
    def rotation(self) -> int:
        """The display rotation the output keeps (degrees, 0..359): that of the copied frames, if any."""
        return quarter_turn(self.coding.rotation) if self.coding is not None else 0

    @property
    def stored_size(self) -> tuple[int, int]:
        """Width and height of the coded pictures: the displayed size turned back by the output's rotation."""
        return (self.height, self.width) if self.rotation % 180 else (self.width, self.height)

    @property
    def stored_pixel_aspect(self) -> Fraction:
        """The pixel aspect of the coded pictures, which the output's rotation turns (and so inverts)."""
        return 1 / self.pixel_aspect if self.rotation % 180 else self.pixel_aspect


def quarter_turn(degrees: int) -> int:
    """A display rotation as 0, 90, 180 or 270 degrees (ffprobe reports 270 as -90)."""
    return round(degrees / 90) % 4 * 90


@attrs.frozen
class Piece:
    """A run of a clip's source frames, `[first_frame, first_frame + frames)`: copied as coded, or encoded again."""

    copy: bool
    first_frame: int
    frames: int
    seek: float  # where to start reading, seconds: lands on `first_frame` exactly (see `seek_time`)
    output_frames: int
    source_seconds: float  # how long the piece lasts in the source


def seek_time(frame: int, fps: Fraction, copy: bool) -> float:
    """The read position for `frame`, to the microsecond as ffmpeg takes it.

    A decoding read keeps frames at or after the position: round down, so the frame itself is kept. A copying
    read starts at the keyframe at or before the position: round up, so it is not the keyframe before.
    """
    exact = Fraction(frame) / fps * 1_000_000
    return (math.ceil(exact) if copy else math.floor(exact)) / 1_000_000


def split_for_copy(
    first: int, stop: int, starts: Sequence[int], ends: Sequence[int] | None
) -> list[tuple[bool, int, int]]:
    """`[(copy, start, stop), ...]` covering frames `[first, stop)`: one run copied from the first copy start in
    the clip to the last copy end in it (`ends` None: any frame may end a copy), the frames before and after it
    encoded again. A clip with no such run is encoded whole."""
    start = next((k for k in starts if first <= k < stop), None)
    end: int | None = stop
    if ends is not None:
        found = bisect.bisect_right(ends, stop)
        end = ends[found - 1] if found else None
    if start is None or end is None or end <= start:
        return [(False, first, stop)]
    runs = [(False, first, start)] if first < start else []
    runs.append((True, start, end))
    if end < stop:
        runs.append((False, end, stop))
    return runs


def copy_ends(source: Source) -> Sequence[int] | None:
    """The frames a copied run of `source` may end before; None: any frame."""
    if source.copy_ends:
        return source.copy_ends
    if source.coding is not None and source.coding.reorder_depth == 0:
        return None
    # B-frames, indexed before copy ends were: whole GOPs only
    return (*source.keyframes, *([source.frame_count] if source.frame_count else []))


@attrs.frozen
class SegmentPlan:
    """How one clip becomes one segment of the output."""

    pos: int
    filename: str
    source_size: int  # bytes, as indexed: a different size means the file changed since
    start: float  # seconds in the source
    end: float
    seek: float  # where the clip's first frame is read from (its audio starts there too)
    first_frame: int  # source frame indices [first_frame, first_frame + source_frames)
    source_frames: int
    output_frames: int  # after conversion to the output frame rate
    output_offset: float  # where the segment starts in the output, seconds
    duration: float  # output_frames at the output frame rate, seconds
    scale: bool  # source picture differs from the output's: scale and pad
    convert_fps: bool
    has_audio: bool
    fade: float  # seconds of audio fade in and out
    pieces: tuple[Piece, ...] = ()
    source_identity: FileIdentity | None = None  # the file as indexed (None: indexed without one)
    #: The source is rotated like the output: its frames are encoded as stored, not turned upright and back.
    as_stored: bool = False
    coding: VideoCoding | None = None  # the source's, as indexed

    @property
    def video(self) -> VideoPath:
        """How the clip's video is made: copied, smart-cut (copied with re-encoded ends) or re-encoded."""
        copied = {piece.copy for piece in self.pieces}
        if copied == {True, False}:
            return VideoPath.SMART
        return VideoPath.COPY if copied == {True} else VideoPath.REENCODE


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


def output_format(first: Source, rules: CodingRules, preview: bool, preview_height: int | None) -> VideoFormat:
    """The first clip's picture (even sizes, as H.264 needs). Previews are shown as the first clip is, in square
    pixels, shrunk to `preview_height` if taller, and always encoded; clean renders keep the first source's pixels
    (size and aspect), and its coding when its frames can be copied."""
    scaled_width, scaled_height = float(first.width), float(first.height)
    pixel_aspect = first.pixel_aspect
    if preview:
        scaled_width, pixel_aspect = float(first.width * first.pixel_aspect), Fraction(1)
        if preview_height is not None and first.height > preview_height:
            scaled_width, scaled_height = scaled_width * preview_height / first.height, preview_height
    width, height = _even(scaled_width), _even(scaled_height)
    keep_coding = not preview and first.coding is not None and rules.copyable(first.coding)
    keep_coding = keep_coding and (width, height) == (first.width, first.height)
    return VideoFormat(
        width=width,
        height=height,
        frame_rate=first.frame_rate,
        coding=first.coding if keep_coding else None,
        target=None if preview else first.coding,
        pixel_aspect=pixel_aspect,
    )


def same_pixels(source: Source, output: VideoFormat) -> bool:
    """Whether the source's pictures are the output's as they are: the same size and pixel aspect."""
    return (source.width, source.height, source.pixel_aspect) == (output.width, output.height, output.pixel_aspect)


def source_rotation(source: Source) -> int:
    """The source's display rotation as far as it is known (0..359 degrees)."""
    return quarter_turn(source.coding.rotation) if source.coding is not None else 0


def _pieces(
    source: Source, output: VideoFormat, rules: CodingRules, first: int, stop: int, output_frames: int
) -> tuple[Piece, ...]:
    same_picture = same_pixels(source, output) and source.fps == output.fps
    can_copy = (
        same_picture
        and output.coding is not None
        and source.coding is not None
        and rules.joinable(output.coding, source.coding)
    )
    if can_copy:
        runs = split_for_copy(first, stop, source.keyframes, copy_ends(source))
    else:
        runs = [(False, first, stop)]
    if len(runs) == 1 and not runs[0][0]:  # encoded whole: the only piece that may change frame rate
        runs_out = [output_frames]
    else:
        runs_out = [end - start for _copy, start, end in runs]
    return tuple(
        Piece(
            copy=copy,
            first_frame=start,
            frames=end - start,
            seek=seek_time(start, source.fps, copy),
            output_frames=frames_out,
            source_seconds=float((end - start) / source.fps),
        )
        for (copy, start, end), frames_out in zip(runs, runs_out)
    )


def plan_render(
    assembly: Assembly,
    sources: Mapping[str, Source],
    rules: CodingRules,
    *,
    fade_ms: int,
    preview_height: int | None = None,
) -> RenderPlan:
    """Everything the cutter and the concatenator need, computed without touching any file.

    `sources` maps filenames to the indexed sources; `rules` say which coded frames may be copied next to which;
    `preview_height` caps the picture of preview renders.
    """
    missing = [clip.filename for clip in assembly.clips if clip.filename not in sources]
    if missing:
        raise SourceNotFound(missing[0])
    first = sources[assembly.clips[0].filename]
    output = output_format(first, rules, assembly.preview, preview_height)
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
                source_size=source.file_size,
                start=clip.start,
                end=clip.end,
                seek=seek_time(first_frame, source.fps, copy=False),
                first_frame=first_frame,
                source_frames=source_frames,
                output_frames=output_frames,
                output_offset=float(offset),
                duration=float(duration),
                scale=not same_pixels(source, output),
                convert_fps=source.fps != output.fps,
                has_audio=source.has_audio,
                fade=min(fade_ms / 1000, float(duration) / 2),
                pieces=_pieces(source, output, rules, first_frame, stop, output_frames),
                source_identity=source.identity,
                as_stored=output.rotation != 0 and source_rotation(source) == output.rotation,
                coding=source.coding,
            )
        )
        offset += duration
    return RenderPlan(assembly_id=assembly.id, preview=assembly.preview, output=output, segments=tuple(segments))


def sources_by_filename(sources: Iterable[Source]) -> dict[str, Source]:
    return {source.filename: source for source in sources}
