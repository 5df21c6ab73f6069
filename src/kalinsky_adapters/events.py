"""Changes of assemblies and of the index, as they are stored, for whoever follows them (the web app's
Server-Sent Events stream).

`ObservedRepo` wraps any AssemblyRepo: each change it stores is then published on an `EventHub` that every
follower reads at its own pace. A follower that falls far behind loses the oldest events and is told so (it then
reloads what it shows), so a slow client never holds up a render. The hub lives in one process: API processes
that share a database each see the changes their own renders store.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import attrs

from kalinsky_core.model import Assembly, Source
from kalinsky_core.ports import AssemblyRepo
from kalinsky_core.report import RenderReport

#: Events a follower may be behind before the oldest are dropped.
BACKLOG = 1000


@attrs.frozen
class Event:
    """`kind` is `created`, `progress`, `finished`, `deleted`, `index` or `overflow`; `assembly` for the first
    four."""

    kind: str
    assembly: Assembly | None = None
    sources: int | None = None  # for `index`: how many sources the new index has


class EventHub:
    def __init__(self) -> None:
        self._followers: set[asyncio.Queue[Event]] = set()

    def publish(self, event: Event) -> None:
        for queue in list(self._followers):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(Event("overflow"))
                continue
            queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def follow(self) -> AsyncIterator[asyncio.Queue[Event]]:
        """A queue of the events published from now on, until the block ends."""
        queue: asyncio.Queue[Event] = asyncio.Queue(BACKLOG)
        self._followers.add(queue)
        try:
            yield queue
        finally:
            self._followers.discard(queue)

    @property
    def followers(self) -> int:
        return len(self._followers)


class ObservedRepo:
    """An AssemblyRepo that publishes what it stores; what it does not change it hands to the wrapped one."""

    def __init__(self, repo: AssemblyRepo, hub: EventHub) -> None:
        self._repo = repo
        self._hub = hub

    @property
    def inner(self) -> AssemblyRepo:
        """The repository whose changes this one publishes."""
        return self._repo

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    async def replace_sources(self, sources: Sequence[Source]) -> None:
        await self._repo.replace_sources(sources)
        self._hub.publish(Event("index", sources=len(sources)))

    async def add(self, assembly: Assembly) -> None:
        await self._repo.add(assembly)
        self._hub.publish(Event("created", assembly))

    async def delete(self, assembly_id: str) -> bool:
        gone = await self._repo.get(assembly_id)
        deleted = await self._repo.delete(assembly_id)
        if deleted and gone is not None:
            self._hub.publish(Event("deleted", gone))
        return deleted

    async def save_state(self, assembly: Assembly, *, worker: str | None = None) -> bool:
        stored = await self._repo.save_state(assembly, worker=worker)
        if stored:
            await self._published(assembly.id)
        return stored

    async def finish(self, assembly: Assembly, report: RenderReport | None, *, worker: str | None = None) -> bool:
        stored = await self._repo.finish(assembly, report, worker=worker)
        if stored:
            await self._published(assembly.id)
        return stored

    async def _published(self, assembly_id: str) -> None:
        if self._hub.followers:
            stored = await self._repo.get(assembly_id)
            if stored is not None:
                self._hub.publish(Event("finished" if stored.status.is_final else "progress", stored))
