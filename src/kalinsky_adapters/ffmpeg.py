"""SegmentCutter and Concatenator with ffmpeg.

A clip's video is made of the pieces the plan gives: runs of whole GOPs are copied as coded (starting exactly
at a keyframe, stopping after a frame count), the frames around them are decoded from their exact first frame
and encoded to the output's picture with libx264 set up like the copied frames (profile, level, B-frame delay,
time scale), so that the joined stream plays as one. Each piece is a video-only `.mov`.

A clip's audio is one 48 kHz stereo PCM `.wav`, padded or trimmed to the clip's exact video length and faded
at both ends (silence for a source without audio). The join copies the video pieces and encodes the audio once
(AAC by default), so no encoder priming piles up at the joins.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import os
import shutil
import signal
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import attrs

from kalinsky_adapters import process
from kalinsky_adapters.binaries import find_font
from kalinsky_adapters.process import file_url
from kalinsky_core.errors import RenderFailed
from kalinsky_core.plan import Piece, RenderPlan, SegmentPlan
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


async def _ignore_progress(_seconds: float) -> None:
    pass


def _signal_reason(returncode: int) -> str:
    """Why ffmpeg ended without a word: the signal that stopped it, if any."""
    if returncode >= 0:
        return "no message"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        return f"killed by signal {-returncode}"
    hint = " (a file grew past the size it may have: is the disk full?)" if name == "SIGXFSZ" else ""
    return f"killed by {name}{hint}"


#: ffprobe's profile names → libx264's.
_X264_PROFILES = {"High": "high", "Main": "main", "Constrained Baseline": "baseline", "Baseline": "baseline"}
#: B-frame delay (frames) → the libx264 settings that give it.
_X264_REORDER = {
    0: ["-bf", "0"],
    1: ["-bf", "2", "-x264-params", "b-pyramid=none"],
    2: ["-bf", "3", "-x264-params", "b-pyramid=normal"],
}


def timescale(plan: RenderPlan) -> int:
    """The video track's time scale for every piece: the copied frames' own, else a multiple of the frame rate."""
    if plan.output.coding is not None:
        return Fraction(plan.output.coding.time_base).denominator
    numerator = plan.output.fps.numerator
    return numerator * math.ceil(10_000 / numerator)


@attrs.define
class FfmpegRenderer:
    sources_dir: Path
    output_dir: Path
    ffmpeg: str
    ffprobe: str
    audio_codec: str = "aac"
    audio_bitrate: str = "128k"
    # Clean renders re-encode only the frames around cuts (or sources that cannot be copied). A low CRF keeps
    # their quality; the fast preset spends bits instead of time on these short pieces.
    clean: EncoderSettings = EncoderSettings(preset="superfast", crf=17)
    preview: EncoderSettings = EncoderSettings(preset="ultrafast", crf=26)
    font: str | None = None  # found on first preview render when not given
    parallel: int = 2  # ffmpeg processes at once within one render
    _slots: asyncio.Semaphore = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.parallel)

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
                f"scale={out.width}:{out.height}:force_original_aspect_ratio=decrease"
                f"{':flags=fast_bilinear' if plan.preview else ''},"
                f"pad={out.width}:{out.height}:-1:-1,setsar=1"
            )
        if segment.convert_fps:
            steps.append(f"fps={out.frame_rate}")
        steps.append("format=yuv420p")
        if plan.preview:
            steps.append(self._timecode_filter(segment, out.height))
        return ",".join(steps)

    def _audio_filter(self, segment: SegmentPlan) -> str:
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
        return ",".join(steps)

    def _head(self) -> list[str]:
        return [self.ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y", "-progress", "pipe:1",
                "-stats_period", "0.5"]

    def _source(self, segment: SegmentPlan) -> str:
        return file_url(self.sources_dir / segment.filename)

    def audio_command(self, segment: SegmentPlan, destination: Path) -> list[str]:
        """The clip's audio as 48 kHz stereo PCM, exactly as long as its video, faded in and out;
        silence for a source without audio."""
        if segment.has_audio:
            # Read a little past the clip: apad/atrim make the length exact.
            source = ["-ss", _us(segment.seek), "-t", _us(segment.duration + 1.0), "-i", self._source(segment)]
        else:
            source = ["-f", "lavfi", "-i", f"anullsrc=r={AUDIO_RATE}:cl=stereo"]
        return [*self._head(), *source, "-map", "0:a:0", "-af", self._audio_filter(segment),
                "-c:a", "pcm_s16le", "-f", "wav", file_url(destination)]

    def _encoder_args(self, plan: RenderPlan) -> list[str]:
        settings = self.preview if plan.preview else self.clean
        args = ["-c:v", "libx264", "-preset", settings.preset, "-crf", str(settings.crf), "-pix_fmt", "yuv420p"]
        coding = plan.output.coding
        if coding is not None:  # encode like the frames that get copied next to these
            args += ["-profile:v", _X264_PROFILES.get(coding.profile, "high")]
            if coding.level > 0:
                args += ["-level:v", f"{coding.level / 10:g}"]
            args += _X264_REORDER[coding.reorder_depth]
        return args + ["-video_track_timescale", str(timescale(plan))]

    def piece_command(self, plan: RenderPlan, segment: SegmentPlan, piece: Piece, destination: Path) -> list[str]:
        if piece.copy:
            return [*self._head(), "-ss", _us(piece.seek), "-i", self._source(segment), "-map", "0:v:0",
                    "-c:v", "copy", "-frames:v", str(piece.frames), "-an",
                    "-video_track_timescale", str(timescale(plan)), "-f", "mov", file_url(destination)]
        read = piece.source_seconds + 1.0  # a little past the last frame: -frames:v makes the end exact
        # Previews are proxies: decoding without the deblocking filter is markedly faster and hardly shows.
        fast_decode = ["-skip_loop_filter", "all"] if plan.preview else []
        return [*self._head(), *fast_decode, "-ss", _us(piece.seek), "-t", _us(read), "-i", self._source(segment),
                "-map", "0:v:0", "-vf", self._video_filter(plan, segment), "-frames:v", str(piece.output_frames),
                *self._encoder_args(plan), "-an", "-f", "mov", file_url(destination)]

    def _readable(self, stderr: str) -> str:
        """ffmpeg's complaint, with file names relative to the folders users know."""
        for folder, shown in ((self.sources_dir, ""), (self.output_dir, "output/")):
            stderr = stderr.replace(f"file:{Path(folder).resolve()}/", shown)
        return stderr

    async def _run(
        self, argv: list[str], what: str, progress: ProgressCallback | None = None, frames: int | None = None
    ) -> None:
        """Run ffmpeg; with `frames`, the video it writes must have exactly that many frames."""
        async with self._slots:
            done = await process.run(argv, progress or _ignore_progress)
        if done.returncode != 0:
            reason = self._readable(done.stderr_tail) or _signal_reason(done.returncode)
            raise RenderFailed(f"ffmpeg failed on {what}, exit {done.returncode}: {reason}")
        made = done.progress.get("frame", "")
        if frames is not None and made != str(frames):
            raise RenderFailed(
                f"ffmpeg made {made or 'no'} of {frames} frames for {what}: the source ends early or is damaged"
            )

    async def _check_source(self, segment: SegmentPlan) -> None:
        """Fail clearly, before ffmpeg does obscurely, when a source went away or changed since indexing."""
        try:
            size = (await asyncio.to_thread(os.stat, self.sources_dir / segment.filename)).st_size
        except FileNotFoundError:
            raise RenderFailed(f"Source {segment.filename} is gone since it was indexed: reindex") from None
        if size != segment.source_size:
            raise RenderFailed(
                f"Source {segment.filename} changed since it was indexed ({segment.source_size} bytes, now {size}): "
                "reindex"
            )

    async def cut(self, plan: RenderPlan, segment: SegmentPlan, progress: ProgressCallback) -> CutSegment:
        await self._check_source(segment)
        folder = self.segments_dir(plan.assembly_id)
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        stem = folder / f"{segment.pos:03d}"
        what = f"clip {segment.pos} ({segment.filename})"
        fps = plan.output.fps
        done = [0.0] * len(segment.pieces)

        def piece_progress(n: int, seconds_of_piece: float):
            async def report(seconds: float) -> None:
                done[n] = min(seconds, seconds_of_piece)
                await progress(sum(done))

            return report

        videos = [stem.with_name(f"{stem.name}-{n}.mov") for n in range(len(segment.pieces))]
        audio = stem.with_suffix(".wav")
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._run(self.audio_command(segment, audio), what))
                for n, (piece, video) in enumerate(zip(segment.pieces, videos)):
                    seconds = piece.output_frames / float(fps)
                    command = self.piece_command(plan, segment, piece, video)
                    group.create_task(self._run(command, what, piece_progress(n, seconds), piece.output_frames))
        except* RenderFailed as failures:
            raise failures.exceptions[0] from None
        return CutSegment(
            pos=segment.pos, video_files=tuple(map(str, videos)), audio_file=str(audio), duration=segment.duration
        )

    # -- joining ---------------------------------------------------------------------------------------

    @staticmethod
    def concat_list(files: Sequence[str]) -> str:
        lines = []
        for name in files:
            quoted = str(Path(name).resolve()).replace("'", "'\\''")
            lines.append(f"file '{quoted}'")
        return "\n".join(lines) + "\n"

    def concat_command(self, video_list: Path, audio_list: Path, destination: Path) -> list[str]:
        return [
            *self._head(),
            "-f", "concat", "-safe", "0", "-i", file_url(video_list),
            "-f", "concat", "-safe", "0", "-i", file_url(audio_list),
            "-map", "0:v:0", "-map", "1:a:0",
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
        video_list, audio_list = work / "video.txt", work / "audio.txt"
        partial = work / "result.mp4"
        final = self.assembly_dir(plan.assembly_id) / "result.mp4"
        await asyncio.to_thread(
            video_list.write_text, self.concat_list([f for s in segments for f in s.video_files]), "utf-8"
        )
        await asyncio.to_thread(audio_list.write_text, self.concat_list([s.audio_file for s in segments]), "utf-8")
        await self._run(self.concat_command(video_list, audio_list, partial), "joining the clips", progress)
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
