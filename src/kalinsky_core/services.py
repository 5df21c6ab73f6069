"""Use cases. Each takes the ports it needs as arguments, so any adapters (or fakes) can drive it.

`SourceLibrary` and `AssemblyDesk` hold the ports of a running application (the composition root builds them) and
offer the same use cases to every entrypoint: the web app, the command line, a render worker.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import posixpath
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

import attrs

from kalinsky_core.errors import (
    AssemblyFinished,
    AssemblyNotFound,
    AssemblyProcessing,
    InvalidCallback,
    KalinskyError,
    NotIndexed,
    ProbeFailed,
    ReportMissing,
    StorageUnavailable,
)
from kalinsky_core.jobs import Renderer
from kalinsky_core.model import (
    SOURCE_EXTENSIONS,
    Assembly,
    AssemblyStatus,
    Callback,
    ClipInput,
    Phase,
    SkippedFile,
    Source,
    SourceIndex,
    assembly_id,
    callback_url_problem,
)
from kalinsky_core.plan import (
    RenderPlan,
    SegmentPlan,
    find_source,
    plan_render,
    resolve_clips,
    sources_by_filename,
)
from kalinsky_core.ports import (
    AssemblyRepo,
    AudioTrack,
    CodingRules,
    Concatenator,
    CutSegment,
    DerivedMedia,
    IndexLock,
    MediaProber,
    ProgressCallback,
    RenderedOutput,
    RenderFiles,
    RenderQueue,
    SegmentCutter,
)
from kalinsky_core.report import ClipCache, RenderReport, RenderTimings, render_report

log = logging.getLogger(__name__)

#: Share of a render's progress given to cutting; the rest is the final join.
CUT_SHARE = 0.9
#: Progress is stored only when it moved by at least this much (or the step ended).
PROGRESS_STEP = 0.01
#: How long no progress is stored after storing it failed.
PROGRESS_PAUSE_S = 5.0


def is_source_file(filename: str) -> bool:
    return posixpath.splitext(filename)[1].lower() in SOURCE_EXTENSIONS


async def reindex(prober: MediaProber, repo: AssemblyRepo) -> SourceIndex:
    """Probe every video file of the sources folder and replace the index: sorted by filename, 1-based.

    Files the prober cannot read are skipped and reported, never fatal; other extensions are ignored. A file
    indexed before whose size, modification time and inode are unchanged keeps what was learnt of it (it is
    neither probed nor hashed again), unless it was indexed before some of what is now learnt was recorded.
    """
    previous = sources_by_filename(await repo.list_sources() or ())
    sources: list[Source] = []
    skipped: list[SkippedFile] = []
    for filename in sorted(name for name in await prober.list_files() if is_source_file(name)):
        try:
            known = previous.get(filename)
            identity = await prober.identify(filename)
            if known is not None and known.identity is not None and identity is not None and (
                known.identity.same_stat(identity)
            ) and (known.audio_codec or not known.has_audio) and (  # indexed before audio codecs were recorded
                known.coding is not None  # indexed before the coding of files other than MP4/MOV was recorded
                and known.coding.sample_aspect != ""  # indexed before pixel aspects and field orders were recorded
            ):
                sources.append(attrs.evolve(known, index=len(sources) + 1))
                continue
            info = await prober.probe(filename)
        except ProbeFailed as error:
            skipped.append(SkippedFile(filename=filename, reason=error.message))
            continue
        sources.append(Source.from_media(len(sources) + 1, filename, info))
    await repo.replace_sources(sources)
    return SourceIndex(sources=tuple(sources), skipped=tuple(skipped))


async def list_sources(repo: AssemblyRepo) -> tuple[Source, ...]:
    sources = await repo.list_sources()
    if sources is None:
        raise NotIndexed()
    return sources


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def create_assembly(
    repo: AssemblyRepo,
    rules: CodingRules,
    clips: Sequence[ClipInput],
    *,
    name: str | None = None,
    preview: bool = True,
    created: str | None = None,
    callback_url: str | None = None,
    private_callbacks: bool = False,
) -> Assembly:
    """Validate the clips against the index and store a new, immutable assembly in `processing`.

    Each clip records how its video will be made (copied, smart-cut or re-encoded), as planned from the index.
    With `callback_url`, that URL is to be told when the assembly finishes (InvalidCallback unless http(s), or
    when it names a non-global IP address and `private_callbacks` are not allowed).
    """
    problem = None if callback_url is None else callback_url_problem(callback_url, allow_private=private_callbacks)
    if problem is not None:
        raise InvalidCallback(problem)
    sources = await repo.list_sources()
    resolved = resolve_clips(clips, sources)
    assembly = Assembly(
        id=assembly_id(await repo.next_sequence()),
        name=name,
        preview=preview,
        clips=resolved,
        created=created or utc_now(),
        callback=None if callback_url is None else Callback(url=callback_url),
    )
    plan = plan_render(assembly, sources_by_filename(sources or ()), rules, fade_ms=0)
    assembly = attrs.evolve(
        assembly, clips=[attrs.evolve(clip, video=segment.video) for clip, segment in zip(resolved, plan.segments)]
    )
    await repo.add(assembly)
    return assembly


async def get_assembly(repo: AssemblyRepo, assembly_id: str) -> Assembly:
    assembly = await repo.get(assembly_id)
    if assembly is None:
        raise AssemblyNotFound()
    return assembly


class _ProgressRecorder:
    """Adds up the seconds of output each step has made into the assembly's progress and ETA, stored in
    coarse steps. Cutting (all clips, possibly at once) is `CUT_SHARE` of the work, joining the rest."""

    def __init__(self, repo: AssemblyRepo, assembly: Assembly, plan: RenderPlan, worker: str | None) -> None:
        self.repo = repo
        self.worker = worker
        self.assembly = assembly.with_progress(0.0).in_phase(Phase.RENDERING)
        self.stored = 0.0
        self.started = time.monotonic()
        self.total = max(plan.duration, 1e-9)
        self.cut: dict[int, float] = {}  # seconds made, by clip position
        self.paused_until = 0.0  # monotonic time before which no progress is stored (it failed)

    def eta(self, fraction: float) -> float | None:
        """Seconds left, assuming the rest goes at the average speed so far."""
        if fraction < PROGRESS_STEP:
            return None
        return round((time.monotonic() - self.started) * (1 - fraction) / fraction, 1)

    async def record(self, fraction: float) -> None:
        self.assembly = self.assembly.with_progress(fraction, self.eta(fraction))
        if self.assembly.progress - self.stored >= PROGRESS_STEP:
            self.stored = self.assembly.progress
            await self.save()

    async def save(self) -> None:
        """Store the progress made so far. Progress is only shown, so a record that cannot be written now (a full
        disk) does not stop the render: its end is what must be stored (see `record_end`). After a failure, no
        progress is stored for PROGRESS_PAUSE_S: each attempt may wait for a lock, and the cuts wait for this."""
        if time.monotonic() < self.paused_until:
            return
        try:
            await self.repo.save_state(self.assembly, worker=self.worker)
        except Exception as error:
            self.paused_until = time.monotonic() + PROGRESS_PAUSE_S
            log.warning("progress of %s not recorded: %s", self.assembly.id, error)

    def cutting(self, segment: SegmentPlan) -> ProgressCallback:
        async def callback(seconds: float) -> None:
            self.cut[segment.pos] = min(max(seconds, 0.0), segment.duration)
            await self.record(CUT_SHARE * sum(self.cut.values()) / self.total)

        return callback

    async def joining(self, seconds: float) -> None:
        await self.record(CUT_SHARE + (1 - CUT_SHARE) * min(max(seconds, 0.0), self.total) / self.total)


async def _cut_all(
    plan: RenderPlan, cutter: SegmentCutter, recorder: _ProgressRecorder
) -> tuple[list[CutSegment], AudioTrack]:
    """Cut the audio track and every clip's video, all at once: the cutter bounds how much runs in parallel.
    The first failure stops the other cuts."""
    audio = asyncio.ensure_future(cutter.cut_audio(plan))
    videos = [asyncio.ensure_future(cutter.cut(plan, segment, recorder.cutting(segment))) for segment in plan.segments]
    tasks = [audio, *videos]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return [video.result() for video in videos], audio.result()


@attrs.frozen
class Rendering:
    """What renders need besides the record: the ports that make the files, the codec rules, the settings."""

    cutter: SegmentCutter
    concatenator: Concatenator
    files: RenderFiles
    rules: CodingRules
    fade_ms: int = 50  # audio fade in and out at every cut, milliseconds
    preview_height: int | None = None  # previews taller than this are scaled down


async def render_assembly(
    assembly: Assembly, repo: AssemblyRepo, rendering: Rendering, *, worker: str | None = None
) -> Assembly:
    """Render an assembly: cut every clip, join them, and store `done` or `failed`; the final state.

    With `worker`, the render's progress and end are stored only while that worker holds its lease (see
    `kalinsky_core.jobs`). A render that is cancelled (e.g. at shutdown) leaves the record in `processing`, so it
    can be rendered again later; its partial files are discarded either way, and so is anything an earlier,
    interrupted render of the same assembly left behind.
    """
    finished, _stored = await _render(assembly, repo, rendering, worker)
    return finished


async def render_owned(assembly: Assembly, repo: AssemblyRepo, rendering: Rendering, worker: str) -> Assembly | None:
    """`render_assembly` for a worker holding the assembly's lease: the final state it stored, or None if it no
    longer held the lease at the end (the assembly was cancelled or taken over)."""
    finished, stored = await _render(assembly, repo, rendering, worker)
    return finished if stored else None


async def _render(
    assembly: Assembly, repo: AssemblyRepo, rendering: Rendering, worker: str | None
) -> tuple[Assembly, bool]:
    started = time.monotonic()
    files = rendering.files
    await files.discard(assembly.id)
    report: RenderReport | None = None
    try:
        plan = plan_render(
            assembly,
            sources_by_filename(await repo.list_sources() or ()),
            rendering.rules,
            fade_ms=rendering.fade_ms,
            preview_height=rendering.preview_height,
        )
        recorder = _ProgressRecorder(repo, assembly, plan, worker)
        await recorder.save()
        cut_start = time.monotonic()
        cut_segments, audio = await _cut_all(plan, rendering.cutter, recorder)
        cut_s = time.monotonic() - cut_start
        recorder.assembly = recorder.assembly.in_phase(Phase.JOINING)
        await recorder.save()
        join_start = time.monotonic()
        output = await rendering.concatenator.concat(plan, cut_segments, audio, recorder.joining)
        join_end = time.monotonic()
        if output.measured is not None:
            timings = _timings(output, cut_s, join_end - join_start, join_end - started)
            report = render_report(
                plan, output.measured, _served(cut_segments, audio), result_cached=output.cached, timings=timings
            )
        finished = recorder.assembly.completed(output.duration)
    except KalinskyError as error:
        finished = assembly.failed(error.message)
        await files.discard(assembly.id)
    except Exception as error:  # a bug must not leave the record processing forever
        log.exception("render of %s failed", assembly.id)
        finished = assembly.failed(f"internal error: {error!r}")
        await files.discard(assembly.id)
    except BaseException:
        await files.discard(assembly.id)
        raise
    stored = await record_end(repo, finished, report, worker=worker)
    if not stored and finished.status is AssemblyStatus.DONE:
        now = await repo.get(assembly.id)
        if now is None or now.status.is_final:
            await files.discard(assembly.id)  # cancelled or deleted meanwhile: its result must not be served
    return finished, stored


def _served(segments: Sequence[CutSegment], audio: AudioTrack) -> dict[int, ClipCache]:
    """What the cache served of each clip, by position, as the cutter tells."""
    sounds = audio.sounds_cached
    return {
        segment.pos: ClipCache(segment.pieces_cached, None if sounds is None else segment.pos in sounds)
        for segment in segments
    }


def _timings(output: RenderedOutput, cut_s: float, concat_s: float, total_s: float) -> RenderTimings:
    """The render's timings; a concatenator that does not time its steps is taken to have joined all along."""
    measure_s = output.measure_s or 0.0
    join_s = output.join_s if output.join_s is not None else max(concat_s - measure_s, 0.0)
    return RenderTimings(
        cut_s=round(cut_s, 3), join_s=round(join_s, 3), measure_s=round(measure_s, 3), total_s=round(total_s, 3)
    )


