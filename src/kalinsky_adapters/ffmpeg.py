"""SegmentCutter and Concatenator with ffmpeg.

Each clip is decoded from its exact first frame and encoded to the output's picture (H.264), with its
audio normalized to 48 kHz stereo PCM, padded or trimmed to the segment's exact video length and faded at
both ends; segments are `.mov` files because MP4 does not carry PCM. The join copies the video and encodes
the audio once (to AAC by default), so no encoder priming piles up at the joins.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import attrs

from kalinsky_adapters import process
from kalinsky_adapters.binaries import find_font
from kalinsky_adapters.process import file_url
from kalinsky_core.errors import RenderFailed
from kalinsky_core.plan import RenderPlan, SegmentPlan
from kalinsky_core.ports import CutSegment, ProgressCallback, RenderedOutput

AUDIO_RATE = 48000


def escape_filter_value(value: str) -> str:
    """Escape a filter option value for both levels of ffmpeg's filtergraph parsing (no shell is involved)."""
    option_level = "".join("\\" + c if c in "\\:'" else c for c in value)
    return "".join("\\" + c if c in "\\'[],;" else c for c in option_level)


def _us(seconds: float) -> str:
    return f"{round(seconds * 1_000_000)}us"


@attrs.frozen
class EncoderSettings:
    preset: str
    crf: int


