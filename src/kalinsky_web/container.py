"""The composition root: which adapter implements which port, and their lifetimes."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from dependency_injector import containers, providers

from kalinsky_adapters.binaries import find_executable
from kalinsky_adapters.ffmpeg import DEFAULT_PARALLEL, FfmpegRenderer
from kalinsky_adapters.ffprobe import FfprobeProber
from kalinsky_adapters.proxies import PreviewProxies
from kalinsky_adapters.slots import PrioritySlots
from kalinsky_adapters.sqlite import SqliteRepo
from kalinsky_adapters.thumbnails import FfmpegThumbnailer
from kalinsky_core import services
from kalinsky_core.ports import AssemblyRepo, Concatenator, SegmentCutter
from kalinsky_core.runner import RenderRunner
from kalinsky_web.config import Settings


async def open_repo(settings: Settings) -> AsyncIterator[SqliteRepo]:
    repo = await SqliteRepo(settings.db_path).open()
    try:
        yield repo
    finally:
        await repo.close()


async def start_runner(
    settings: Settings, repo: AssemblyRepo, cutter: SegmentCutter, concatenator: Concatenator
) -> AsyncIterator[RenderRunner]:
    render = functools.partial(
        services.render_assembly,
        repo=repo,
        cutter=cutter,
        concatenator=concatenator,
        fade_ms=settings.audio_fade_ms,
        preview_height=settings.preview_height,
    )
    runner = RenderRunner(render, max_concurrent=settings.max_renders)
    try:
        yield runner
    finally:
        await runner.aclose()


def thumbnails_dir(settings: Settings) -> Path:
    """Posters of the sources live beside the database: derived data, not a render."""
    return settings.data_dir / "thumbnails"


async def open_proxies(
    settings: Settings, ffmpeg: str, ffprobe: str, slots: PrioritySlots
) -> AsyncIterator[PreviewProxies | None]:
    """Preview proxies beside the database (derived data), unless turned off; making them stops at shutdown."""
    if not settings.preview_proxies:
        yield None
        return
    proxies = PreviewProxies(
        settings.sources_dir, settings.data_dir / "proxies", ffmpeg, ffprobe, settings.preview_height, slots
    )
    try:
        yield proxies
    finally:
        await proxies.aclose()


async def resolve(provider: providers.Provider) -> Any:
    """The provider's object, awaited when it comes from (or depends on) an async resource."""
    value = provider()
    return await value if inspect.isawaitable(value) else value


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    ffmpeg = providers.Singleton(find_executable, "ffmpeg", settings.provided.ffmpeg_bin)
    ffprobe = providers.Singleton(find_executable, "ffprobe", settings.provided.ffprobe_bin)

    repo = providers.Resource(open_repo, settings)
    prober = providers.Singleton(FfprobeProber, settings.provided.sources_dir, ffprobe)
    # The ffmpeg processes of renders and of proxy making share these slots (renders first).
    slots = providers.Singleton(PrioritySlots, DEFAULT_PARALLEL)
    proxies = providers.Resource(open_proxies, settings, ffmpeg, ffprobe, slots)
    renderer = providers.Singleton(
        FfmpegRenderer,
        sources_dir=settings.provided.sources_dir,
        output_dir=settings.provided.output_dir,
        ffmpeg=ffmpeg,
        ffprobe=ffprobe,
        audio_codec=settings.provided.audio_codec,
        audio_bitrate=settings.provided.audio_bitrate,
        parallel=DEFAULT_PARALLEL,
        slots=slots,
        proxies=proxies,
    )
    runner = providers.Resource(start_runner, settings, repo, renderer, renderer)
    reindex_lock = providers.Singleton(asyncio.Lock)
    thumbnailer = providers.Singleton(
        FfmpegThumbnailer,
        sources_dir=settings.provided.sources_dir,
        cache_dir=providers.Callable(thumbnails_dir, settings),
        ffmpeg=ffmpeg,
    )
