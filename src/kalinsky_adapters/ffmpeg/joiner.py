"""Concatenator with ffmpeg: the cut pieces and the audio track joined, copied, into the assembly's result.

The join must hold exactly the planned frames; the result is written in the work folder and moved into place only
once complete, and its duration is measured in the file.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import attrs

from kalinsky_adapters import process
from kalinsky_adapters.ffmpeg.args import FfmpegCommands
from kalinsky_adapters.ffmpeg.jobs import FfmpegJobs
from kalinsky_adapters.process import file_url
from kalinsky_adapters.render_files import RenderFolders
from kalinsky_core.errors import RenderFailed
from kalinsky_core.plan import RenderPlan
from kalinsky_core.ports import AudioTrack, CutSegment, ProgressCallback, RenderedOutput


@attrs.define
class FfmpegConcatenator:
    files: RenderFolders
    commands: FfmpegCommands
    jobs: FfmpegJobs
    ffprobe: str

    async def concat(
        self, plan: RenderPlan, segments: Sequence[CutSegment], audio: AudioTrack, progress: ProgressCallback
    ) -> RenderedOutput:
        assembly_id = plan.assembly_id
        video_list, partial = self.files.video_list(assembly_id), self.files.partial_result(assembly_id)
        final = self.files.result(assembly_id)
        pieces = [f for s in segments for f in s.video_files]
        await asyncio.to_thread(video_list.write_text, self.commands.concat_list(pieces, probe=False), "utf-8")
        command = self.commands.concat_command(plan, video_list, Path(audio.path), partial)
        await self.jobs.run(command, "joining the clips", progress, frames=plan.total_frames)
        duration = await self.measure_duration(partial)
        await asyncio.to_thread(os.replace, partial, final)
        await self.files.remove_work(assembly_id)
        return RenderedOutput(path=str(final), duration=duration)

    async def measure_duration(self, path: Path) -> float:
        done = await process.run(
            [self.ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "json", file_url(path)]
        )
        try:
            duration = float(json.loads(done.stdout)["format"]["duration"])
        except (ValueError, KeyError, TypeError) as error:
            raise RenderFailed(f"the joined output is unreadable: {done.stderr_tail}") from error
        if not math.isfinite(duration):
            raise RenderFailed("the joined output has no duration")
        return duration
