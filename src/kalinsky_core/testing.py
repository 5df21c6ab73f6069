"""Hypothesis strategies for Kalinsky's domain: source folders, indexes, valid and invalid clip lists, assemblies,
and the packet order of coded video streams.

For property tests of Kalinsky itself and of tools built on `kalinsky_core`::

    from hypothesis import given
    from kalinsky_core.testing import source_indexes, valid_clip_lists

Optional module: it needs `hypothesis` (a test dependency). `import kalinsky_core` never imports it.
Every strategy builds values the way the adapters do (durations at microsecond precision, frame rates as
reduced rationals such as "30" or "30000/1001"), so what holds here holds for probed media too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timezone
from fractions import Fraction
from typing import cast

import attrs
from hypothesis import strategies as st

from kalinsky_core.errors import InvalidClip, KalinskyError, SourceNotFound
from kalinsky_core.model import Assembly, ClipInput, MediaInfo, Source, assembly_id
from kalinsky_core.plan import resolve_clips

__all__ = [
    "FRAME_RATES",
    "CodedStream",
    "InvalidCase",
    "assemblies",
    "assembly_names",
    "coded_streams",
    "invalid_clip_lists",
    "media_infos",
    "source_folders",
    "source_indexes",
    "timestamps",
    "valid_clip_inputs",
    "valid_clip_lists",
    "video_filenames",
]

#: Frame rates as the ffprobe adapter reports them (reduced fractions).
FRAME_RATES = ("24000/1001", "24", "25", "30000/1001", "30", "50", "60000/1001", "60")

_VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".MP4", ".Mov")
_OTHER_EXTENSIONS = (".txt", ".wav", ".jpg", ".srt", "")
#: Reasons a prober gives for a video file it cannot read.
_PROBE_FAILURES = ("no video stream", "moov atom not found", "Invalid data found when processing input")
#: Slack above one frame period that guarantees a frame time falls inside [start, end) after rounding to µs.
_FRAME_MARGIN = 1e-5

_stems = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="/\\"), min_size=1, max_size=16
)


def video_filenames() -> st.SearchStrategy[str]:
    """File names with a video extension (any letter case), e.g. `clip 01.MP4`."""
    return st.builds(lambda stem, ext: stem + ext, _stems, st.sampled_from(_VIDEO_EXTENSIONS))


def _other_filenames() -> st.SearchStrategy[str]:
    return st.builds(lambda stem, ext: stem + ext, _stems, st.sampled_from(_OTHER_EXTENSIONS))


def media_infos(*, min_duration: float = 0.2, max_duration: float = 3600.0) -> st.SearchStrategy[MediaInfo]:
    """What a prober reports for a readable video. `min_duration` must exceed two frames (0.1 s is plenty)."""
    return st.builds(
        MediaInfo,
        duration=st.floats(min_duration, max_duration).map(lambda seconds: round(seconds, 6)),
        width=st.integers(16, 4096),
        height=st.integers(16, 4096),
        codec=st.sampled_from(("h264", "hevc", "vp9", "av1", "prores")),
        frame_rate=st.sampled_from(FRAME_RATES),
        has_audio=st.booleans(),
        file_size=st.integers(1, 2**40),
    )


@st.composite
def source_folders(draw: st.DrawFn, *, max_videos: int = 6) -> dict[str, MediaInfo | str]:
    """A sources folder as `kalinsky_adapters.memory.FakeProber` takes it: each file name maps to its
    MediaInfo, or to the reason it cannot be probed. Holds readable and unreadable videos and other files."""
    videos = draw(st.dictionaries(video_filenames(), media_infos(), max_size=max_videos))
    unreadable = draw(st.dictionaries(video_filenames(), st.sampled_from(_PROBE_FAILURES), max_size=2))
    others = draw(st.dictionaries(_other_filenames(), st.just("not a video"), max_size=2))
    return {**others, **unreadable, **videos}


@st.composite
def source_indexes(draw: st.DrawFn, *, min_size: int = 1, max_size: int = 6) -> tuple[Source, ...]:
    """An index as a reindex makes it: sources numbered 1..n in file name order."""
    infos = draw(st.dictionaries(video_filenames(), media_infos(), min_size=min_size, max_size=max_size))
    return tuple(Source.from_media(index, name, infos[name]) for index, name in enumerate(sorted(infos), start=1))


def _min_span(source: Source) -> float:
    """The shortest trim that always holds a frame: one frame period plus rounding slack."""
    return float(1 / source.fps) + _FRAME_MARGIN


def _usable(sources: Sequence[Source]) -> list[Source]:
    usable = [source for source in sources if source.duration > 2 * _min_span(source)]
    if not usable:
        raise ValueError("no source is long enough to hold a clip (two frames at least)")
    return usable


def _ref(source: Source) -> st.SearchStrategy[int | str]:
    return st.sampled_from((source.index, source.filename))


@st.composite
def valid_clip_inputs(draw: st.DrawFn, sources: Sequence[Source]) -> ClipInput:
    """One clip that resolves against `sources`: by index or filename, trims optional, at least one frame."""
    source = draw(st.sampled_from(_usable(sources)))
    span = _min_span(source)
    start = draw(st.none() | st.floats(0, source.duration - span - 1e-6).map(lambda s: round(s, 6)))
    lowest_end = (start or 0.0) + span
    end = draw(st.none() | st.floats(lowest_end, source.duration).map(lambda s: round(s, 6)))
    return ClipInput(source=draw(_ref(source)), start=start, end=end)


def valid_clip_lists(
    sources: Sequence[Source], *, min_size: int = 1, max_size: int = 8
) -> st.SearchStrategy[list[ClipInput]]:
    """Clip lists that `resolve_clips` accepts for `sources`."""
    return st.lists(valid_clip_inputs(sources), min_size=max(min_size, 1), max_size=max_size)


@attrs.frozen
class InvalidCase:
    """A clip list the core must refuse, with the error it must raise and that error's exact message."""

    clips: tuple[ClipInput, ...]
    error: type[KalinskyError]
    message: str


