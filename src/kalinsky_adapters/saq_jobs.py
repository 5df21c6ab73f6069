"""Render jobs on SAQ's PostgreSQL queue, for workers on several machines.

Why SAQ: it is asyncio-native like the rest of Kalinsky, keeps its jobs in the PostgreSQL that already holds the
records (one service to run), and has what render jobs need: abort of a running job (a cancel reaches its worker
within a second), heartbeats with a sweep that takes a job from a worker that died and queues it again, and
retries. Its defaults do not fit renders (a 10 s timeout, heartbeats off), so each job is enqueued with no timeout
and a heartbeat as long as a render lease.

How a worker takes jobs: SAQ's PostgreSQL queue marks jobs active as it takes them out of the table into a buffer
in the process, for the slots waiting for one. Out of the box it takes them both for the waiting slot and every
second for its own upkeep, waking the slot with a NOTIFY on a LISTEN the slot sets up as it starts waiting: a slot
whose LISTEN was not yet in place (a worker just started, or back from a job) misses that wake-up, and the job
waits, active but run by nobody, until the sweep queues it again a heartbeat (a lease) later; and it may take
more jobs than slots wait for. So here the waiting slot polls for jobs (it finds in the buffer whatever was put
there within a poll), no job is taken out while the buffer still holds some, and a worker that stops queues again
the jobs it took but had not started.

The queue only hands jobs out; who renders what is settled by the leases in the records (`kalinsky_core.jobs`).
So a job handed out twice, or one whose assembly another process is rendering (a `kalinsky assemble --wait` that
found no worker), ends at once; and every worker also queues, now and then, the assemblies that the records hold
but nobody renders (queued while the queue could not be reached, or left by a render started outside a worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

from saq import Worker
from saq.job import Job, Status
from saq.queue.postgres import PostgresQueue
from saq.types import PartialTimersDict

from kalinsky_core.jobs import Leases, Renderer
from kalinsky_core.ports import AssemblyRepo

log = logging.getLogger(__name__)

#: The SAQ function that renders one assembly.
FUNCTION = "render"
#: Seconds between two sweeps for jobs whose worker stopped beating.
SWEEP_S = 5
#: Seconds between two looks for assemblies the records hold that nobody renders.
RECONCILE_S = 10.0
#: Times a swept job is queued again (each takeover counts one).
RETRIES = 20
#: Seconds between two looks for queued jobs of a worker slot that waits for one.
POLL_S = 0.5


def queue_url(url: str) -> str:
    """A PostgreSQL URL as psycopg takes it (no SQLAlchemy driver suffix)."""
    return re.sub(r"^(postgres|postgresql)(\+\w+)?://", "postgresql://", url)


class RenderJobQueue(PostgresQueue):
    """SAQ's PostgreSQL queue, taking jobs out of the table only for worker slots that wait for one (see above),
    and knowing which of those it took its worker has not started."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.taken: dict[str, Job] = {}  # handed to a worker slot that has not started them yet

    async def _dequeue(self) -> None:
        if not self._job_queue.empty():
            return  # the slots waiting take those first: taking more would leave some to nobody
        await super()._dequeue()

    async def dequeue(self, timeout: float = 0.0, poll_interval: float = 0.0) -> Job | None:
        job = await super().dequeue(timeout, poll_interval)
        if job is not None:
            self.taken[job.key] = job
        return job

    def running(self, job: Job) -> None:
        """The worker runs `job` now: from here on it ends it, or queues it again if it is stopped."""
        self.taken.pop(job.key, None)

    async def hand_back(self) -> list[str]:
        """Once the worker stopped: queue again what it took and did not start (buffered for a slot, or taken by
        a slot stopped before it ran it); their keys."""
        left = list(self.taken.values())
        self.taken.clear()
        while not self._job_queue.empty():
            left.append(self._job_queue.get_nowait())
        handed = []
        for job in left:
            if await self.get_job_status(job.key) == Status.ACTIVE:
                await self.retry(job, error="worker stopped")
                handed.append(job.key)
        return handed


class SaqJobs:
    """A RenderQueue on SAQ, and (with `renders` > 0) this process's SAQ worker rendering up to that many at once."""

    def __init__(
        self, url: str, repo: AssemblyRepo, renderer: Renderer, renders: int, leases: Leases | None = None
    ) -> None:
        self.queue = RenderJobQueue(url=queue_url(url), name="kalinsky")
        self.repo = repo
        self.renderer = renderer
        self.renders = renders
        self.leases = leases or renderer.leases
        self._worker: Worker[Any] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def connect(self) -> None:
        await self.queue.connect()

    def start(self) -> None:
        if self.renders < 1 or self._worker is not None:
            return
        worker: Worker[Any] = Worker(
            self.queue,
            [(FUNCTION, self._render)],
            id=self.renderer.worker,
            concurrency=self.renders,
            timers=PartialTimersDict(schedule=1, worker_info=10, sweep=SWEEP_S, abort=1),
            poll_interval=POLL_S,
            before_process=self._started,
            # stopping: renders are stopped at once and handed back (the next worker takes them from scratch)
            shutdown_grace_period_s=0,
            cancellation_hard_deadline_s=10.0,
        )
        worker.SIGNALS = []  # the process that runs the worker handles its signals
        self._worker = worker
        self._tasks = [
            asyncio.create_task(worker.start(), name="saq worker"),
            asyncio.create_task(self._reconcile(), name="saq reconcile"),
        ]

    async def submit(self, assembly_id: str) -> None:
        await self.queue.enqueue(
            FUNCTION,
            key=assembly_id,
            assembly_id=assembly_id,
            timeout=0,
            heartbeat=int(self.leases.seconds),
            retries=RETRIES,
        )

    async def abort(self, assembly_id: str) -> None:
        job = await self.queue.job(assembly_id)
        if job is not None and not job.completed:
            await self.queue.abort(job, error="cancelled")

    async def aclose(self) -> None:
        for task in self._tasks[1:]:
            task.cancel()
        if self._worker is not None:
            await self._worker.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            for key in await self.queue.hand_back():
                log.info("%s handed job %s back to the queue", self.renderer.worker, key)
        self._tasks, self._worker = [], None
        with contextlib.suppress(Exception):
            await self.repo.drop_worker(self.renderer.worker)
        await self.queue.disconnect()

    async def _started(self, ctx: dict[str, Any]) -> None:
        self.queue.running(ctx["job"])

    async def _render(self, ctx: dict[str, Any], *, assembly_id: str) -> str | None:
        job = ctx["job"]
        finished = await self.renderer.run(assembly_id, beat=job.update)
        return None if finished is None else finished.status.value

    async def _reconcile(self) -> None:
        """Note that this worker is alive, and queue what the records hold that nobody renders."""
        while True:
            try:
                await self.repo.beat_worker(self.renderer.worker, self.renders)
                for assembly_id in await self.repo.claimable():
                    await self.submit(assembly_id)  # a job still queued or active for it is left as it is
            except Exception as error:
                log.warning("could not look for unqueued renders: %s", error)
            await asyncio.sleep(min(RECONCILE_S, self.leases.worker_alive / 3))
