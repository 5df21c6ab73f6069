"""The composition root: which adapter implements which port, and their lifetimes. Every entrypoint (the web app,
the command line) builds its objects here, and only here."""

from __future__ import annotations

import inspect
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from dependency_injector import containers, providers

from kalinsky_adapters.binaries import find_executable
from kalinsky_adapters.events import EventHub, ObservedRepo
from kalinsky_adapters.ffmpeg import CodecRules, ffmpeg_rendering
from kalinsky_adapters.ffmpeg.scheduling import DEFAULT_PARALLEL
from kalinsky_adapters.ffprobe import FfprobeProber
from kalinsky_adapters.health import Readiness
from kalinsky_adapters.locks import FileLock
from kalinsky_adapters.notices import FinishedNotices
from kalinsky_adapters.otio import OtioExporter
from kalinsky_adapters.proxies import PreviewProxies
from kalinsky_adapters.render_files import RenderFolders
from kalinsky_adapters.segment_cache import SegmentCache
from kalinsky_adapters.settings import Settings
from kalinsky_adapters.slots import PrioritySlots
from kalinsky_adapters.source_files import SourceFolder
from kalinsky_adapters.store.repo import SqlRepo
from kalinsky_adapters.telemetry import Metrics
from kalinsky_adapters.thumbnails import FfmpegThumbnailer
from kalinsky_adapters.timeline import FfmpegTimeline
from kalinsky_core import services
from kalinsky_core.jobs import Leases, LocalQueue, LocalWorker, Renderer
from kalinsky_core.model import Assembly
from kalinsky_core.ports import AssemblyRepo, RenderQueue


async def open_repo(settings: Settings, events: EventHub) -> AsyncIterator[AssemblyRepo]:
    """The SQL repository (the SQLite file, or KALINSKY_DATABASE_URL's database), its schema brought up to date;
    what it stores is also published on `events`."""
    repo = await SqlRepo(settings.sqlalchemy_url()).open()
    try:
        yield ObservedRepo(repo, events)
    finally:
        await repo.close()


def worker_name() -> str:
    """This process as a worker: `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def gone_here(worker: str) -> bool:
    """Whether `worker` (`host:pid`) was a process of this machine that no longer runs."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it runs, as another user
        return False
    return False


def make_renderer(
    settings: Settings, repo: AssemblyRepo, rendering: services.Rendering, metrics: Metrics, notices: FinishedNotices
) -> Renderer:
    """What this process does with a render job it takes: render it (timed and logged), tell of its end. It
    renews its lease a tenth of the lease's length apart (2 s for the default 20 s)."""

    async def render(claimed: Assembly, worker: str) -> Assembly | None:
        return await services.render_owned(claimed, repo, rendering, worker)

    leases = Leases(seconds=settings.lease_seconds, beat=settings.lease_seconds / 10)
    return Renderer(repo, metrics.observed(render), worker_name(), leases, on_finished=notices.publish)


async def start_worker(
    settings: Settings, repo: AssemblyRepo, renderer: Renderer, metrics: Metrics, notices: FinishedNotices
) -> AsyncIterator[LocalWorker | None]:
    """This process's render worker, taking jobs from the records (`settings.render_slots()` at once) once the
    queue is started, or None when it renders nothing. On the way out it hands back what it was rendering."""
    unsubscribe = notices.subscribe(metrics.finished)
    renders = settings.render_slots()
    # with a job queue, its own workers render (see open_queue)
    local = renders and settings.job_queue_url() is None
    worker = LocalWorker(repo, renderer, renders, is_gone=gone_here) if local else None
    if worker is not None:
        metrics.watch_queue(lambda: worker.depth)
    try:
        yield worker
    finally:
        if worker is not None:
            await worker.aclose()
        unsubscribe()


async def open_queue(
    settings: Settings, repo: AssemblyRepo, renderer: Renderer, worker: LocalWorker | None
) -> AsyncIterator[RenderQueue]:
    """Where renders wait: the records (this process's worker, if any, and those of the processes sharing them
    look there), or SAQ's queue when there is one (its worker in this process renders `render_slots()` at once)."""
    url = settings.job_queue_url()
    if url is None:
        yield LocalQueue(worker)
        return
    from kalinsky_adapters.saq_jobs import SaqJobs  # only farms need SAQ and psycopg

    jobs = SaqJobs(url, repo, renderer, settings.render_slots())
    await jobs.connect()
    try:
        yield jobs
    finally:
        await jobs.aclose()


