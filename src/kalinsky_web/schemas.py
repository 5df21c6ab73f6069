"""The HTTP API's own request and response bodies. Domain objects are turned into these at the edge, so the domain
can hold data the API does not show (keyframe lists, copy points) and the JSON stays as documented.

Response fields are declared in alphabetical order: that is the order the API has always sent them in.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar.openapi.datastructures import ResponseSpec

from kalinsky_core import model
from kalinsky_core import qc as model_qc
from kalinsky_core import report as model_report
from kalinsky_core.model import AssemblyStatus, ClipInput, Phase, VideoPath

#: Upper bounds that keep one request from tying up the service.
MAX_CLIPS = 1000
MAX_NAME_LENGTH = 200
MAX_URL_LENGTH = 2048


# -- requests --------------------------------------------------------------------------------------------------


class ClipIn(msgspec.Struct, forbid_unknown_fields=True):
    """A clip: `source` is a 1-based index or an exact filename of the index; `start`/`end` in seconds
    (defaults: 0 and the source's duration)."""

    source: int | Annotated[str, msgspec.Meta(max_length=1024)]
    start: float | None = None
    end: float | None = None

    def to_domain(self) -> ClipInput:
        return ClipInput(source=self.source, start=self.start, end=self.end)


class AssemblyCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A new assembly: clips in output order; `preview` burns in a timecode at a smaller size; `callback_url`
    (http or https) is POSTed the assembly's JSON when it finishes."""

    clips: Annotated[list[ClipIn], msgspec.Meta(max_length=MAX_CLIPS)]
    name: Annotated[str, msgspec.Meta(max_length=MAX_NAME_LENGTH, pattern="^[^\x00]*$")] | None = None
    preview: bool = True
    callback_url: Annotated[str, msgspec.Meta(max_length=MAX_URL_LENGTH)] | None = None

    def clip_inputs(self) -> list[ClipInput]:
        return [clip.to_domain() for clip in self.clips]


# -- responses -------------------------------------------------------------------------------------------------


class VideoCoding(msgspec.Struct, kw_only=True):
    """How a source's video is coded: what decides whether its frames can be copied."""

    codec: str
    color_primaries: str  # the colour description as ffprobe names it, "" where the stream does not say
    color_range: str
    color_space: str
    color_transfer: str  # "arib-std-b67": HLG, "smpte2084": PQ
    constant_rate: bool
    level: int
    pix_fmt: str
    profile: str
    reorder_depth: int
    rotation: int
    sample_aspect: str  # the stored pictures' pixel aspect, "W:H" ("1:1" square; "" not known)
    time_base: str


class SourceQC(msgspec.Struct, kw_only=True):
    """What a user should know of a source before cutting it: `hdr` "sdr", "hlg" or "pq"; `bit_depth` (null when
    the coding is unknown); display `rotation` in degrees; `variable_frame_rate`; `audio` "ok", "missing" or
    "short" (shorter than the picture); the longest `keyframe_interval` in seconds (null when unknown) and
    `long_gop` (over 2 s: slower smart cuts); whether `browser_plays` the file as it is; and `clean_render`, how
    its video is made as the first clip of a clean render ("smart": copied, only the frames around the cuts encoded
    again; "reencode": encoded whole); `pixel_aspect`, the width of a pixel over its height as shown ("1:1"
    square, others for anamorphic video, shown wider or narrower than its pixel size)."""

    audio: str
    bit_depth: int | None
    browser_plays: bool
    clean_render: VideoPath
    hdr: str
    keyframe_interval: float | None
    long_gop: bool
    pixel_aspect: str
    rotation: int
    variable_frame_rate: bool

    @classmethod
    def of(cls, qc: model_qc.SourceQC) -> SourceQC:
        return cls(
            audio=qc.audio, bit_depth=qc.bit_depth, browser_plays=qc.browser_plays, clean_render=qc.clean_render,
            hdr=qc.hdr.value, keyframe_interval=qc.keyframe_interval, long_gop=qc.long_gop, rotation=qc.rotation,
            variable_frame_rate=qc.variable_frame_rate, pixel_aspect=qc.pixel_aspect,
        )


class Proxy(msgspec.Struct):
    """The source's proxy: `state` "none" (it needs none, or proxies are turned off), "waiting", "making" (with
    `progress` 0..1), "ready" or "failed". Where the browser cannot play the source, /media serves the proxy once
    it is ready."""

    progress: float
    state: str


class Source(msgspec.Struct, kw_only=True):
    """An indexed source video. `index` is 1-based, in filename order; `resolution` is as displayed."""

    codec: str
    coding: VideoCoding | None
    duration: float
    file_size: int
    filename: str
    frame_count: int | None
    frame_rate: str
    has_audio: bool
    height: int
    index: int
    proxy: Proxy | None = None
    qc: SourceQC | None = None
    resolution: str
    width: int

    @classmethod
    def of(cls, source: model.Source, qc: model_qc.SourceQC | None = None, proxy: Proxy | None = None) -> Source:
        coding = source.coding
        return cls(
            codec=source.codec,
            coding=None if coding is None else VideoCoding(
                codec=coding.codec, color_primaries=coding.color_primaries, color_range=coding.color_range,
                color_space=coding.color_space, color_transfer=coding.color_transfer,
                constant_rate=coding.constant_rate, level=coding.level, pix_fmt=coding.pix_fmt,
                profile=coding.profile, reorder_depth=coding.reorder_depth, rotation=coding.rotation,
                time_base=coding.time_base, sample_aspect=coding.sample_aspect,
            ),
            duration=source.duration,
            file_size=source.file_size,
            filename=source.filename,
            frame_count=source.frame_count,
            frame_rate=source.frame_rate,
            has_audio=source.has_audio,
            height=source.height,
            index=source.index,
            resolution=source.resolution,
            width=source.width,
            proxy=proxy,
            qc=None if qc is None else SourceQC.of(qc),
        )


class SkippedFile(msgspec.Struct):
    filename: str
    reason: str

    @classmethod
    def of(cls, skipped: model.SkippedFile) -> SkippedFile:
        return cls(filename=skipped.filename, reason=skipped.reason)


class ReindexResult(msgspec.Struct):
    """`count` sources indexed; `skipped` lists the video files that could not be read, with the reason."""

    status: str
    count: int
    skipped: list[SkippedFile]

    @classmethod
    def of(cls, index: model.SourceIndex) -> ReindexResult:
        return cls(status="ok", count=len(index.sources), skipped=[SkippedFile.of(s) for s in index.skipped])


class Clip(msgspec.Struct):
    """A clip of an assembly with its resolved trim; `video` is how its video is made in a clean render."""

    duration: float
    end: float
    filename: str
    pos: int
    start: float
    video: VideoPath

    @classmethod
    def of(cls, clip: model.Clip) -> Clip:
        return cls(
            duration=clip.duration, end=clip.end, filename=clip.filename, pos=clip.pos, start=clip.start,
            video=clip.video,
        )


class Callback(msgspec.Struct):
    """The notice of the assembly's end to its `callback_url`: `status` is pending, retrying, delivered or
    failed (no more attempts); `last_error` is what went wrong with the last attempt that failed."""

    attempts: int
    last_error: str | None
    status: str
    url: str

    @classmethod
    def of(cls, callback: model.Callback) -> Callback:
        return cls(
            attempts=callback.attempts, last_error=callback.last_error, status=callback.status.value,
            url=callback.url,
        )


class Assembly(msgspec.Struct):
    """An assembly and the state of its render. `output_url` is set once it is `done`; `callback` is null
    unless a `callback_url` was given. While it is `processing`, `phase` says whether it waits for a worker
    (`queued`), is cut (`rendering`) or joined (`joining`), and `worker` names the process rendering it
    (`host:pid`); both are null once it has finished. `attempts` counts the renders of it started (more than one
    when a worker stopped or died midway and another took it over)."""

    attempts: int
    callback: Callback | None
    clips: list[Clip]
    created: str
    duration: float | None
    error: str | None
    eta_seconds: float | None
    id: str
    name: str | None
    output_url: str | None
    phase: Phase | None
    preview: bool
    progress: float
    status: AssemblyStatus
    worker: str | None

    @classmethod
    def of(cls, assembly: model.Assembly, output_url: str | None) -> Assembly:
        return cls(
            attempts=assembly.attempts,
            callback=None if assembly.callback is None else Callback.of(assembly.callback),
            clips=[Clip.of(clip) for clip in assembly.clips],
            created=assembly.created,
            duration=assembly.duration,
            error=assembly.error,
            eta_seconds=assembly.eta_seconds,
            id=assembly.id,
            name=assembly.name,
            output_url=output_url if assembly.status is AssemblyStatus.DONE else None,
            phase=assembly.phase,
            preview=assembly.preview,
            progress=assembly.progress,
            status=assembly.status,
            worker=assembly.worker,
        )


class ClipReport(msgspec.Struct):
    """One clip of a finished render: the path its video took; frames planned, written (counted in the output),
    copied, and encoded before the first / after the last copied frame; its video pieces (each one ffmpeg command),
    how many the segment cache served and how many were made now, whether its sound came from the cache, and in
    one word what the cache served of it (`hit`: everything, `partial`, `miss`: nothing, `none`: no cache was asked;
    `pieces_cached` and `sound_cached` are then null)."""

    cache: model_report.CacheUse
    encoded_at_end: int
    encoded_at_start: int
    filename: str
    frames_copied: int
    frames_planned: int
    frames_written: int
    pieces: int
    pieces_cached: int | None
    pieces_made: int
    pos: int
    sound_cached: bool | None
    video: VideoPath


class JoinReport(msgspec.Struct):
    """The join before clip `pos`, planned at `at` seconds: where that clip's video and audio start in the
    output, the audio's lead or lag (`av_offset_ms` > 0: the sound starts late), and what the decoders said of
    the output's frames around it (`decode_errors`, a few short messages; empty: they decode cleanly)."""

    at: float
    audio_start: float
    av_offset_ms: float
    decode_errors: list[str]
    pos: int
    video_start: float


class RenderTimings(msgspec.Struct):
    """Wall-clock seconds of a render: cutting (the first cut's start to the last one's end, all clips and the audio
    at once), joining (or taking the result from the cache), measuring the result, and in all (from planning to the
    result in place: more than the steps together)."""

    cut_s: float
    join_s: float
    measure_s: float
    total_s: float


class RenderReport(msgspec.Struct):
    """What a finished render did at every clip and every join; `largest_offset_ms` and
    `joins_with_decode_errors` sum it up. `pieces` and `pieces_cached`: the video pieces of all clips and how many
    the cache served; `result_cached`: whether the joined result was taken whole from the cache (an identical
    render before); `timings` (null for renders reported before they were timed)."""

    clips: list[ClipReport]
    joins: list[JoinReport]
    joins_with_decode_errors: int
    largest_offset_ms: float
    pieces: int
    pieces_cached: int | None
    result_cached: bool | None
    timings: RenderTimings | None

    @classmethod
    def of(cls, report: model_report.RenderReport) -> RenderReport:
        timings = report.timings
        return cls(
            clips=[
                ClipReport(
                    cache=c.cache, encoded_at_end=c.encoded_at_end, encoded_at_start=c.encoded_at_start,
                    filename=c.filename, frames_copied=c.frames_copied, frames_planned=c.frames_planned,
                    frames_written=c.frames_written, pieces=c.pieces, pieces_cached=c.pieces_cached,
                    pieces_made=c.pieces_made, pos=c.pos, sound_cached=c.sound_cached, video=c.video,
                )
                for c in report.clips
            ],
            joins=[
                JoinReport(at=j.at, audio_start=j.audio_start, av_offset_ms=j.av_offset_ms,
                           decode_errors=list(j.decode_errors), pos=j.pos, video_start=j.video_start)
                for j in report.joins
            ],
            joins_with_decode_errors=report.joins_with_decode_errors,
            largest_offset_ms=report.largest_offset_ms,
            pieces=report.pieces,
            pieces_cached=report.pieces_cached,
            result_cached=report.result_cached,
            timings=None if timings is None else RenderTimings(
                cut_s=timings.cut_s, join_s=timings.join_s, measure_s=timings.measure_s, total_s=timings.total_s
            ),
        )


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """Every error answer: the HTTP status again and a message for people; `clip` is the 1-based position of
    the clip at fault, when one is."""

    status_code: int
    detail: str
    clip: int | None = None


class Filmstrip(msgspec.Struct):
    """The layout of `GET /sources/{index}/filmstrip`: `count` tiles of `tile_width` x `tile_height` pixels in one
    row, tile `i` showing source frame `frames[i]`, which starts at `times[i]` seconds."""

    count: int
    frames: list[int]
    tile_height: int
    tile_width: int
    times: list[float]


class SourceTimeline(msgspec.Struct):
    """What the trim bar needs of a source besides its pictures and sound: frames are counted at `frame_rate`.

    `keyframes`: the frames a copied run may start at; `copy_ends`: the frames a copied run may end before (null:
    any frame); `copyable`: whether a clean render can copy this source's frames at all (its coding allows it).
    """

    copy_ends: list[int] | None
    copyable: bool
    filmstrip: Filmstrip
    frame_count: int | None
    frame_rate: str
    keyframes: list[int]


def error_responses(**described: str) -> dict[int, ResponseSpec]:
    """OpenAPI entries for error answers, e.g. `error_responses(e404="No such assembly")`."""
    return {
        int(code[1:]): ResponseSpec(data_container=ErrorBody, description=text, generate_examples=False)
        for code, text in described.items()
    }
