"""Changes of assemblies and of the index, as they are stored, for whoever follows them (the web app's
Server-Sent Events stream).

`ChangeFeed` reads what any process stores (the repository's change feed: API processes, workers, command-line
renders sharing the records): the assemblies created and changed, those deleted and new indexes, and publishes them
on an `EventHub` that every follower reads at its own pace. `ObservedRepo` wraps any AssemblyRepo to publish this
process's new assemblies at once. A follower that falls far behind loses the oldest events and is told so (it then
reloads what it shows), so a slow client never holds up a render.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs

from kalinsky_core.model import Assembly, Phase
from kalinsky_core.ports import AssemblyRepo

log = logging.getLogger(__name__)

#: Events a follower may be behind before the oldest are dropped.
BACKLOG = 1000
#: Assemblies whose last published state the hub remembers, to publish each change once.
REMEMBERED = 5000


@attrs.frozen
class Event:
    """`kind` is `created`, `progress`, `finished`, `deleted`, `index` or `overflow`; `assembly` for the first
    four."""

    kind: str
    assembly: Assembly | None = None
    sources: int | None = None  # for `index`: how many sources the new index has


class EventHub:
    """Events of one process for its followers. An assembly published again unchanged (this process stored it and
    the change feed read it back) is not published twice. `catch_up`, when set (by the change feed), reads what
    was stored until now: a new follower is added only after it, so that it is told only of what is stored after
    it started following."""

    def __init__(self) -> None:
        self._followers: set[asyncio.Queue[Event]] = set()
        self._last: dict[str, Assembly] = {}  # the state last published of each assembly, at most REMEMBERED
        self.catch_up: Callable[[], Awaitable[None]] | None = None

    def publish(self, event: Event) -> None:
        if event.assembly is not None and event.kind == "deleted":
            self._last.pop(event.assembly.id, None)
        elif event.assembly is not None:
            if self._last.get(event.assembly.id) == event.assembly:
                return
            self._last.pop(event.assembly.id, None)
            self._last[event.assembly.id] = event.assembly
            if len(self._last) > REMEMBERED:
                del self._last[next(iter(self._last))]
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
        """A queue of the events of what is stored from now on, until the block ends."""
        if self.catch_up is not None:
            try:
                await self.catch_up()
            except Exception as error:  # the records cannot be read now: the feed's next look tries again
                log.warning("changes of assemblies not read: %s", error)
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
    """An AssemblyRepo that publishes the new assemblies it stores at once (all other changes, deletes and new
    indexes reach followers through `ChangeFeed`, from every process alike); everything else it hands to the
    wrapped one."""

    def __init__(self, repo: AssemblyRepo, hub: EventHub) -> None:
        self._repo = repo
        self._hub = hub

    @property
    def inner(self) -> AssemblyRepo:
        """The repository whose changes this one publishes."""
        return self._repo

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    async def add(self, assembly: Assembly) -> None:
        await self._repo.add(assembly)
        self._hub.publish(Event("created", assembly))  # at once: its first render state may follow within a look


def kind_of(assembly: Assembly) -> str:
    """The event an assembly's stored change makes: `finished`, `created` (queued, never started) or `progress`."""
    if assembly.status.is_final:
        return "finished"
    return "created" if assembly.phase is Phase.QUEUED and assembly.attempts == 0 else "progress"


class ChangeFeed:
    """Publishes on `hub` what any process stores, as read from the repository's change feed every `interval`
    seconds: a new index's count of sources, the latest state of each assembly changed, in the order of their
    changes, then those deleted."""

    def __init__(self, repo: AssemblyRepo, hub: EventHub, interval: float = 0.25) -> None:
        self.repo = repo
        self.hub = hub
        self.interval = interval
        self._revision: int | None = None  # read up to; None until the first look
        self._looking = asyncio.Lock()

    async def look(self) -> None:
        """Publish what was stored since the last look (the first look only notes where the records are)."""
        async with self._looking:
            if self._revision is None:
                self._revision = (await self.repo.changes_since(-1)).revision
                return
            changes = await self.repo.changes_since(self._revision)
            self._revision = changes.revision
            if self.hub.followers:
                if changes.index is not None:
                    self.hub.publish(Event("index", sources=changes.index))
                for assembly in changes.assemblies:
                    self.hub.publish(Event(kind_of(assembly), assembly))
                for gone in changes.deleted:
                    self.hub.publish(Event("deleted", gone))

    async def run(self) -> None:
        self.hub.catch_up = self.look
        try:
            while True:
                try:
                    await self.look()
                except Exception as error:  # the records cannot be read now: try again at the next look
                    log.warning("changes of assemblies not read: %s", error)
                await asyncio.sleep(self.interval)
        finally:
            self.hub.catch_up = None


@contextlib.asynccontextmanager
async def following(repo: AssemblyRepo, hub: EventHub) -> AsyncIterator[ChangeFeed]:
    """A change feed running until the block ends."""
    feed = ChangeFeed(repo, hub)
    task = asyncio.create_task(feed.run(), name="change feed")
    try:
        yield feed
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
