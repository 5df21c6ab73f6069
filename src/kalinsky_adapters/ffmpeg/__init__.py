"""Renders with ffmpeg, split by reason to change:

    codecs.py      which coded frames may be copied, and the encoder settings that match them (one object)
    args.py        the argv of every command: pieces, clip sounds, audio track, join
    scheduling.py  rough costs, slot priorities, threads per piece
    jobs.py        running the commands in shared slots; failures in words; frame counts checked
    cutter.py      SegmentCutter: each clip's video pieces and sound, in the work folder
    joiner.py      Concatenator: the pieces and the audio track joined into the result

The cutter and the concatenator share the output folder's layout (`kalinsky_adapters.render_files`).
`ffmpeg_rendering()` puts them together as the core's `Rendering`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kalinsky_adapters.ffmpeg.args import Encoding, FfmpegCommands
from kalinsky_adapters.ffmpeg.codecs import CodecRules
from kalinsky_adapters.ffmpeg.cutter import FfmpegCutter
from kalinsky_adapters.ffmpeg.jobs import FfmpegJobs
from kalinsky_adapters.ffmpeg.joiner import FfmpegConcatenator
from kalinsky_adapters.ffmpeg.scheduling import DEFAULT_PARALLEL
from kalinsky_adapters.render_files import RenderFolders
from kalinsky_adapters.segment_cache import SegmentCache
from kalinsky_adapters.slots import PrioritySlots
from kalinsky_adapters.source_files import SourceFolder
from kalinsky_core.services import Rendering

if TYPE_CHECKING:  # proxies read sources with ffprobe, whose codec rules live in this package
    from kalinsky_adapters.proxies import PreviewProxies

__all__ = ["CodecRules", "Encoding", "FfmpegCommands", "FfmpegConcatenator", "FfmpegCutter", "ffmpeg_rendering"]


def ffmpeg_rendering(
    sources_dir: Path,
    output_dir: Path,
    ffmpeg: str,
    ffprobe: str,
    *,
    audio_codec: str = "aac",
    audio_bitrate: str = "128k",
    fade_ms: int = 50,
    preview_height: int | None = None,
    font: str | None = None,
    encoding: Encoding = Encoding(),
    parallel: int = DEFAULT_PARALLEL,
    slots: PrioritySlots | None = None,
    proxies: PreviewProxies | None = None,
    rules: CodecRules | None = None,
    files: RenderFolders | None = None,
    cache: SegmentCache | None = None,
) -> Rendering:
    """Renders of the sources in `sources_dir` into `output_dir`, with at most `parallel` ffmpeg processes at once
    (in `slots`, when other work shares them); previews read `proxies` when they have one; with a `cache`, files
    made before by the same recipe are reused."""
    sources = SourceFolder(sources_dir)
    files = files or RenderFolders(output_dir)
    rules = rules or CodecRules()
    commands = FfmpegCommands(
        ffmpeg, rules=rules, encoding=encoding, audio_codec=audio_codec, audio_bitrate=audio_bitrate, font=font
    )
    jobs = FfmpegJobs(folders=((sources.folder, ""), (files.root, "output/")), slots=slots or PrioritySlots(parallel))
    return Rendering(
        cutter=FfmpegCutter(sources, files, commands, jobs, parallel=parallel, proxies=proxies, cache=cache),
        concatenator=FfmpegConcatenator(files, commands, jobs, ffprobe, sources, cache=cache),
        files=files,
        rules=rules,
        fade_ms=fade_ms,
        preview_height=preview_height,
    )
