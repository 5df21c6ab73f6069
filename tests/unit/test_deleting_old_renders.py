"""Deleting old renders (KALINSKY_KEEP_DAYS): which assemblies go, and the hourly passes."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import attrs

from kalinsky_adapters.ffmpeg import CodecRules
from kalinsky_adapters.memory import FakeRendering, InMemoryRepo
from kalinsky_core import services
from kalinsky_core.jobs import LocalQueue
from kalinsky_core.model import Assembly, AssemblyStatus, Clip
from kalinsky_web import retention

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def created(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")


async def stored(repo: InMemoryRepo, days_ago: float, status: AssemblyStatus) -> str:
    assembly = Assembly(
        id=f"asm_{await repo.next_sequence():03d}", name=None, preview=True,
        clips=(Clip(pos=1, filename="a.mp4", start=0, end=1),), created=created(days_ago),
    )
    await repo.add(assembly)
    if status is not AssemblyStatus.PROCESSING:
        await repo.save_state(attrs.evolve(assembly, status=status, duration=1.0 if status.value == "done" else None))
    return assembly.id


async def test_only_finished_assemblies_older_than_the_limit_are_deleted() -> None:
    repo, fake = InMemoryRepo(), FakeRendering.create()
    old_done = await stored(repo, 10, AssemblyStatus.DONE)
    old_processing = await stored(repo, 10, AssemblyStatus.PROCESSING)
    old_failed = await stored(repo, 7.5, AssemblyStatus.FAILED)
    old_cancelled = await stored(repo, 8, AssemblyStatus.CANCELLED)
    recent_done = await stored(repo, 6.9, AssemblyStatus.DONE)

    deleted = await services.delete_older_than(repo, fake.files, 7, now=NOW)
    assert deleted == [old_done, old_failed, old_cancelled] == fake.discarded  # oldest first
    assert [a.id for a in await repo.list()] == [recent_done, old_processing]


async def test_pruning_passes_at_start_and_every_interval_until_the_app_stops() -> None:
    repo, fake = InMemoryRepo(), FakeRendering.create()
    desk = services.AssemblyDesk(repo, CodecRules(), LocalQueue(), fake.files)
    first = await stored(repo, 400, AssemblyStatus.DONE)
    async with retention.pruning(desk, 1.0, interval=0.05):
        assert [a.id for a in await repo.list()] == []  # before the app serves anything
        assert fake.discarded == [first]
        second = await stored(repo, 400, AssemblyStatus.FAILED)
        await asyncio.sleep(0.2)
        assert await repo.get(second) is None
    third = await stored(repo, 400, AssemblyStatus.DONE)
    await asyncio.sleep(0.1)
    assert await repo.get(third) is not None  # stopped with the app


async def test_no_keep_days_keeps_everything() -> None:
    repo, fake = InMemoryRepo(), FakeRendering.create()
    desk = services.AssemblyDesk(repo, CodecRules(), LocalQueue(), fake.files)
    kept = await stored(repo, 4000, AssemblyStatus.DONE)
    async with retention.pruning(desk, None, interval=0.01):
        await asyncio.sleep(0.05)
    assert [a.id for a in await repo.list()] == [kept] and fake.discarded == []