def derived_dir(settings: Settings, name: str) -> Path:
    """Media derived from the sources (posters, proxies) lives beside the database: not a render."""
    return settings.data_dir / name


async def open_proxies(
    settings: Settings, ffmpeg: str, ffprobe: str, slots: PrioritySlots
) -> AsyncIterator[PreviewProxies | None]:
    """Preview proxies, unless turned off; making them stops at shutdown."""
    if not settings.preview_proxies:
        yield None
        return
    proxies = PreviewProxies(
        settings.sources_dir, derived_dir(settings, "proxies"), ffmpeg, ffprobe, settings.preview_height, slots
    )
    try:
        yield proxies
    finally:
        await proxies.aclose()


async def resolve(provider: providers.Provider[Any]) -> Any:
    """The provider's object, awaited when it comes from (or depends on) an async resource."""
    value = provider()
    return await value if inspect.isawaitable(value) else value


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    ffmpeg = providers.Singleton(find_executable, "ffmpeg", settings.provided.ffmpeg_bin)
    ffprobe = providers.Singleton(find_executable, "ffprobe", settings.provided.ffprobe_bin)

    rules = providers.Singleton(CodecRules)
    sources = providers.Singleton(SourceFolder, settings.provided.sources_dir)
    files = providers.Singleton(RenderFolders, settings.provided.output_dir)
    events = providers.Singleton(EventHub)
    repo = providers.Resource(open_repo, settings, events)
    prober = providers.Singleton(FfprobeProber, settings.provided.sources_dir, ffprobe, rules)
    # The ffmpeg processes of renders and of proxy making share these slots (renders first).
    slots = providers.Singleton(PrioritySlots, DEFAULT_PARALLEL)
    proxies = providers.Resource(open_proxies, settings, ffmpeg, ffprobe, slots)
    cache = providers.Singleton(
        SegmentCache, providers.Callable(derived_dir, settings, "cache"), settings.provided.cache_bytes.call(), ffmpeg
    )
    rendering = providers.Singleton(
        ffmpeg_rendering,
        settings.provided.sources_dir,
        settings.provided.output_dir,
        ffmpeg,
        ffprobe,
        audio_codec=settings.provided.audio_codec,
        audio_bitrate=settings.provided.audio_bitrate,
        fade_ms=settings.provided.audio_fade_ms,
        preview_height=settings.provided.preview_height,
        parallel=DEFAULT_PARALLEL,
        slots=slots,
        proxies=proxies,
        rules=rules,
        files=files,
        cache=cache,
    )
    metrics = providers.Singleton(Metrics)
    notices = providers.Singleton(FinishedNotices)
    renderer = providers.Singleton(make_renderer, settings, repo, rendering, metrics, notices)
    worker = providers.Resource(start_worker, settings, repo, renderer, metrics, notices)
    queue = providers.Resource(open_queue, settings, repo, renderer, worker)
    index_lock = providers.Singleton(FileLock, providers.Callable(derived_dir, settings, "reindex.lock"))

    # The use cases every entrypoint calls.
    library = providers.Singleton(
        services.SourceLibrary, prober, repo, index_lock, proxies, on_reindexed=metrics.provided.reindexed
    )
    desk = providers.Singleton(
        services.AssemblyDesk, repo, rules, queue, files, renderer, on_finished=notices.provided.publish,
        private_callbacks=settings.provided.webhook_allow_private,
    )

    # What the web app shows of sources and assemblies besides the API's JSON.
    thumbnailer = providers.Singleton(
        FfmpegThumbnailer, sources, providers.Callable(derived_dir, settings, "thumbnails"), ffmpeg
    )
    trim_bar = providers.Singleton(
        FfmpegTimeline, sources, providers.Callable(derived_dir, settings, "timeline"), ffmpeg
    )
    timelines = providers.Singleton(OtioExporter, settings.provided.sources_dir, files)

    # What operators see: readiness checks and metrics.
    readiness = providers.Singleton(
        Readiness, repo, ffmpeg, ffprobe, settings.provided.output_dir, settings.provided.data_dir
    )
