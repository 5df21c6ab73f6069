"""`KALINSKY_KEEP_DAYS`: finished renders older than that are deleted at startup and then every hour."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from kalinsky_core.services import AssemblyDesk

log = logging.getLogger(__name__)

#: Seconds between two passes.
INTERVAL = 3600.0


async def prune_forever(desk: AssemblyDesk, days: float, interval: float) -> None:
    while True:
        try:
            await desk.delete_older_than(days)
        except Exception:  # a failed pass (a locked file, a full disk) must not end the next ones
            log.exception("deleting renders older than %g days failed", days)
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def pruning(desk: AssemblyDesk, days: float | None, interval: float = INTERVAL) -> AsyncIterator[None]:
    """While the app runs: the first pass now (before requests are served), then one every `interval` seconds."""
    if days is None:
        yield
        return
    await desk.delete_older_than(days)
    task = asyncio.create_task(_later(desk, days, interval), name="retention")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _later(desk: AssemblyDesk, days: float, interval: float) -> None:
    await asyncio.sleep(interval)
    await prune_forever(desk, days, interval)
