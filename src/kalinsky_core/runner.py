"""Runs renders in the background: bounded concurrency, FIFO order, strong task references, clean shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from kalinsky_core.model import Assembly

log = logging.getLogger(__name__)


class RenderRunner:
    """Owns every background render of an application. `render` does the work for one assembly."""

    def __init__(self, render: Callable[[Assembly], Awaitable[object]], max_concurrent: int = 1) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self._render = render
        self._slots = asyncio.Semaphore(max_concurrent)
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def submit(self, assembly: Assembly) -> None:
        """Queue a render; renders start in submission order as slots free up."""
        if assembly.id in self._tasks:
            return
        task = asyncio.create_task(self._run(assembly), name=f"render {assembly.id}")
        self._tasks[assembly.id] = task
        task.add_done_callback(lambda _task: self._tasks.pop(assembly.id, None))

    async def _run(self, assembly: Assembly) -> None:
        async with self._slots:
            try:
                await self._render(assembly)
            except asyncio.CancelledError:
                raise
            except Exception:  # the render records its own failures; this is the last net
                log.exception("render of %s crashed", assembly.id)

    async def cancel(self, assembly_id: str) -> bool:
        """Stop a queued or running render and wait until it has ended; False if there was none."""
        task = self._tasks.get(assembly_id)
        if task is None:
            return False
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return True

    async def wait(self, assembly_id: str) -> None:
        """Wait until the render of this assembly (if one is queued or running) has ended."""
        task = self._tasks.get(assembly_id)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    @property
    def active(self) -> list[str]:
        """Ids of the renders queued or running."""
        return list(self._tasks)

    async def wait_idle(self) -> None:
        """Wait until every submitted render has ended."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel every queued or running render and wait for them to end."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
