"""The composition root: which adapter implements which port, and their lifetimes. Every entrypoint (the web app,
the command line) builds its objects here, and only here."""

from __future__ import annotations

import inspect
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
from kalinsky_core.model import Assembly
from kalinsky_core.ports import AssemblyRepo
from kalinsky_core.runner import RenderRunner


async def open_repo(settings: Settings, events: EventHub) -> AsyncIterator[AssemblyRepo]:
    """The SQL repository (the SQLite file, or KALINSKY_DATABASE_URL's database), its schema brought up to date;
    what it stores is also published on `events`."""
    repo = await SqlRepo(settings.sqlalchemy_url()).open()
    try:
        yield ObservedRepo(repo, events)
    finally:
        await repo.close()


async def start_runner(
    settings: Settings, repo: AssemblyRepo, rendering: services.Rendering, metrics: Metrics, notices: FinishedNotices
) -> AsyncIterator[RenderRunner]:
    async def render(assembly: Assembly) -> Assembly:
        finished = await services.render_assembly(assembly, repo, rendering)
        if finished.status.is_final:
            notices.publish(finished)
        return finished

    runner = RenderRunner(metrics.observed(render), max_concurrent=settings.max_renders)
    metrics.watch_queue(lambda: len(runner.active))
    unsubscribe = notices.subscribe(metrics.finished)
    try:
        yield runner
    finally:
        await runner.aclose()
        unsubscribe()


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
    runner = providers.Resource(start_runner, settings, repo, rendering, metrics, notices)
    index_lock = providers.Singleton(FileLock, providers.Callable(derived_dir, settings, "reindex.lock"))

    # The use cases every entrypoint calls.
    library = providers.Singleton(
        services.SourceLibrary, prober, repo, index_lock, proxies, on_reindexed=metrics.provided.reindexed
    )
    desk = providers.Singleton(
        services.AssemblyDesk, repo, rules, runner, files, on_finished=notices.provided.publish
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
