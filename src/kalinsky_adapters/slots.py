"""A limit on how many jobs run at once, handing free slots to the waiting job that matters most."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator


class PrioritySlots:
    """Like `asyncio.Semaphore(size)`, but a freed slot goes to the waiter with the lowest `priority` (ties: the
    one that asked first). Renders use it to start the work that others wait for first, and long work before
    short work, so that both cores stay busy to the end."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("at least one slot")
        self._free = size
        self._waiting: list[tuple[tuple[float, ...], int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @contextlib.asynccontextmanager
    async def hold(self, priority: tuple[float, ...] = ()) -> AsyncIterator[None]:
        await self._acquire(priority)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, priority: tuple[float, ...]) -> None:
        if self._free and not self._waiting:
            self._free -= 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._order), granted))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():  # the slot came with the cancellation: pass it on
                self._release()
            raise

    def _release(self) -> None:
        while self._waiting:
            _priority, _order, granted = heapq.heappop(self._waiting)
            if not granted.done():  # waiters that were cancelled are skipped
                granted.set_result(None)
                return
        self._free += 1
