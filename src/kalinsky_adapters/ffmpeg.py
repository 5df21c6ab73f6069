"""SegmentCutter and Concatenator with ffmpeg.

A clip's video is made of the pieces the plan gives: runs of coded frames are copied (starting exactly at a
keyframe, stopping after a packet count), the frames around them are decoded from their exact first frame and
encoded to the output's picture with libx264 set up like the copied frames (profile, level, B-frame delay,
time scale), so that the joined stream plays as one. Each piece is a video-only `.mov`.

Each clip's audio becomes a 48 kHz stereo PCM `.wav`, padded or trimmed to the clip's exact video length and
faded at both ends (silence for a source without audio); all of them are then encoded once (AAC by default), so
no encoder priming piles up at the joins, while the video is still being cut. The join copies both.

At most `parallel` ffmpeg processes run at once (across renders): the audio first, then the video pieces,
longest first. Previews read a source's preview proxy instead of the source when it has one (see proxies.py).
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
from kalinsky_adapters.proxies import PreviewProxies
from kalinsky_adapters.slots import PrioritySlots
from kalinsky_core.errors import RenderFailed
from kalinsky_core.plan import Piece, RenderPlan, SegmentPlan
from kalinsky_core.ports import AudioTrack, CutSegment, ProgressCallback, RenderedOutput

AUDIO_RATE = 48000
#: ffmpeg processes at once: one per core (small pieces of a render run single-threaded), at least two.
DEFAULT_PARALLEL = max(2, os.cpu_count() or 1)
#: A codec whitelist that allows no decoder: files opened with it are not decoded while being probed.
_NO_DECODER = "none"


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
    0: {"bframes": "0"},
    1: {"bframes": "2", "b-pyramid": "none"},
    2: {"bframes": "3", "b-pyramid": "normal"},
}
#: libx264 signals the lowest profile its tools need: these make the profile the copied frames have.
_X264_PROFILE_TOOLS = {"high": {"8x8dct": "1"}, "main": {"cabac": "1"}}


def _work(of: RenderPlan | Piece) -> float:
    """Roughly how much a piece (or a whole render's video) costs, in frames: copying is nearly free."""
    if isinstance(of, RenderPlan):
        return sum(_work(piece) for segment in of.segments for piece in segment.pieces)
    return of.frames * 0.05 if of.copy else of.frames + of.output_frames


#: Slot priorities: the audio and the final join go first (others wait for them), then video pieces, longest
#: first, so that no long piece is left running alone at the end.
_URGENT = (0,)


def _video_priority(piece: Piece) -> tuple[float, ...]:
    return (1, -_work(piece))


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
    # Clips that cannot be copied are encoded whole, at high quality. The frames next to copied ones (less than a
    # GOP at each end of a clip) are encoded as fast as libx264 goes, spending bits instead of time: at this CRF
    # they stay within ~48 dB PSNR of the source's pictures, where a difference does not show.
    clean: EncoderSettings = EncoderSettings(preset="superfast", crf=17)
    clean_joins: EncoderSettings = EncoderSettings(preset="ultrafast", crf=18)
    preview: EncoderSettings = EncoderSettings(preset="ultrafast", crf=26)
    font: str | None = None  # found on first preview render when not given
    parallel: int = DEFAULT_PARALLEL  # ffmpeg processes at once, across renders
    slots: PrioritySlots = attrs.field(
        default=attrs.Factory(lambda self: PrioritySlots(self.parallel), takes_self=True)
    )
    proxies: PreviewProxies | None = None

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

    def _encoder_settings(self, plan: RenderPlan, segment: SegmentPlan) -> EncoderSettings:
        if plan.preview:
            return self.preview
        return self.clean_joins if segment.video == "smart" else self.clean

    def _encoder_args(self, plan: RenderPlan, segment: SegmentPlan) -> list[str]:
        settings = self._encoder_settings(plan, segment)
        args = ["-c:v", "libx264", "-preset", settings.preset, "-crf", str(settings.crf), "-pix_fmt", "yuv420p"]
        params: dict[str, str] = {}
        coding = plan.output.coding
        if coding is not None:  # encode like the frames that get copied next to these
            profile = _X264_PROFILES.get(coding.profile, "high")
            args += ["-profile:v", profile]
            if coding.level > 0:
                args += ["-level:v", f"{coding.level / 10:g}"]
            params |= _X264_PROFILE_TOOLS.get(profile, {}) | _X264_REORDER[coding.reorder_depth]
        if params:
            args += ["-x264-params", ":".join(f"{key}={value}" for key, value in params.items())]
        return args + ["-video_track_timescale", str(timescale(plan))]

    def piece_command(
        self,
        plan: RenderPlan,
        segment: SegmentPlan,
        piece: Piece,
        destination: Path,
        threads: int = 0,
        proxy: Path | None = None,
    ) -> list[str]:
        """The ffmpeg command that writes `piece`, from the source or (previews) from its `proxy`; `threads` 0
        lets ffmpeg choose how many threads to use."""
        if piece.copy:
            return [*self._head(), "-ss", _us(piece.seek), "-i", self._source(segment), "-map", "0:v:0",
                    "-c:v", "copy", "-frames:v", str(piece.frames), "-an",
                    "-video_track_timescale", str(timescale(plan)), "-f", "mov", file_url(destination)]
        read = piece.source_seconds + 1.0  # a little past the last frame: -frames:v makes the end exact
        # A preview from the source itself decodes without the deblocking filter: markedly faster, hardly shows.
        fast_decode = ["-skip_loop_filter", "all"] if plan.preview and proxy is None else []
        threading = ["-threads", str(threads)] if threads else []
        filter_threads = ["-filter_threads", str(threads)] if threads else []
        source = self._source(segment) if proxy is None else file_url(proxy)
        return [*self._head(), *filter_threads, *fast_decode, *threading, "-ss", _us(piece.seek), "-t", _us(read),
                "-i", source, "-map", "0:v:0", "-vf", self._video_filter(plan, segment),
                "-frames:v", str(piece.output_frames), *self._encoder_args(plan, segment), *threading,
                "-an", "-f", "mov", file_url(destination)]

    def _readable(self, stderr: str) -> str:
        """ffmpeg's complaint, with file names relative to the folders users know (and without the notes that
        unprobed concat pieces leave)."""
        lines = stderr.splitlines()
        kept = [line for line in lines if f"not on whitelist '{_NO_DECODER}'" not in line]
        if len(kept) < len(lines):
            kept = [line for line in kept if not line.strip().startswith("Last message repeated")]
        stderr = "\n".join(kept)
        for folder, shown in ((self.sources_dir, ""), (self.output_dir, "output/")):
            stderr = stderr.replace(f"file:{Path(folder).resolve()}/", shown)
        return stderr

    async def _run(
        self,
        argv: list[str],
        what: str,
        progress: ProgressCallback | None = None,
        frames: int | None = None,
        priority: tuple[float, ...] = _URGENT,
    ) -> None:
        """Run ffmpeg when a slot is free; with `frames`, the video it writes must have exactly that many frames."""
        async with self.slots.hold(priority):
            done = await process.run(argv, progress or _ignore_progress)
        if done.returncode != 0:
            reason = self._readable(done.stderr_tail) or _signal_reason(done.returncode)
            raise RenderFailed(f"ffmpeg failed on {what}, exit {done.returncode}: {reason}")
        made = done.progress.get("frame", "")
        if frames is not None and made != str(frames):
            reason = self._readable(done.stderr_tail) or "the source ends early or is damaged"
            raise RenderFailed(f"ffmpeg made {made or 'no'} of {frames} frames for {what}: {reason}")

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

    async def _work_folder(self, plan: RenderPlan) -> Path:
        folder = self.segments_dir(plan.assembly_id)
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        return folder

    async def cut(self, plan: RenderPlan, segment: SegmentPlan, progress: ProgressCallback) -> CutSegment:
        await self._check_source(segment)
        folder = await self._work_folder(plan)
        what = f"clip {segment.pos} ({segment.filename})"
        fps = plan.output.fps
        work = _work(plan)
        done = [0.0] * len(segment.pieces)

        def piece_progress(n: int, seconds_of_piece: float):
            async def report(seconds: float) -> None:
                done[n] = min(seconds, seconds_of_piece)
                await progress(sum(done))

            return report

        videos = [folder / f"{segment.pos:03d}-{n}.mov" for n in range(len(segment.pieces))]
        proxy = await self._proxy(plan, segment)
        try:
            async with asyncio.TaskGroup() as group:
                for n, (piece, video) in enumerate(zip(segment.pieces, videos)):
                    seconds = piece.output_frames / float(fps)
                    # A piece that is a small share of the render runs single-threaded beside others, which wastes
                    # less than threads do; a large one may run alone at the end, and gets all cores.
                    threads = 1 if _work(piece) * 2 * self.parallel <= work else 0
                    command = self.piece_command(plan, segment, piece, video, threads, proxy)
                    report = piece_progress(n, seconds)
                    group.create_task(self._run(command, what, report, piece.output_frames, _video_priority(piece)))
        except* RenderFailed as failures:
            raise failures.exceptions[0] from None
        return CutSegment(pos=segment.pos, video_files=tuple(map(str, videos)), duration=segment.duration)

    async def _proxy(self, plan: RenderPlan, segment: SegmentPlan) -> Path | None:
        """The preview proxy a preview's segment is read from, if its source has one ready."""
        if not plan.preview or self.proxies is None:
            return None
        return await asyncio.to_thread(self.proxies.ready, segment.filename)

    async def cut_audio(self, plan: RenderPlan) -> AudioTrack:
        """Each clip's sound as exact-length PCM, then all of it encoded once. These jobs go first: they are short,
        and the encode (one core) then runs beside the video work instead of after it."""
        for segment in plan.segments:
            await self._check_source(segment)
        folder = await self._work_folder(plan)
        clips = [folder / f"{segment.pos:03d}.wav" for segment in plan.segments]
        try:
            async with asyncio.TaskGroup() as group:
                for segment, clip in zip(plan.segments, clips):
                    group.create_task(
                        self._run(self.audio_command(segment, clip), f"clip {segment.pos} ({segment.filename})")
                    )
        except* RenderFailed as failures:
            raise failures.exceptions[0] from None
        audio_list, track = folder / "audio.txt", folder / "audio.m4a"
        await asyncio.to_thread(audio_list.write_text, self.concat_list(list(map(str, clips))), "utf-8")
        await self._run(self.audio_encode_command(audio_list, track), "encoding the audio")
        return AudioTrack(path=str(track), duration=plan.duration)

    # -- joining ---------------------------------------------------------------------------------------

    @staticmethod
    def concat_list(files: Sequence[str], probe: bool = True) -> str:
        """A concat demuxer script. With `probe` False, the files are not decoded to learn their format: the
        demuxer otherwise decodes a frame of every file (a few tens of ms each, one after another), only to find
        a pixel format the pieces are known to share. No decoder being allowed on a file skips that."""
        lines = []
        for name in files:
            quoted = str(Path(name).resolve()).replace("'", "'\\''")
            lines.append(f"file '{quoted}'")
            if not probe:
                lines.append(f"option codec_whitelist {_NO_DECODER}")
        return "\n".join(lines) + "\n"

    def audio_encode_command(self, audio_list: Path, destination: Path) -> list[str]:
        return [
            *self._head(),
            "-f", "concat", "-safe", "0", "-i", file_url(audio_list),
            "-map", "0:a:0",
            "-af", "aresample=async=1:min_hard_comp=0.01:first_pts=0",
            "-c:a", self.audio_codec, "-b:a", self.audio_bitrate,
            "-f", "mp4", file_url(destination),
        ]

    def concat_command(self, video_list: Path, audio: Path, destination: Path) -> list[str]:
        return [
            *self._head(),
            "-f", "concat", "-safe", "0", "-i", file_url(video_list),
            "-i", file_url(audio),
            "-map", "0:v:0", "-map", "1:a:0",
            "-c", "copy",
            "-movflags", "+faststart",
            "-f", "mp4", file_url(destination),
        ]

    async def concat(
        self, plan: RenderPlan, segments: Sequence[CutSegment], audio: AudioTrack, progress: ProgressCallback
    ) -> RenderedOutput:
        work = self.segments_dir(plan.assembly_id)
        video_list = work / "video.txt"
        partial = work / "result.mp4"
        final = self.assembly_dir(plan.assembly_id) / "result.mp4"
        await asyncio.to_thread(
            video_list.write_text, self.concat_list([f for s in segments for f in s.video_files], probe=False), "utf-8"
        )
        command = self.concat_command(video_list, Path(audio.path), partial)
        await self._run(command, "joining the clips", progress, frames=plan.total_frames)
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
