"""Kalinsky's domain core: sources, clips, the Assembly aggregate, render planning and the use cases.

Pure Python (standard library and attrs): no I/O, no framework. Each use case takes the ports it needs as
arguments, so any adapters drive it: the ffprobe, ffmpeg, SQLite and in-memory ones in `kalinsky_adapters`, or
your own (ports are `typing.Protocol`s: match the methods, inherit nothing). examples/library.py renders a
video with the core and the ffmpeg adapters in a few lines.

Model (immutable attrs classes)
    Source, MediaInfo, SourceIndex, SkippedFile   what a reindex finds in the sources folder (files whose
                                                  extension is in SOURCE_EXTENSIONS)
    FileIdentity                                  what tells a source file from another: size, mtime, inode,
                                                  a digest of sampled blocks (renders check it)
    ClipInput                                     a clip as asked: a source by 1-based index or exact filename,
                                                  optional start and end in seconds
    Clip, VideoPath                               a resolved clip: pos, filename, start, end, duration, and
                                                  `video`: copied, smart-cut or re-encoded
    VideoCoding                                   how a source's video is coded (codec rules decide what can be
                                                  copied)
    Assembly, AssemblyStatus, Phase               the aggregate: what was asked never changes, only the render
                                                  state (status, progress, error, duration) moves

Use cases (coroutines)
    reindex(prober, repo) -> SourceIndex          probe the folder, replace the index (unreadable files skipped)
    list_sources(repo)                            the index; NotIndexed before the first reindex
    create_assembly(repo, rules, clips, name=, preview=)
                                                  validate against the index, store it `processing`
    get_assembly(repo, assembly_id)               AssemblyNotFound if there is none
    render_assembly(assembly, repo, rendering)    cut, join, store `done` or `failed`; returns the final state.
                                                  Rendering holds the cutter, concatenator, render files, codec
                                                  rules and settings
    cancel_assembly(repo, queue, files, assembly_id)
                                                  store `cancelled`, stop its render wherever it runs
    delete_assembly(repo, files, assembly_id)     remove a finished assembly's files and record;
                                                  AssemblyProcessing while it renders (ids are never reused)
    delete_older_than(repo, files, days)          the same for finished assemblies created `days` ago or more
    unfinished_assemblies(repo)                   still `processing` (a render was stopped), oldest first
    SourceLibrary, AssemblyDesk                   the same use cases over the ports of a running application
                                                  (reindex with its lock and derived media; create, start,
                                                  render, cancel, delete, resume), as every entrypoint calls them;
                                                  Derive says when derived media follows a reindex
    start_service(library, desk, auto_reindex=)   what a server does as it starts

Planning (pure functions)
    resolve_clips(inputs, sources)                ClipInputs to Clips, or InvalidClip / SourceNotFound
    find_source(sources, ref)                     a source by 1-based index or exact filename
    frame_span(start, end, fps)                   the source frames [first, stop) shown for [start, end)
    plan_render(assembly, sources, fade_ms=)      RenderPlan: the output's VideoFormat and, per clip, a
                                                  SegmentPlan of what to cut and how

Ports and their values
    MediaProber, CodingRules, SegmentCutter, Concatenator, RenderFiles, DerivedMedia, IndexLock, AssemblyRepo,
    RenderQueue;
    CutSegment, AudioTrack, RenderedOutput, ProgressCallback

Render jobs (kalinsky_core.jobs): every render has one owner at a time, holding a lease in the records
    Renderer, Leases                              what a worker does with one job: claim, render, renew, hand back;
                                                  how long a lease lasts and how often it is renewed
    LocalWorker, LocalQueue                       workers in this process, taking jobs from the records

Errors: KalinskyError and its kinds NotIndexed, SourceNotFound, InvalidClip, AssemblyNotFound, AssemblyFinished,
AssemblyProcessing, ProbeFailed, RenderFailed carry the user-facing text in `message`, e.g. "Source 99 not found",
"start >= end for clip 2", "Assembly not found", "No index. Call POST /sources/reindex first."; InvalidClip and
SourceNotFound also carry the position of the clip at fault in `clip`.

Property tests: `kalinsky_core.testing` has hypothesis strategies for all of the above (it needs hypothesis;
importing `kalinsky_core` does not).
"""

from kalinsky_core.errors import (
    AssemblyFinished,
    AssemblyNotFound,
    AssemblyProcessing,
    InvalidClip,
    KalinskyError,
    NotIndexed,
    ProbeFailed,
    RenderFailed,
    SourceNotFound,
)
from kalinsky_core.jobs import Leases, LocalQueue, LocalWorker, Renderer
from kalinsky_core.model import (
    SOURCE_EXTENSIONS,
    Assembly,
    AssemblyStatus,
    Clip,
    ClipInput,
    FileIdentity,
    MediaInfo,
    Phase,
    SkippedFile,
    Source,
    SourceIndex,
    VideoCoding,
    VideoPath,
)
from kalinsky_core.plan import (
    RenderPlan,
    SegmentPlan,
    VideoFormat,
    find_source,
    frame_span,
    plan_render,
    resolve_clips,
)
from kalinsky_core.ports import (
    AssemblyRepo,
    AudioTrack,
    CodingRules,
    Concatenator,
    CutSegment,
    DerivedMedia,
    IndexLock,
    MediaProber,
    ProgressCallback,
    RenderedOutput,
    RenderFiles,
    RenderQueue,
    SegmentCutter,
)
from kalinsky_core.services import (
    AssemblyDesk,
    Derive,
    Rendering,
    SourceLibrary,
    cancel_assembly,
    create_assembly,
    delete_assembly,
    delete_older_than,
    get_assembly,
    list_sources,
    reindex,
    render_assembly,
    start_service,
    unfinished_assemblies,
)

__all__ = [
    "SOURCE_EXTENSIONS",
    "Assembly",
    "AssemblyDesk",
    "CodingRules",
    "Derive",
    "DerivedMedia",
    "IndexLock",
    "RenderFiles",
    "Rendering",
    "SourceLibrary",
    "VideoPath",
    "start_service",
    "AssemblyFinished",
    "AssemblyNotFound",
    "AssemblyProcessing",
    "AssemblyRepo",
    "AssemblyStatus",
    "AudioTrack",
    "Clip",
    "ClipInput",
    "Concatenator",
    "CutSegment",
    "FileIdentity",
    "InvalidClip",
    "KalinskyError",
    "MediaInfo",
    "MediaProber",
    "NotIndexed",
    "Phase",
    "ProbeFailed",
    "ProgressCallback",
    "RenderFailed",
    "RenderPlan",
    "Leases",
    "LocalQueue",
    "LocalWorker",
    "Renderer",
    "RenderedOutput",
    "RenderQueue",
    "SegmentCutter",
    "SegmentPlan",
    "SkippedFile",
    "Source",
    "SourceIndex",
    "SourceNotFound",
    "VideoCoding",
    "VideoFormat",
    "cancel_assembly",
    "create_assembly",
    "delete_assembly",
    "delete_older_than",
    "find_source",
    "frame_span",
    "get_assembly",
    "list_sources",
    "plan_render",
    "reindex",
    "render_assembly",
    "resolve_clips",
    "unfinished_assemblies",
]