#: Waits between attempts to store a render's end while the records cannot be written: doubling up to the last.
RECORD_RETRY_FIRST_S = 0.25
RECORD_RETRY_MAX_S = 5.0


async def record_end(
    repo: AssemblyRepo, finished: Assembly, report: RenderReport | None = None, *, worker: str | None = None
) -> bool:
    """Store a render's end (and its report), trying again (with a bounded backoff) until the records can be
    written: a full disk or a locked database must not leave the assembly `processing` with no render behind it.
    If the process stops first, the record is still `processing` and the next worker renders it again. With
    `worker`, only while that worker holds the render; whether the end was stored."""
    wait = RECORD_RETRY_FIRST_S
    attempt = 1
    while True:
        try:
            stored = await repo.finish(finished, report, worker=worker)
        except StorageUnavailable as error:
            log.warning(
                "the end of %s (%s) cannot be recorded yet, attempt %d, next in %.2f s: %s",
                finished.id, finished.status.value, attempt, wait, error,
            )
            await asyncio.sleep(wait)
            wait = min(wait * 2, RECORD_RETRY_MAX_S)
            attempt += 1
        else:
            if attempt > 1:
                log.info("the end of %s (%s) is recorded, attempt %d", finished.id, finished.status.value, attempt)
            return stored


