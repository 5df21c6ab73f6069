"""The use cases every entrypoint calls (SourceLibrary, AssemblyDesk, start_service), with in-memory adapters."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

import pytest

from kalinsky_adapters.ffmpeg import CodecRules
from kalinsky_adapters.memory import AsyncioIndexLock, FakeProber, FakeRendering, InMemoryRepo
from kalinsky_core import services
from kalinsky_core.errors import AssemblyFinished, InvalidClip, SourceNotFound
from kalinsky_core.jobs import LocalQueue, LocalWorker, Renderer
from kalinsky_core.model import AssemblyStatus, ClipInput, MediaInfo, Phase, Source

INFO = MediaInfo(duration=5.0, width=320, height=240, codec="h264", frame_rate="30", has_audio=True, file_size=10)


class RecordingDerived:
    """DerivedMedia that records what it was asked to follow, and how."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def refresh(self, sources: Sequence[Source]) -> None:
        self.calls.append(("background", tuple(s.filename for s in sources)))

    async def make_all(self, sources: Sequence[Source]) -> None:
        self.calls.append(("now", tuple(s.filename for s in sources)))


def library(repo: InMemoryRepo, derived: RecordingDerived | None = None, files=None, lock=None):
    prober = FakeProber(files if files is not None else {"a.mp4": INFO, "b.mov": INFO})
    return services.SourceLibrary(prober, repo, lock or AsyncioIndexLock(), derived)


async def test_reindex_then_derived_media_follows_in_the_background_now_or_later() -> None:
    repo, derived = InMemoryRepo(), RecordingDerived()
    sources = library(repo, derived)
    assert [s.filename for s in (await sources.reindex()).sources] == ["a.mp4", "b.mov"]
    await sources.reindex(services.Derive.NOW)
    await sources.reindex(services.Derive.LATER)
    assert derived.calls == [("background", ("a.mp4", "b.mov")), ("now", ("a.mp4", "b.mov"))]
    assert (await sources.source(2)).filename == "b.mov"
    with pytest.raises(SourceNotFound):
        await sources.source(3)


async def test_reindexes_hold_the_index_lock_one_at_a_time() -> None:
    held, peak = 0, 0
    inner = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def lock() -> AsyncIterator[None]:
        nonlocal held, peak
        async with inner:
            held += 1
            peak = max(peak, held)
            await asyncio.sleep(0.01)
            yield
            held -= 1

    sources = library(InMemoryRepo(), lock=lock)
    await asyncio.gather(*(sources.reindex() for _ in range(4)))
    assert peak == 1


async def test_the_desk_starts_renders_and_cancels_them() -> None:
    repo = InMemoryRepo()
    await library(repo).reindex()
    fake = FakeRendering.create()
    gate = asyncio.Event()
    renderer = fake.renderer(repo)

    async def render(assembly, worker):
        await gate.wait()
        return await services.render_owned(assembly, repo, fake.rendering, worker)

    worker = LocalWorker(repo, Renderer(repo, render, "here:1"), renders=2, poll=0.01)
    desk = services.AssemblyDesk(repo, CodecRules(), LocalQueue(worker), fake.files, renderer)
    await desk.resume_unfinished()  # starts the worker
    first = await desk.start([ClipInput(1, 0, 1)], name="one")
    second = await desk.start([ClipInput("b.mov")], preview=False)
    await asyncio.sleep(0.05)
    assert worker.active == [first.id, second.id]
    cancelled = await desk.cancel(second.id)
    assert cancelled.status is AssemblyStatus.CANCELLED and fake.discarded[-1] == second.id
    assert worker.active == [first.id]
    gate.set()
    await worker.wait(first.id)
    assert (await desk.get(first.id)).status is AssemblyStatus.DONE
    with pytest.raises(AssemblyFinished, match="Assembly asm_001 is already done"):
        await desk.cancel(first.id)
    assert [a.id for a in await desk.all()] == [second.id, first.id]
    with pytest.raises(InvalidClip) as bad:
        await desk.create([ClipInput(1), ClipInput(1, start=3, end=2)])
    assert (bad.value.message, bad.value.clip) == ("start >= end for clip 2", 2)
    await worker.aclose()


async def test_the_desk_renders_here_and_now() -> None:
    repo = InMemoryRepo()
    await library(repo).reindex()
    fake = FakeRendering.create()
    desk = services.AssemblyDesk(repo, CodecRules(), LocalQueue(), fake.files, fake.renderer(repo))
    created = await desk.create([ClipInput(1, 0, 1)])
    assert (created.phase, created.worker, created.attempts) == (Phase.QUEUED, None, 0)
    done = await desk.render(created.id)
    assert done.status is AssemblyStatus.DONE and fake.joined == [created.id] and done.attempts == 1
    assert await desk.render(created.id) == done  # a finished one is not rendered again
    held = await desk.create([ClipInput(1, 0, 1)])
    await repo.claim(held.id, "elsewhere:9", 60)
    assert (await desk.render(held.id)).worker == "elsewhere:9"  # another worker holds it: left to it
    assert fake.joined == [created.id]


async def test_starting_the_service_indexes_and_resumes_what_was_unfinished() -> None:
    repo, derived = InMemoryRepo(), RecordingDerived()
    sources = library(repo, derived)
    await sources.reindex(services.Derive.LATER)
    fake = FakeRendering.create()
    rendered: list[str] = []

    async def render(assembly, worker):
        rendered.append(assembly.id)
        return await services.render_owned(assembly, repo, fake.rendering, worker)

    worker = LocalWorker(repo, Renderer(repo, render, "here:1"), renders=1, poll=0.01)
    desk = services.AssemblyDesk(repo, CodecRules(), LocalQueue(worker), fake.files)
    left = [await desk.create([ClipInput(1)]) for _ in range(2)]
    await services.start_service(sources, desk, auto_reindex=False)
    await asyncio.sleep(0.05)
    await worker.wait_idle()
    await worker.aclose()
    assert rendered == [a.id for a in left] and derived.calls == [("background", ("a.mp4", "b.mov"))]
    await services.start_service(library(repo, derived, files={"c.mp4": INFO}), desk, auto_reindex=True)
    assert [s.filename for s in await sources.sources()] == ["c.mp4"]
    assert derived.calls[-1] == ("background", ("c.mp4",))
