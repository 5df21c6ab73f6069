"""Concatenator with ffmpeg: the cut pieces and the audio track joined, copied, into the assembly's result.

The join must hold exactly the planned frames; the result is written in the work folder and moved into place only
once complete, and once every source it was read from is checked to be still the file indexed (a file replaced
while it was read fails the render instead), and its duration is measured in the file. With a segment cache, a
join of pieces that all came from it (or were put in it) is itself cached: the same assembly rendered again is not
joined again. The join and the measuring are timed (wall clock) for the render's report.

The output's sample entry holds every piece's parameter sets (read from each piece's own sample entry: the
pieces of a clean render use ids of their own, see codecs.py), and none are left in-band, as decoders that read
them only from the sample entry (Apple's, some hardware) need; the movie box is then moved before the media data.
In-band parameter sets of copied source frames are dropped too when the sample entry can hold them; one that
redefines an id with other content is left in-band (no sample entry can hold both). Two pieces that define one id
differently fail the render. This is part of the join, so a join taken from the cache is complete too.

Around every join the output's frames (video and audio) are decoded once more, a short window from the keyframe
before it, the joins shared among two ffprobes: what the decoders say there goes into the render's report. What
was measured in a result is cached beside it: a result taken from the cache is not decoded again.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from kalinsky_adapters import mp4, process
from kalinsky_adapters.ffmpeg.args import FfmpegCommands
from kalinsky_adapters.ffmpeg.cutter import check_sources
from kalinsky_adapters.ffmpeg.jobs import FfmpegJobs
from kalinsky_adapters.process import file_url
from kalinsky_adapters.render_files import RenderFolders
from kalinsky_adapters.segment_cache import SegmentCache
from kalinsky_adapters.source_files import SourceFolder
from kalinsky_core.errors import RenderFailed
from kalinsky_core.plan import RenderPlan
from kalinsky_core.ports import AudioTrack, CutSegment, ProgressCallback, RenderedOutput
from kalinsky_core.report import OutputMeasurements

#: Names what the join makes beyond ffmpeg's output (the sample entry completed), in the join's cache recipe.
SAMPLE_ENTRY_STEP = "+sample-entry:parameter-sets/1"
#: Names the measurements of a result in the cache (change it when OutputMeasurements changes).
MEASUREMENTS = "output-measurements/1"
#: Seconds decoded on each side of a join when it is checked (from the keyframe before the window).
JOIN_DECODE_WINDOW = 0.25
#: ffprobes checking the joins at once (the end of a render has the machine's cores to itself, or nearly).
DECODE_PROCESSES = 2
#: At most this many messages are kept per join; the last one counts those left out.
MAX_DECODE_ERRORS = 5
#: Characters kept of one message.
DECODE_ERROR_LENGTH = 160
#: Bytes of ffprobe's log read for the check (a few lines per join; a badly damaged file says much more).
DECODE_LOG_KEPT = 8 << 20


@attrs.define
class FfmpegConcatenator:
    files: RenderFolders
    commands: FfmpegCommands
    jobs: FfmpegJobs
    ffprobe: str
    sources: SourceFolder | None = None  # checked once more before the result is moved into place
    cache: SegmentCache | None = None

    async def concat(
        self, plan: RenderPlan, segments: Sequence[CutSegment], audio: AudioTrack, progress: ProgressCallback
    ) -> RenderedOutput:
        assembly_id = plan.assembly_id
        video_list, partial = self.files.video_list(assembly_id), self.files.partial_result(assembly_id)
        final = self.files.result(assembly_id)
        pieces = [f for s in segments for f in s.video_files]
        await asyncio.to_thread(video_list.write_text, self.commands.concat_list(pieces, probe=False), "utf-8")
        command = self.commands.concat_command(plan, video_list, Path(audio.path), partial)
        run = functools.partial(self.jobs.run, command, "joining the clips", progress, frames=plan.total_frames)

        async def join() -> None:
            await run()
            await asyncio.to_thread(complete_sample_entry, pieces, partial)

        keys = [self.cache.key_of(name) for name in [*pieces, audio.path]] if self.cache is not None else [None]
        started = time.monotonic()
        cached: bool | None = None if self.cache is None or not self.cache.enabled else False
        if self.cache is None or None in keys:
            await join()
        else:
            *piece_keys, audio_key = keys
            reads = {
                file_url(video_list): "list:" + ",".join(map(str, piece_keys)),
                file_url(audio.path): str(audio_key),
                file_url(partial): "OUT",
            }
            recipe = self.cache.recipe([*command, SAMPLE_ENTRY_STEP], reads)
            cached = await self.cache.produce(recipe, partial, join)
        joined = time.monotonic()
        duration = await self.measure_duration(partial)
        measured = await self._measured(plan, partial)
        measure_s = time.monotonic() - joined
        if self.sources is not None:
            await check_sources(self.sources, plan)
        await asyncio.to_thread(os.replace, partial, final)
        await self.files.remove_work(assembly_id)
        if self.cache is not None:
            await self.cache.evict()
        return RenderedOutput(
            path=str(final), duration=duration, measured=measured, cached=cached, join_s=joined - started,
            measure_s=measure_s,
        )

    async def _measured(self, plan: RenderPlan, output: Path) -> OutputMeasurements:
        """`measure`, or what it found in the same output before: a result taken from the cache is the file that
        was measured then, byte for byte, cut into the same clips (the measurements are cached beside it)."""
        result_key = self.cache.key_of(output) if self.cache is not None and self.cache.enabled else None
        if self.cache is None or result_key is None:
            return await self.measure(plan, output)
        cache = self.cache
        clips = [(segment.output_offset, segment.duration) for segment in plan.segments]
        found = self.files.measurements(plan.assembly_id)

        async def measure() -> None:
            measured = await self.measure(plan, output)
            await asyncio.to_thread(found.write_text, json.dumps(attrs.asdict(measured)), "utf-8")

        await cache.produce(cache.recipe(["measure", MEASUREMENTS, result_key, json.dumps(clips)], {}), found, measure)
        try:
            return _measurements(json.loads(await asyncio.to_thread(found.read_text, "utf-8")))
        except (ValueError, TypeError, KeyError):  # not what this version writes: measured again
            return await self.measure(plan, output)

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
        join_times = []
        for n, segment in enumerate(plan.segments):
            begin, end = segment.output_offset - half_frame, segment.output_offset + segment.duration - half_frame
            clip_frames.append(sum(1 for t in times if begin <= t - origin < end))
            if n:
                first = sum(clip_frames[:n])
                video_starts.append(times[first] - origin if first < len(times) else math.nan)
                audio_starts.append(sound_end)
                join_times.append(origin + (video_starts[-1] if first < len(times) else segment.output_offset))
            sound_end += float(lengths[n].get("format", {}).get("duration", "nan"))
        return OutputMeasurements(
            clip_frames=tuple(clip_frames), video_starts=tuple(video_starts), audio_starts=tuple(audio_starts),
            decode_errors=await decode_errors_around(self.ffprobe, output, join_times),
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
            raise RenderFailed(f"the joined output is unreadable: {self.jobs.readable(done.stderr_tail)}") from error
        if not math.isfinite(duration):
            raise RenderFailed("the joined output has no duration")
        return duration


def complete_sample_entry(pieces: Sequence[str | Path], output: Path) -> None:
    """`output`'s video sample entry made to hold every parameter set of `pieces`' sample entries, and of its own
    in-band ones, and its movie box moved before its media data (see the module)."""
    try:
        track = mp4.open_video(output)
        codec = track.codec
        if codec is None or track.record is None:
            mp4.put_parameter_sets(output, None, faststart=True)
            return
        types = mp4.PARAMETER_SET_TYPES[codec]
        records = [mp4.open_video(piece).record for piece in dict.fromkeys(map(str, pieces))]
        own = [unit for unit in track.record.units if mp4.nal_type(codec, unit) not in types]  # e.g. SEI
        groups = [own, *([u for u in record.units if mp4.nal_type(codec, u) in types] for record in records if record)]
        try:
            units = mp4.merge_parameter_sets(codec, groups)
        except mp4.ParameterSetConflict as error:  # pieces never share an id with other content (see codecs.py)
            raise RenderFailed(f"the clips' pieces cannot be joined: {error}") from error
        in_band = track.find_units(types)
        if not in_band:
            mp4.put_parameter_sets(output, units, faststart=True)
            return
        try:
            units = mp4.merge_parameter_sets(codec, [units, in_band])
        except mp4.ParameterSetConflict:
            mp4.put_parameter_sets(output, units, faststart=True)  # a redefinition mid-stream stays in-band
            return

        def drop_parameter_sets(unit: bytes) -> bytes | None:
            return None if mp4.nal_type(codec, unit) in types else unit

        mp4.rewrite_nal_units(output, output, drop_parameter_sets, parameter_sets=units, faststart=True)
    except mp4.Mp4Error as error:
        raise RenderFailed(f"the joined output cannot be completed: {error}") from error


_INTERVAL = re.compile(r"Processing read interval id:(\d+)")
_LEVEL = re.compile(r"\[(?:quiet|panic|fatal|error|warning|info|verbose|debug|trace)\] ")
_ERROR = re.compile(r"^(?:\[([^\]@]+?) @ 0x[0-9a-fA-F]+\] )?\[(?:error|fatal|panic)\] ?(.*)$")


async def decode_errors_around(
    ffprobe: str, path: Path, times: Sequence[float], window: float = JOIN_DECODE_WINDOW,
    processes: int = DECODE_PROCESSES,
) -> tuple[tuple[str, ...], ...]:
    """Per time (seconds, in the file's own timestamps), the errors met decoding the file's streams from `window`
    before it to `window` after it; decoding starts at the keyframe before, as any player seeking there would.
    Each ffprobe reads its share of the windows in turn (its read intervals), and tells in its log where each
    begins, so each message goes to its own time; `processes` of them decode at once (each decodes on one core).
    At most MAX_DECODE_ERRORS short messages per time, repeats left out."""
    shares = [list(range(first, len(times), processes)) for first in range(min(processes, len(times)))]
    found = await asyncio.gather(*(_decode_errors(ffprobe, path, [times[n] for n in share], window)
                                   for share in shares))
    errors: list[tuple[str, ...]] = [()] * len(times)
    for share, messages in zip(shares, found):
        for n, kept in zip(share, messages):
            errors[n] = kept
    return tuple(errors)


async def _decode_errors(
    ffprobe: str, path: Path, times: Sequence[float], window: float
) -> tuple[tuple[str, ...], ...]:
    if not times:
        return ()
    intervals = ",".join(f"{max(t - window, 0.0):.6f}%{t + window:.6f}" for t in times)
    done = await process.run(
        [ffprobe, "-hide_banner", "-loglevel", "repeat+level+verbose", "-count_frames",
         "-show_entries", "stream=nb_read_frames", "-read_intervals", intervals, "-of", "json", file_url(path)],
        stderr_kept=DECODE_LOG_KEPT,
    )
    found: list[list[str]] = [[] for _ in times]
    reached: set[int] = set()
    current: int | None = None
    for line in done.stderr_tail.splitlines():
        if interval := _INTERVAL.search(line):
            current = int(interval.group(1))
            reached.add(current)
        elif (error := _ERROR.match(line.strip())) and current is not None and current < len(found):
            context, text = error.group(1), error.group(2).strip()
            message = text if context in (None, "NULL") else f"{context}: {text}"
            found[current].append(process.without_path(message, path)[:DECODE_ERROR_LENGTH])
    if done.returncode != 0:
        last = [_LEVEL.sub("", line) for line in done.stderr_tail.splitlines()[-1:]] or ["ffprobe failed"]
        for n in set(range(len(times))) - reached:
            found[n].append(process.without_path(f"not decoded: {last[0]}", path)[:DECODE_ERROR_LENGTH])
    return tuple(_few(messages) for messages in found)


def _measurements(found: dict[str, Any]) -> OutputMeasurements:
    return OutputMeasurements(
        clip_frames=tuple(int(n) for n in found["clip_frames"]),
        video_starts=tuple(float(t) for t in found["video_starts"]),
        audio_starts=tuple(float(t) for t in found["audio_starts"]),
        decode_errors=tuple(tuple(str(m) for m in messages) for messages in found["decode_errors"]),
    )


def _few(messages: list[str]) -> tuple[str, ...]:
    distinct = list(dict.fromkeys(messages))
    if len(distinct) <= MAX_DECODE_ERRORS:
        return tuple(distinct)
    kept = distinct[:MAX_DECODE_ERRORS - 1]
    return (*kept, f"and {len(distinct) - len(kept)} other errors")


def _start_time(probed: dict[str, Any], default: float) -> float:
    streams = probed.get("streams") or [{}]
    try:
        return float(streams[0].get("start_time", default))
    except (TypeError, ValueError):
        return default