def _unknown_refs(sources: Sequence[Source]) -> st.SearchStrategy[int | str]:
    filenames = {source.filename for source in sources}
    indexes = st.one_of(st.integers(max_value=0), st.integers(min_value=len(sources) + 1))
    # Only an exact file name of the index matches: no paths, no other letter case.
    near_misses = st.sampled_from(sources).flatmap(
        lambda s: st.sampled_from((f"./{s.filename}", f"sources/{s.filename}", s.filename.swapcase(), s.filename + " "))
    )
    names = st.one_of(video_filenames(), near_misses).filter(lambda name: name not in filenames)
    return st.one_of(indexes, names)


@st.composite
def _bad_clip(draw: st.DrawFn, sources: Sequence[Source], pos: int) -> tuple[ClipInput, type[KalinskyError], str]:
    """One clip that fails, the error class, and the message the core gives for it at position `pos`."""
    kind = draw(
        st.sampled_from(("unknown", "bad_ref", "not_finite", "negative", "reversed", "too_long", "no_frame"))
    )
    if kind == "unknown":
        ref = draw(_unknown_refs(sources))
        return ClipInput(source=ref), SourceNotFound, f"Source {ref} not found"
    if kind == "bad_ref":
        wrong: object = draw(st.sampled_from((True, False, 1.5, None, b"a.mp4")))
        # what an untyped caller (JSON, a script) may pass: the core checks it at run time
        message = f"source must be an index or a filename for clip {pos}"
        return ClipInput(source=cast("int | str", wrong)), InvalidClip, message
    source = draw(st.sampled_from(_usable(sources)))
    ref = draw(_ref(source))
    duration = source.duration
    inside = st.floats(0, duration)
    if kind == "not_finite":
        label = draw(st.sampled_from(("start", "end")))
        bad = draw(st.sampled_from((math.nan, math.inf, -math.inf)))
        start, end = (bad, draw(st.none() | inside)) if label == "start" else (draw(st.none() | inside), bad)
        return ClipInput(ref, start, end), InvalidClip, f"{label} must be a finite number for clip {pos}"
    if kind == "negative":
        start = draw(st.floats(-1e6, -1e-6))
        return ClipInput(ref, start, draw(st.none() | inside)), InvalidClip, f"start < 0 for clip {pos}"
    if kind == "reversed":
        start = draw(inside)
        end = draw(st.floats(-1e6, start) | (st.none() if start >= duration else st.nothing()))
        return ClipInput(ref, start, end), InvalidClip, f"start >= end for clip {pos}"
    if kind == "too_long":
        start = draw(st.none() | st.floats(0, duration, exclude_max=True))
        end = draw(st.floats(duration + 1e-4, duration + 1e6))
        message = f"end {end:g} exceeds duration {duration:g} of {source.filename} for clip {pos}"
        return ClipInput(ref, start, end), InvalidClip, message
    # no_frame: both ends strictly between two frame times
    fps = source.fps
    frame = draw(st.integers(0, math.floor(duration * fps) - 1))
    start, end = (round(float((frame + part) / fps), 6) for part in (Fraction(1, 4), Fraction(3, 4)))
    message = f"no frame between start and end for clip {pos} (the source has {fps} fps)"
    return ClipInput(ref, start, end), InvalidClip, message


