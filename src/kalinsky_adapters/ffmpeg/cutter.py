"""SegmentCutter with ffmpeg: each clip's video pieces and sound, written to the assembly's work folder.

A clip's video is made of the pieces the plan gives: runs of coded frames are copied (starting exactly at a
keyframe, stopping after a packet count), the frames around them are decoded from their exact first frame and
encoded to the output's picture, set up like the copied frames (codec rules), so that the joined stream plays as
one. Each piece is a video-only `.mov`.

Each clip's audio becomes a 48 kHz stereo PCM `.wav`, padded or trimmed to the clip's exact video length and
faded at both ends (silence for a source without audio); all of them are then encoded once (AAC by default), so
no encoder priming piles up at the joins, while the video is still being cut. Previews read a source's preview
proxy instead of the source when it has one (see proxies.py).

With a segment cache, every file is asked of it by its recipe first and made only when it is not there.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from kalinsky_adapters import mp4
from kalinsky_adapters.ffmpeg.args import FfmpegCommands
from kalinsky_adapters.ffmpeg.codecs import NalRewrite
from kalinsky_adapters.ffmpeg.jobs import FfmpegJobs
from kalinsky_adapters.ffmpeg.scheduling import DEFAULT_PARALLEL, threads_for, video_priority
from kalinsky_adapters.mp4.hevc import CRA, SpliceAtStart, UnsupportedStream
from kalinsky_adapters.process import file_url
from kalinsky_adapters.render_files import RenderFolders
from kalinsky_adapters.segment_cache import SegmentCache, file_identity
from kalinsky_adapters.source_files import SourceFolder
from kalinsky_core.errors import RenderFailed
from kalinsky_core.model import FileIdentity
from kalinsky_core.plan import RenderPlan, SegmentPlan
from kalinsky_core.ports import AudioTrack, CutSegment, ProgressCallback

if TYPE_CHECKING:  # proxies read sources with ffprobe, whose codec rules live in this package
    from kalinsky_adapters.proxies import PreviewProxies


async def check_sources(sources: SourceFolder, plan: RenderPlan) -> dict[str, Path]:
    """Check that every source of the plan is still the file indexed (RenderFailed otherwise); their paths."""
    paths = {}
    for segment in plan.segments:
        if segment.filename not in paths:
            paths[segment.filename] = await sources.check_unchanged(
                segment.filename, segment.source_size, segment.source_identity
            )
    return paths


@attrs.define
class FfmpegCutter:
    sources: SourceFolder
    files: RenderFolders
    commands: FfmpegCommands
    jobs: FfmpegJobs
    parallel: int = DEFAULT_PARALLEL  # processes the jobs' slots allow: decides which pieces get threads
    proxies: PreviewProxies | None = None
    cache: SegmentCache | None = None

    @property
    def caching(self) -> bool:
        return self.cache is not None and self.cache.enabled

    async def _made(
        self, argv: list[str], reads: dict[str, str], destination: Path, make: Callable[[], Awaitable[None]]
    ) -> bool:
        """Call `make` (which runs the command `argv`, writing `destination`), unless the cache has its file:
        `reads` maps the names of the files the command reads to what identifies their content. Whether the file
        came from the cache."""
        if self.cache is None:
            await make()
            return False
        key = self.cache.recipe(argv, {**reads, file_url(destination): "OUT"})
        return await self.cache.produce(key, destination, make)

    async def cut(self, plan: RenderPlan, segment: SegmentPlan, progress: ProgressCallback) -> CutSegment:
        source = await self._check(segment)
        await self.files.prepare(plan.assembly_id)
        what = f"clip {segment.pos} ({segment.filename})"
        proxy = await self._proxy(plan, segment)
        reads = await asyncio.to_thread(_identities, source, segment.source_identity, proxy)
        fps = float(plan.output.fps)
        done = [0.0] * len(segment.pieces)

        def piece_progress(n: int, seconds_of_piece: float) -> ProgressCallback:
            async def report(seconds: float) -> None:
                done[n] = min(seconds, seconds_of_piece)
                await progress(sum(done))

            return report

        videos = [self.files.piece(plan.assembly_id, segment.pos, n) for n in range(len(segment.pieces))]
        made: list[asyncio.Task[bool]] = []
        try:
            async with asyncio.TaskGroup() as group:
                for n, (piece, video) in enumerate(zip(segment.pieces, videos)):
                    threads = threads_for(piece, plan, self.parallel)
                    command = self.commands.piece_command(plan, segment, piece, source, video, threads, proxy)
                    report = piece_progress(n, piece.output_frames / fps)
                    job = functools.partial(
                        self.jobs.run, command, what, report, piece.output_frames, video_priority(piece)
                    )
                    renumber = None if piece.copy else self.commands.renumbering(plan, segment)
                    if renumber is not None:
                        job = functools.partial(_rewritten, job, video, renumber, what)
                    elif piece.copy and segment.coding is not None and segment.coding.codec == "hevc":
                        job = functools.partial(_spliced, job, video, what)
                    made.append(group.create_task(self._made(command, reads, video, job)))
        except* RenderFailed as failures:
            raise failures.exceptions[0] from None
        await self._check(segment)  # what ffmpeg read was the file indexed, not one put in its place meanwhile
        cached = sum(task.result() for task in made) if self.caching else None
        return CutSegment(
            pos=segment.pos, video_files=tuple(map(str, videos)), duration=segment.duration, pieces_cached=cached
        )

    async def _check(self, segment: SegmentPlan) -> Path:
        return await self.sources.check_unchanged(segment.filename, segment.source_size, segment.source_identity)

    async def _proxy(self, plan: RenderPlan, segment: SegmentPlan) -> Path | None:
        """The preview proxy a preview's segment is read from, if its source has one ready."""
        if not plan.preview or self.proxies is None:
            return None
        return await asyncio.to_thread(self.proxies.ready, segment.filename)

    async def cut_audio(self, plan: RenderPlan) -> AudioTrack:
        """Each clip's sound as exact-length PCM, then all of it encoded once. These jobs go first: they are short,
        and the encode (one core) then runs beside the video work instead of after it."""
        paths = await check_sources(self.sources, plan)
        await self.files.prepare(plan.assembly_id)
        clips = [self.files.clip_sound(plan.assembly_id, segment.pos) for segment in plan.segments]
        made: dict[int, asyncio.Task[bool]] = {}
        try:
            async with asyncio.TaskGroup() as group:
                for segment, clip in zip(plan.segments, clips):
                    source = paths[segment.filename]
                    command = self.commands.audio_command(segment, source, clip)
                    job = functools.partial(self.jobs.run, command, f"clip {segment.pos} ({segment.filename})")
                    reads = await asyncio.to_thread(_identities, source, segment.source_identity, None)
                    made[segment.pos] = group.create_task(self._made(command, reads, clip, job))
        except* RenderFailed as failures:
            raise failures.exceptions[0] from None
        await check_sources(self.sources, plan)
        audio_list, track = self.files.audio_list(plan.assembly_id), self.files.audio_track(plan.assembly_id)
        await asyncio.to_thread(audio_list.write_text, self.commands.concat_list(clips), "utf-8")
        command = self.commands.audio_encode_command(audio_list, track)
        job = functools.partial(self.jobs.run, command, "encoding the audio")
        if self.cache is None:
            await job()
        else:
            listed = [self.cache.key_of(clip) or file_identity(clip) for clip in clips]
            await self._made(command, {file_url(audio_list): "list:" + ",".join(listed)}, track, job)
        cached = frozenset(pos for pos, task in made.items() if task.result()) if self.caching else None
        return AudioTrack(path=str(track), duration=plan.duration, sounds_cached=cached)