async def cancel_assembly(repo: AssemblyRepo, queue: RenderQueue, files: RenderFiles, assembly_id: str) -> Assembly:
    """Record an assembly `cancelled`, stop its render wherever it runs, and remove its files.

    The record changes first: from then on no worker can record another end, and the owner of the render sees at
    its next lease renewal (or at once, through the queue) that it must stop."""
    assembly = await get_assembly(repo, assembly_id)
    if assembly.status.is_final:
        raise AssemblyFinished(assembly.id, assembly.status.value)
    cancelled = assembly.cancelled()
    if not await repo.save_state(cancelled):  # it ended meanwhile
        ended = await get_assembly(repo, assembly_id)
        raise AssemblyFinished(ended.id, ended.status.value)
    await queue.abort(assembly.id)
    await files.discard(assembly.id)
    return await repo.get(assembly.id) or cancelled


async def get_report(repo: AssemblyRepo, assembly_id: str) -> RenderReport:
    """The report of an assembly's finished render; ReportMissing if it has none (still processing, failed,
    cancelled, or rendered before reports existed)."""
    assembly = await get_assembly(repo, assembly_id)
    report = await repo.get_report(assembly.id)
    if report is None:
        raise ReportMissing(assembly.id, assembly.status.value)
    return report


async def delete_assembly(repo: AssemblyRepo, files: RenderFiles, assembly_id: str) -> Assembly:
    """Remove a finished (done, failed or cancelled) assembly: its files, then its record. What it was is returned.

    Files go first: should removing them fail, the record stays and the delete can be asked again."""
    assembly = await get_assembly(repo, assembly_id)
    if not assembly.status.is_final:
        raise AssemblyProcessing(assembly.id)
    await files.discard(assembly.id)
    if not await repo.delete(assembly.id):
        raise AssemblyNotFound()  # another request deleted it meanwhile
    return assembly


