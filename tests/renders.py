"""Rendering clips of a folder of test sources with the real adapters, as the render tests do."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from media import FFMPEG, FFPROBE

from kalinsky_adapters.ffmpeg import ffmpeg_rendering
from kalinsky_adapters.ffprobe import FfprobeProber
from kalinsky_adapters.memory import InMemoryRepo
from kalinsky_core import services
from kalinsky_core.model import Assembly, AssemblyStatus, ClipInput
from kalinsky_core.plan import frame_span


async def render_clips(
    library: Path, out: Path, clips: Sequence[ClipInput], *, preview: bool = False, ffmpeg: str = FFMPEG,
    ffprobe: str = FFPROBE, **rendering: Any,
) -> tuple[Assembly, Path]:
    """Index `library`, render `clips` into `out` (keyword arguments go to `ffmpeg_rendering`); the finished
    assembly, which must be done, and its file."""
    repo = InMemoryRepo()
    await services.reindex(FfprobeProber(library, ffprobe), repo)
    renders = ffmpeg_rendering(library, out, ffmpeg, ffprobe, **rendering)
    assembly = await services.create_assembly(repo, renders.rules, clips, preview=preview)
    done = await services.render_assembly(assembly, repo, renders)
    assert done.status is AssemblyStatus.DONE, done.error
    return done, out / done.id / "result.mp4"


def coded_frames(
    clips: Sequence[ClipInput], offsets: Mapping[str, int], duration: float, fps: Fraction = Fraction(30)
) -> list[int]:
    """The frame numbers `clips` show of frame-coded sources of constant rate (see media.make_video): each
    source's `offsets` plus the indices of the clip's frames; a clip without an end lasts to `duration`."""
    frames = []
    for clip in clips:
        first, stop = frame_span(clip.start or 0.0, clip.end if clip.end is not None else duration, fps)
        frames += [offsets[str(clip.source)] + k for k in range(first, stop)]
    return frames
