"""Render jobs: every render has one owner at a time.

The owner is a worker (`host:pid`, or any name unique among the processes sharing the records) that claimed the
assembly in the records and holds a lease on it, renewed every `Leases.beat` seconds while it renders. While the
lease is live nobody else renders the assembly, touches its work folder or records its end. A worker that dies stops
renewing; once its lease has run out (`Leases.seconds`) the next worker to look claims the assembly and renders it
from scratch. A worker that stops on purpose hands its renders back at once. A cancel is recorded on the assembly,
which ends every lease on it: the owner sees that at its next renewal and stops.

`Renderer` is what any worker does with one job. `LocalWorker` runs jobs in this process: those submitted here,
and any the records hold that nobody renders (queued by another process, or left by a worker that died). Distributed
queues (adapters) call a `Renderer` from their own workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from kalinsky_core.model import Assembly, AssemblyStatus
from kalinsky_core.ports import AssemblyRepo

log = logging.getLogger(__name__)

#: Called with each assembly whose end a worker recorded.
FinishedListener = Callable[[Assembly], None]
#: Called at every renewal of a lease (e.g. to tell a queue the job is alive).
Beat = Callable[[], Awaitable[None]]


@attrs.frozen
class Leases:
    """How long a worker's hold on a render lasts without renewal, and how often it renews it. The renewal is
    also when a worker learns that its render was cancelled, so `beat` bounds how long a cancel takes."""

    seconds: float = 20.0
    beat: float = 2.0
    #: A worker that has not said it is alive for this long is taken for gone.
    worker_alive: float = 15.0


#: Render one claimed assembly as `worker`, storing its progress and end only while it holds the lease; the final
#: state it recorded, or None if it no longer held the lease when it ended.
RenderClaimed = Callable[[Assembly, str], Awaitable[Assembly | None]]


class Renderer:
    """Renders one job at a time for `worker`: claim, render while renewing the lease, hand back when stopped."""

    def __init__(
        self,
        repo: AssemblyRepo,
        render: RenderClaimed,
        worker: str,
        leases: Leases = Leases(),
        on_finished: FinishedListener | None = None,
    ) -> None:
        self.repo = repo
        self.render = render
        self.worker = worker
        self.leases = leases
        self.on_finished = on_finished

    async def run(self, assembly_id: str, beat: Beat | None = None) -> Assembly | None:
        """Render the assembly if no other worker holds it. Its record afterwards (None if it is gone), or None
        at once if another worker holds it or it has finished.

        Cancelled (the worker stops), the render is stopped, its files discarded and the assembly handed back."""
        # A claim goes through once asked (a repository may finish a database call its caller gave up on): if this
        # worker is stopped meanwhile, what it claimed is handed back, not left held until its lease runs out.
        claiming = asyncio.ensure_future(self.repo.claim(assembly_id, self.worker, self.leases.seconds))
        try:
            claimed = await asyncio.shield(claiming)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                if await claiming is not None and await self.repo.release(assembly_id, self.worker):
                    log.info("%s handed %s back", self.worker, assembly_id)
            raise
        if claimed is None:
            return None
        log.info("%s renders %s (attempt %d)", self.worker, assembly_id, claimed.attempts)
        render = asyncio.ensure_future(self.render(claimed, self.worker))
        holding = asyncio.ensure_future(self._hold(assembly_id, beat))
        try:
            await asyncio.wait({render, holding}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            await _stop(render, holding)
            with contextlib.suppress(Exception):
                if await self.repo.release(assembly_id, self.worker):
                    log.info("%s handed %s back", self.worker, assembly_id)
            raise
        if render.done():
            await _stop(holding)
            finished = render.result()
            if finished is not None and self.on_finished is not None:
                self.on_finished(finished)
            return await self.repo.get(assembly_id)
        await _stop(render)  # the lease is lost: cancelled, or taken over after it ran out
        log.info("%s stopped rendering %s: no longer its owner", self.worker, assembly_id)
        return await self.repo.get(assembly_id)

    async def _hold(self, assembly_id: str, beat: Beat | None) -> None:
        """Renew the lease every `beat` seconds; return once it is lost. A renewal that fails (the records cannot
        be written now) is tried again at the next beat: the lease may run out meanwhile, which the next renewal
        finds."""
        while True:
            await asyncio.sleep(self.leases.beat)
            try:
                if not await self.repo.renew(assembly_id, self.worker, self.leases.seconds):
                    return
            except Exception as error:
                log.warning("%s could not renew its lease on %s: %s", self.worker, assembly_id, error)
                continue
            if beat is not None:
                try:
                    await beat()
                except Exception as error:
                    log.warning("%s could not report %s alive: %s", self.worker, assembly_id, error)


async def _stop(*tasks: asyncio.Future[Any]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class LocalWorker:
    """Runs up to `renders` jobs at once in this process, oldest first: those submitted here, and any other the
    records hold that nobody renders. It looks for such jobs every `poll` seconds (at once when one is submitted)
    and notes in the records that it is alive."""

    def __init__(
        self,
        repo: AssemblyRepo,
        renderer: Renderer,
        renders: int,
        poll: float = 2.0,
        is_gone: Callable[[str], bool] | None = None,
    ) -> None:
        """`is_gone` tells a worker known to be gone (a process of this machine that no longer runs): as it
        starts, this worker takes back at once the renders such workers held, without waiting for their leases to
        run out."""
        if renders < 1:
            raise ValueError("a worker renders at least one assembly at a time")
        self.is_gone = is_gone
        self.repo = repo
        self.renderer = renderer
        self.renders = renders
        self.poll = poll
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._waiting = 0  # renders nobody held at the last look that this worker had no slot for
        self._wake = asyncio.Event()
        self._looking: asyncio.Task[None] | None = None

    @property
    def worker(self) -> str:
        return self.renderer.worker

    def start(self) -> None:
        if self._looking is None:
            self._looking = asyncio.create_task(self._look(), name=f"worker {self.worker}")

    def submit(self, assembly_id: str) -> None:
        """Look for jobs now (the one just queued among them)."""
        self._wake.set()

    @property
    def active(self) -> list[str]:
        """Ids of the assemblies rendering here."""
        return list(self._tasks)

    @property
    def depth(self) -> int:
        """Renders running here, and those waiting for a worker at the last look."""
        return len(self._tasks) + self._waiting

    async def cancel(self, assembly_id: str) -> bool:
        """Stop the render of this assembly if it runs here, and wait until it has stopped."""
        task = self._tasks.get(assembly_id)
        if task is None:
            return False
        await _stop(task)
        return True

    async def wait(self, assembly_id: str) -> None:
        task = self._tasks.get(assembly_id)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    async def wait_idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop looking for jobs, hand back the renders running here, and note that this worker is gone."""
        if self._looking is not None:
            await _stop(self._looking)
            self._looking = None
        await _stop(*self._tasks.values())
        with contextlib.suppress(Exception):
            await self.repo.drop_worker(self.worker)

    async def _take_back(self) -> None:
        if self.is_gone is None:
            return
        for assembly in await self.repo.list(status=AssemblyStatus.PROCESSING):
            if assembly.worker and assembly.worker != self.worker and self.is_gone(assembly.worker):
                if await self.repo.release(assembly.id, assembly.worker):
                    log.info("%s takes back %s from %s, which is gone", self.worker, assembly.id, assembly.worker)

    async def _look(self) -> None:
        try:
            await self._take_back()
        except Exception as error:
            log.warning("%s could not take back the renders of gone workers: %s", self.worker, error)
        while True:
            try:
                await self.repo.beat_worker(self.worker, self.renders)
                waiting = [a for a in await self.repo.claimable() if a not in self._tasks]
                while waiting and len(self._tasks) < self.renders:
                    self._start(waiting.pop(0))
                self._waiting = len(waiting)
            except Exception as error:
                log.warning("%s could not look for renders: %s", self.worker, error)
            with contextlib.suppress(TimeoutError):  # asyncio.timeout, not wait_for: that may swallow a cancel
                async with asyncio.timeout(self.poll):
                    await self._wake.wait()
            self._wake.clear()

    def _start(self, assembly_id: str) -> None:
        task = asyncio.create_task(self._run(assembly_id), name=f"render {assembly_id}")
        self._tasks[assembly_id] = task

        def ended(_task: asyncio.Task[None]) -> None:
            if self._tasks.get(assembly_id) is _task:
                del self._tasks[assembly_id]
            self._wake.set()  # a slot is free

        task.add_done_callback(ended)

    async def _run(self, assembly_id: str) -> None:
        try:
            await self.renderer.run(assembly_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # the render records its own failures; this is the last net
            log.exception("render of %s crashed", assembly_id)


class LocalQueue:
    """The records as the queue, for processes that share one database and no queue service: every worker looks
    for renders there. Submitting wakes this process's worker (if it has one); aborting stops the render if it runs
    here (elsewhere, its owner sees the cancel at its next renewal)."""

    def __init__(self, worker: LocalWorker | None = None) -> None:
        self.worker = worker

    def start(self) -> None:
        if self.worker is not None:
            self.worker.start()

    async def submit(self, assembly_id: str) -> None:
        if self.worker is not None:
            self.worker.submit(assembly_id)

    async def abort(self, assembly_id: str) -> None:
        if self.worker is not None:
            await self.worker.cancel(assembly_id)
