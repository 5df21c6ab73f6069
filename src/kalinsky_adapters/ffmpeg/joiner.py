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
from typing import Any

import attrs

from kalinsky_adapters import process
from kalinsky_adapters.ffmpeg.args import FfmpegCommands
from kalinsky_adapters.ffmpeg.jobs import FfmpegJobs
from kalinsky_adapters.process import file_url
from kalinsky_adapters.render_files import RenderFolders
from kalinsky_core.errors import RenderFailed
from kalinsky_core.plan import RenderPlan
from kalinsky_core.ports import AudioTrack, CutSegment, ProgressCallback, RenderedOutput
from kalinsky_core.report import OutputMeasurements


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
        command = self.commands.concat_command(video_list, Path(audio.path), partial)
        await self.jobs.run(command, "joining the clips", progress, frames=plan.total_frames)
        duration = await self.measure_duration(partial)
        measured = await self.measure(plan, partial)
        await asyncio.to_thread(os.replace, partial, final)
        await self.files.remove_work(assembly_id)
        return RenderedOutput(path=str(final), duration=duration, measured=measured)

    async def measure(self, plan: RenderPlan, output: Path) -> OutputMeasurements:
        """Frames per clip and where each join starts, read from the output's video packets and from the clip
        sounds the audio track was made of (each clip's sound follows the one before, with no gap)."""
        sounds = [self.files.clip_sound(plan.assembly_id, segment.pos) for segment in plan.segments]
        video, *lengths = await asyncio.gather(
            self._probe(["-select_streams", "v:0", "-show_entries", "packet=pts_time:stream=start_time"], output),
            *(self._probe(["-show_entries", "format=duration"], sound) for sound in sounds),
        )
        times = sorted(float(packet["pts_time"]) for packet in video.get("packets", []) if "pts_time" in packet)
        audio = await self._probe(["-select_streams", "a:0", "-show_entries", "stream=start_time"], output)
        origin = times[0] if times else 0.0
        audio_origin = _start_time(audio, default=origin) - origin
        half_frame = 0.5 / float(plan.output.fps)
        clip_frames, video_starts, audio_starts = [], [], []
        sound_end = audio_origin
        for n, segment in enumerate(plan.segments):
            begin, end = segment.output_offset - half_frame, segment.output_offset + segment.duration - half_frame
            clip_frames.append(sum(1 for t in times if begin <= t - origin < end))
            if n:
                first = sum(clip_frames[:n])
                video_starts.append(times[first] - origin if first < len(times) else math.nan)
                audio_starts.append(sound_end)
            sound_end += float(lengths[n].get("format", {}).get("duration", "nan"))
        return OutputMeasurements(
            clip_frames=tuple(clip_frames), video_starts=tuple(video_starts), audio_starts=tuple(audio_starts)
        )

    async def _probe(self, entries: list[str], path: Path) -> dict[str, Any]:
        done = await process.run([self.ffprobe, "-v", "error", *entries, "-of", "json", file_url(path)])
        try:
            found = json.loads(done.stdout or "{}")
        except ValueError as error:
            raise RenderFailed(f"the joined output is unreadable: {done.stderr_tail}") from error
        return found if isinstance(found, dict) else {}

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


def _start_time(probed: dict[str, Any], default: float) -> float:
    streams = probed.get("streams") or [{}]
    try:
        return float(streams[0].get("start_time", default))
    except (TypeError, ValueError):
        return default