async def _rewritten(make: Callable[[], Awaitable[None]], video: Path, rewrite: NalRewrite, what: str) -> None:
    """Make the piece `video`, then pass its NAL units through `rewrite` (written aside, then renamed): encoded
    frames get their own parameter-set ids, copied ones start as spliced streams do."""
    await make()
    aside = video.with_name(f".rewritten-{video.name}")
    try:
        await asyncio.to_thread(mp4.rewrite_nal_units, video, aside, rewrite)
        await asyncio.to_thread(os.replace, aside, video)
    except (UnsupportedStream, mp4.Mp4Error) as error:
        raise RenderFailed(f"{what}: its frames cannot be joined to the others: {error}") from None
    finally:
        aside.unlink(missing_ok=True)


async def _spliced(make: Callable[[], Awaitable[None]], video: Path, what: str) -> None:
    """Make the copied HEVC piece `video`; if it starts at a CRA picture, make that a BLA one (see SpliceAtStart)."""
    await make()
    try:
        starts_at_cra = await asyncio.to_thread(_starts_at_cra, video)
    except mp4.Mp4Error as error:
        raise RenderFailed(f"{what}: its copied frames cannot be read: {error}") from None
    if starts_at_cra:
        await _rewritten(_nothing, video, SpliceAtStart(), what)


def _starts_at_cra(video: Path) -> bool:
    track = mp4.open_video(video)
    first = next(track.samples(), None)
    if first is None or track.record is None:
        return False
    return any(mp4.nal_type("hevc", unit) == CRA for unit in mp4.split_units(first.data, track.record.length_size))


async def _nothing() -> None:
    return None


def _identities(source: Path, indexed: FileIdentity | None, proxy: Path | None) -> dict[str, str]:
    """What identifies the content of the files a piece may read, by the names ffmpeg is given: a source by its
    fingerprint as indexed (checked to hold before the cut), a proxy by its stat."""
    fingerprint = file_identity(source) if indexed is None else f"{source.name}:{attrs.astuple(indexed)}"
    reads = {file_url(source): "source:" + fingerprint}
    if proxy is not None:
        reads[file_url(proxy)] = "proxy:" + file_identity(proxy)
    return reads
