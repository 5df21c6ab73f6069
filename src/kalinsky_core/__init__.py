"""Kalinsky's domain core: sources, clips, the Assembly aggregate, render planning and the use cases.

Pure Python (standard library and attrs). Bring your own adapters for the ports in `kalinsky_core.ports`,
or use the ffmpeg, SQLite and in-memory ones in `kalinsky_adapters`.
"""

from kalinsky_core.errors import (
    AssemblyNotFound,
    InvalidClip,
    KalinskyError,
    NotIndexed,
    ProbeFailed,
    RenderFailed,
    SourceNotFound,
)
from kalinsky_core.model import (
    SOURCE_EXTENSIONS,
    Assembly,
    AssemblyStatus,
    Clip,
    ClipInput,
    MediaInfo,
    SkippedFile,
    Source,
    SourceIndex,
)
from kalinsky_core.plan import RenderPlan, SegmentPlan, VideoFormat, frame_span, plan_render, resolve_clips
from kalinsky_core.ports import AssemblyRepo, Concatenator, CutSegment, MediaProber, RenderedOutput, SegmentCutter
from kalinsky_core.runner import RenderRunner
from kalinsky_core.services import create_assembly, get_assembly, list_sources, reindex, render_assembly

__all__ = [
    "SOURCE_EXTENSIONS",
    "Assembly",
    "AssemblyNotFound",
    "AssemblyRepo",
    "AssemblyStatus",
    "Clip",
    "ClipInput",
    "Concatenator",
    "CutSegment",
    "InvalidClip",
    "KalinskyError",
    "MediaInfo",
    "MediaProber",
    "NotIndexed",
    "ProbeFailed",
    "RenderFailed",
    "RenderPlan",
    "RenderRunner",
    "RenderedOutput",
    "SegmentCutter",
    "SegmentPlan",
    "SkippedFile",
    "Source",
    "SourceIndex",
    "SourceNotFound",
    "VideoFormat",
    "create_assembly",
    "frame_span",
    "get_assembly",
    "list_sources",
    "plan_render",
    "reindex",
    "render_assembly",
    "resolve_clips",
]