def created_before(assembly: Assembly, cutoff: datetime) -> bool:
    """Whether the assembly was created before `cutoff` (an aware datetime); an unreadable date never is."""
    try:
        created = datetime.fromisoformat(assembly.created.replace("Z", "+00:00"))
    except ValueError:
        return False
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return created < cutoff


async def delete_older_than(
    repo: AssemblyRepo, files: RenderFiles, days: float, now: datetime | None = None
) -> list[str]:
    """Delete every finished assembly created more than `days` ago; the ids deleted, oldest first. Renders still
    processing are kept, however old."""
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    deleted: list[str] = []
    for assembly in reversed(await repo.list()):
        if assembly.status.is_final and created_before(assembly, cutoff):
            await files.discard(assembly.id)
            if await repo.delete(assembly.id):
                deleted.append(assembly.id)
    return deleted


async def unfinished_assemblies(repo: AssemblyRepo) -> list[Assembly]:
    """Assemblies left in `processing` (e.g. by a stop mid-render), oldest first, to be rendered again."""
    return list(reversed(await repo.list(status=AssemblyStatus.PROCESSING)))


class Derive(enum.Enum):
    """When media derived from the sources (preview proxies) is brought in line with a new index."""

    BACKGROUND = "background"  # a long-running process: start it and return
    NOW = "now"  # before returning
    LATER = "later"  # not here: whoever serves the index next does it


@attrs.frozen
class SourceLibrary:
    """The source index of one sources folder, and what is derived from it."""

    prober: MediaProber
    repo: AssemblyRepo
    lock: IndexLock
    derived: DerivedMedia | None = None
    #: Told of every reindex and the seconds it took (e.g. for metrics).
    on_reindexed: Callable[[SourceIndex, float], None] | None = None

    async def reindex(self, derive: Derive = Derive.BACKGROUND) -> SourceIndex:
        """Probe the folder and replace the index (one reindex at a time, across processes), then bring derived
        media in line with it."""
        async with self.lock():
            started = time.monotonic()
            index = await reindex(self.prober, self.repo)
        if self.on_reindexed is not None:
            self.on_reindexed(index, time.monotonic() - started)
        await self._derive(index.sources, derive)
        return index

    async def sources(self) -> tuple[Source, ...]:
        """The index; NotIndexed before the first reindex."""
        return await list_sources(self.repo)

    async def source(self, index: int) -> Source:
        return find_source(await self.sources(), index)

    async def refresh_derived(self) -> None:
        """Bring derived media in line with the index as it is (at startup, without reindexing)."""
        await self._derive(await self.repo.list_sources() or (), Derive.BACKGROUND)

    async def _derive(self, sources: Sequence[Source], derive: Derive) -> None:
        if self.derived is None or not sources or derive is Derive.LATER:
            return
        if derive is Derive.NOW:
            await self.derived.make_all(sources)
        else:
            self.derived.refresh(sources)


