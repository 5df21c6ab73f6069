"""The change feed on a real SQLite file written by two repositories (as two processes would): a follower is told
of the changes, deletes and reindexes that either stores after it started following, and of nothing before."""

from __future__ import annotations

import asyncio
from pathlib import Path

from samples import assembly, sources

from kalinsky_adapters.events import ChangeFeed, Event, EventHub
from kalinsky_adapters.store.repo import SqlRepo


async def next_event(queue: asyncio.Queue[Event]) -> tuple[str, str | int | None]:
    event = await asyncio.wait_for(queue.get(), 5)
    return event.kind, event.sources if event.assembly is None else event.assembly.id


async def test_a_follower_is_told_what_any_process_stores_after_it_follows(tmp_path: Path) -> None:
    async with SqlRepo.at_path(tmp_path / "k.db") as here, SqlRepo.at_path(tmp_path / "k.db") as elsewhere:
        hub = EventHub()
        feed = ChangeFeed(here, hub, interval=0.05)
        running = asyncio.create_task(feed.run())
        try:
            await asyncio.sleep(0.2)
            await here.replace_sources(sources())  # before anyone follows: told to nobody
            stored = assembly(await here.next_sequence())
            await here.add(stored)
            await here.finish(stored.completed(1.0), None)
            async with hub.follow() as queue:
                assert await elsewhere.delete(stored.id)
                assert await next_event(queue) == ("deleted", stored.id)
                await elsewhere.replace_sources(sources()[:1])
                assert await next_event(queue) == ("index", 1)
                await asyncio.sleep(0.2)
                assert queue.empty()
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