@st.composite
def invalid_clip_lists(draw: st.DrawFn, sources: Sequence[Source]) -> InvalidCase:
    """Clip lists `resolve_clips` refuses for a non-empty `sources`: empty, an unknown source, a bad trim...

    The first bad clip decides the error, as in the core; good clips may come before and after it."""
    if draw(st.integers(0, 9)) == 0:
        return InvalidCase(clips=(), error=InvalidClip, message="clips must not be empty")
    before = draw(st.lists(valid_clip_inputs(sources), max_size=3))
    clip, error, message = draw(_bad_clip(sources, len(before) + 1))
    after = draw(st.lists(valid_clip_inputs(sources), max_size=2))
    return InvalidCase(clips=(*before, clip, *after), error=error, message=message)


def assembly_names() -> st.SearchStrategy[str | None]:
    """What a user may call an assembly (the API allows up to 200 characters, NUL excepted), or no name."""
    return st.none() | st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=200)


def timestamps() -> st.SearchStrategy[str]:
    """ISO 8601 UTC times at millisecond precision, like `created`."""
    return st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
        lambda moment: moment.replace(tzinfo=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


@st.composite
def assemblies(draw: st.DrawFn, sources: Sequence[Source] | None = None) -> Assembly:
    """Assemblies over `sources` (drawn when not given) in any render state: processing (with some
    progress), done or failed, always reached through the aggregate's own methods."""
    sources = sources if sources is not None else draw(source_indexes())
    clips = resolve_clips(draw(valid_clip_lists(sources)), sources)
    assembly = Assembly(
        id=assembly_id(draw(st.integers(1, 10**6))),
        name=draw(assembly_names()),
        preview=draw(st.booleans()),
        clips=clips,
        created=draw(timestamps()),
    )
    state = draw(st.sampled_from(("processing", "done", "failed")))
    if state == "processing":
        return assembly.with_progress(draw(st.floats(0, 1)), draw(st.none() | st.floats(0, 1e5)))
    if state == "done":
        return assembly.completed(sum(clip.duration for clip in clips))
    return assembly.failed(draw(st.text(min_size=1, max_size=200)))


@attrs.frozen
class CodedStream:
    """A coded video stream as a demuxer reads it: the frame each packet shows (index in presentation order),
    in decode order, and the decode positions of its keyframe packets."""

    frames: tuple[int, ...]
    keyframes_at: frozenset[int]


@st.composite
def coded_streams(draw: st.DrawFn, *, max_gops: int = 5, max_b_frames: int = 3) -> CodedStream:
    """Streams as H.264 encoders store them: GOPs of anchor frames (I or P), each stored before the up to
    `max_b_frames` B-frames shown ahead of it (in order, or middle first as with B-pyramids). A GOP opens with an
    IDR frame, or, in an open GOP, with an I-frame whose leading B-frames are shown before it."""
    frames: list[int] = []
    keyframes_at: set[int] = set()
    shown = 0
    for gop in range(draw(st.integers(1, max_gops))):
        for anchor in range(draw(st.integers(1, 6))):
            leading = 0 if gop == anchor == 0 else draw(st.integers(0, max_b_frames))
            if anchor == 0:
                leading = leading if draw(st.booleans()) else 0  # an open GOP's I-frame, or an IDR
                keyframes_at.add(len(frames))
            frames.append(shown + leading)
            b_frames = list(range(shown, shown + leading))
            if leading >= 3 and draw(st.booleans()):  # pyramid: the middle B-frame is a reference, stored first
                middle = b_frames.pop(leading // 2)
                b_frames.insert(0, middle)
            frames.extend(b_frames)
            shown += leading + 1
    return CodedStream(frames=tuple(frames), keyframes_at=frozenset(keyframes_at))