@attrs.frozen
class AssemblyDesk:
    """Assemblies: created against the index, queued for a worker on `queue`, stopped on request. With a
    `renderer`, this process can also render one here and now."""

    repo: AssemblyRepo
    rules: CodingRules
    queue: RenderQueue
    files: RenderFiles
    renderer: Renderer | None = None
    #: Told of every assembly that a cancel finished (workers tell of the renders that end).
    on_finished: Callable[[Assembly], None] | None = None
    #: Whether a callback URL may name a private, loopback or other non-global IP address.
    private_callbacks: bool = False

    async def create(
        self,
        clips: Sequence[ClipInput],
        *,
        name: str | None = None,
        preview: bool = True,
        callback_url: str | None = None,
    ) -> Assembly:
        """Store a new assembly, queued for a worker; it reaches the workers of a distributed queue only once
        submitted (`start` does both)."""
        return await create_assembly(
            self.repo, self.rules, clips, name=name, preview=preview, callback_url=callback_url,
            private_callbacks=self.private_callbacks,
        )

    async def start(
        self,
        clips: Sequence[ClipInput],
        *,
        name: str | None = None,
        preview: bool = True,
        callback_url: str | None = None,
    ) -> Assembly:
        """Store a new assembly and queue its render."""
        assembly = await self.create(clips, name=name, preview=preview, callback_url=callback_url)
        await self.queue.submit(assembly.id)
        return assembly

    async def render(self, assembly_id: str) -> Assembly:
        """Render an assembly that is still processing, here and now, unless another worker holds it; its state
        afterwards (still `processing` while another worker renders it)."""
        assembly = await self.get(assembly_id)
        if assembly.status is AssemblyStatus.PROCESSING:
            if self.renderer is None:
                raise RuntimeError("this process has no renderer")
            await self.renderer.run(assembly.id)
        return await self.get(assembly_id)

    async def live_workers(self, within_s: float) -> list[str]:
        """The workers (of any process sharing the records) that said they were alive in the last `within_s`."""
        return await self.repo.live_workers(within_s)

    async def get(self, assembly_id: str) -> Assembly:
        return await get_assembly(self.repo, assembly_id)

    async def all(
        self, *, status: AssemblyStatus | None = None, limit: int | None = None, offset: int = 0
    ) -> list[Assembly]:
        """Assemblies newest first: every one, or a page of them (`offset`, `limit`), in `status` if given."""
        return await self.repo.list(status=status, limit=limit, offset=offset)

    async def count(self, *, status: AssemblyStatus | None = None) -> int:
        return await self.repo.count(status=status)

    async def cancel(self, assembly_id: str) -> Assembly:
        cancelled = await cancel_assembly(self.repo, self.queue, self.files, assembly_id)
        if self.on_finished is not None:
            self.on_finished(cancelled)
        return cancelled

    async def report(self, assembly_id: str) -> RenderReport:
        return await get_report(self.repo, assembly_id)

    async def delete(self, assembly_id: str) -> Assembly:
        """Remove a finished assembly's files and record; AssemblyProcessing while it renders."""
        return await delete_assembly(self.repo, self.files, assembly_id)

    async def delete_older_than(self, days: float) -> list[str]:
        """Remove the finished assemblies created more than `days` ago; their ids."""
        deleted = await delete_older_than(self.repo, self.files, days)
        if deleted:
            log.info("deleted %d assemblies older than %g days: %s", len(deleted), days, ", ".join(deleted))
        return deleted

    async def resume_unfinished(self) -> list[Assembly]:
        """Start this process's workers (if any) and queue again the renders left unfinished (a stop midway), oldest
        first. Those another worker holds stay with it; those whose worker died are taken once its lease runs
        out."""
        self.queue.start()
        unfinished = await unfinished_assemblies(self.repo)
        for assembly in unfinished:
            if assembly.worker is None:
                log.info("queueing %s again: it was unfinished", assembly.id)
            await self.queue.submit(assembly.id)
        return unfinished


async def start_service(library: SourceLibrary, desk: AssemblyDesk, *, auto_reindex: bool) -> None:
    """What a server does as it starts: index the folder (or bring derived media in line with the index it has),
    then render again what was left unfinished."""
    if auto_reindex:
        index = await library.reindex()
        log.info("indexed %d sources, skipped %d", len(index.sources), len(index.skipped))
    else:
        await library.refresh_derived()
    await desk.resume_unfinished()