@attrs.define
class FfmpegRenderer:
    sources_dir: Path
    output_dir: Path
    ffmpeg: str
    ffprobe: str
    audio_codec: str = "aac"
    audio_bitrate: str = "128k"
    clean: EncoderSettings = EncoderSettings(preset="fast", crf=18)
    preview: EncoderSettings = EncoderSettings(preset="ultrafast", crf=26)
    font: str | None = None  # found on first preview render when not given

    def assembly_dir(self, assembly_id: str) -> Path:
        return self.output_dir / assembly_id

    def segments_dir(self, assembly_id: str) -> Path:
        return self.assembly_dir(assembly_id) / "segments"

    # -- cutting ---------------------------------------------------------------------------------------

    @functools.cached_property
    def _font(self) -> str:
        return self.font or find_font()

    def _timecode_filter(self, segment: SegmentPlan, height: int) -> str:
        font = escape_filter_value(self._font)
        size = max(12, height // 20)
        text = escape_filter_value(
            f"%{{pts:hms:{segment.output_offset:.6f}}}  #{segment.pos} %{{pts:hms:{segment.start:.6f}}}"
        )
        return (
            f"drawtext=fontfile={font}:text={text}:fontsize={size}:fontcolor=white"
            f":box=1:boxcolor=black@0.6:boxborderw={size // 4}:x={size // 2}:y={size // 2}"
        )

    def _video_filter(self, plan: RenderPlan, segment: SegmentPlan) -> str:
        out = plan.output
        steps = ["setpts=PTS-STARTPTS"]
        if segment.scale:
            steps.append(
                f"scale={out.width}:{out.height}:force_original_aspect_ratio=decrease,"
                f"pad={out.width}:{out.height}:-1:-1,setsar=1"
            )
        if segment.convert_fps:
            steps.append(f"fps={out.frame_rate}")
        steps.append("format=yuv420p")
        if plan.preview:
            steps.append(self._timecode_filter(segment, out.height))
        return ",".join(steps)

    def _audio_filter(self, segment: SegmentPlan, label: str) -> str:
        duration = segment.duration
        steps = [
            f"aresample={AUDIO_RATE}",
            "aformat=sample_fmts=s16:channel_layouts=stereo",
            "asetpts=PTS-STARTPTS",
            "apad",
            f"atrim=end_sample={round(duration * AUDIO_RATE)}",
        ]
        if segment.fade > 0:
            steps.append(f"afade=t=in:st=0:d={segment.fade:.6f}")
            steps.append(f"afade=t=out:st={duration - segment.fade:.6f}:d={segment.fade:.6f}")
        return f"[{label}]" + ",".join(steps) + "[a]"

    def cut_command(self, plan: RenderPlan, segment: SegmentPlan, destination: Path) -> list[str]:
        encoder = self.preview if plan.preview else self.clean
        # Read a little past the last frame: the video stops at its frame count, the audio at its sample count.
        read = segment.end - segment.seek + 1.0
        argv = [self.ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y", "-progress", "pipe:1",
                "-stats_period", "0.5",
                "-ss", _us(segment.seek), "-t", _us(read), "-i", file_url(self.sources_dir / segment.filename)]
        if segment.has_audio:
            audio_label = "0:a:0"
        else:
            argv += ["-f", "lavfi", "-t", _us(segment.duration + 1.0), "-i", f"anullsrc=r={AUDIO_RATE}:cl=stereo"]
            audio_label = "1:a:0"
        graph = f"[0:v:0]{self._video_filter(plan, segment)}[v];{self._audio_filter(segment, audio_label)}"
        return argv + [
            "-filter_complex", graph,
            "-map", "[v]", "-map", "[a]",
            "-frames:v", str(segment.output_frames),
            "-c:v", "libx264", "-preset", encoder.preset, "-crf", str(encoder.crf), "-pix_fmt", "yuv420p",
            "-c:a", "pcm_s16le",
            "-f", "mov", file_url(destination),
        ]

    async def cut(self, plan: RenderPlan, segment: SegmentPlan, progress: ProgressCallback) -> CutSegment:
        folder = self.segments_dir(plan.assembly_id)
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        destination = folder / f"{segment.pos:03d}.mov"
        done = await process.run(self.cut_command(plan, segment, destination), progress)
        if done.returncode != 0:
            raise RenderFailed(
                f"ffmpeg failed on clip {segment.pos} ({segment.filename}), exit {done.returncode}: {done.stderr_tail}"
            )
        return CutSegment(pos=segment.pos, path=str(destination), duration=segment.duration, video="reencode")

    # -- joining ---------------------------------------------------------------------------------------

    @staticmethod
    def concat_list(segments: Sequence[CutSegment]) -> str:
        lines = []
        for segment in segments:
            quoted = str(Path(segment.path).resolve()).replace("'", "'\\''")
            lines.append(f"file '{quoted}'")
        return "\n".join(lines) + "\n"

    def concat_command(self, list_file: Path, destination: Path) -> list[str]:
        return [
            self.ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y", "-progress", "pipe:1",
            "-stats_period", "0.5",
            "-f", "concat", "-safe", "0", "-i", file_url(list_file),
            "-map", "0:v:0", "-map", "0:a:0",
            "-c:v", "copy",
            "-af", "aresample=async=1:min_hard_comp=0.01:first_pts=0",
            "-c:a", self.audio_codec, "-b:a", self.audio_bitrate,
            "-movflags", "+faststart",
            "-f", "mp4", file_url(destination),
        ]

    async def concat(
        self, plan: RenderPlan, segments: Sequence[CutSegment], progress: ProgressCallback
    ) -> RenderedOutput:
        work = self.segments_dir(plan.assembly_id)
        list_file = work / "concat.txt"
        partial = work / "result.mp4"
        final = self.assembly_dir(plan.assembly_id) / "result.mp4"
        await asyncio.to_thread(list_file.write_text, self.concat_list(segments), "utf-8")
        done = await process.run(self.concat_command(list_file, partial), progress)
        if done.returncode != 0:
            raise RenderFailed(f"ffmpeg failed joining the clips, exit {done.returncode}: {done.stderr_tail}")
        duration = await self.measure_duration(partial)
        await asyncio.to_thread(os.replace, partial, final)
        await asyncio.to_thread(shutil.rmtree, work, True)
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

    async def discard(self, assembly_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self.assembly_dir(assembly_id), True)
