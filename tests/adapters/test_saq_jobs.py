"""Render jobs on SAQ's PostgreSQL queue (a real PostgreSQL, real SAQ workers in this process, real leases in the
records): a job starts within a second or two of being queued, whether it waited for a worker to start or was
taken by a worker stopped at any moment around then, never a lease later when SAQ's sweep would queue it again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from kalinsky_adapters.saq_jobs import SaqJobs
from kalinsky_adapters.store.repo import SqlRepo
from kalinsky_core.jobs import Leases, Renderer
from kalinsky_core.model import Assembly, AssemblyStatus, Clip, Phase

#: Well below a lease (20 s: SAQ's sweep queues a job again once its heartbeat, a lease, has gone by unrenewed), and
#: generous for a loaded machine: a pickup takes a poll (half a second) once the worker runs.
PICKUP_S = 6.0
#: How often a waiting worker looks for jobs (kalinsky_adapters.saq_jobs.POLL_S).
POLL_S = 0.5


class Farm:
    """Workers of one PostgreSQL database, each with a real Renderer whose render notes when it starts, then holds
    the render a moment and records its end."""

    def __init__(self, url: str, repo: SqlRepo) -> None:
        self.url, self.repo = url, repo
        self.started: dict[str, tuple[float, str]] = {}
        self.seq = 0

    async def render(self, claimed: Assembly, worker: str) -> Assembly | None:
        self.started.setdefault(claimed.id, (time.monotonic(), worker))
        await asyncio.sleep(0.3)
        done = claimed.completed(1.0)
        return done if await self.repo.finish(done, None, worker=worker) else None

    async def jobs(self, name: str, renders: int = 1) -> SaqJobs:
        jobs = SaqJobs(self.url, self.repo, Renderer(self.repo, self.render, name, Leases()), renders)
        await jobs.connect()
        return jobs

    async def assembly(self) -> str:
        self.seq += 1
        assembly = Assembly(id=f"asm_{self.seq:03d}", name=None, preview=True,
                            clips=(Clip(pos=1, filename="a.mp4", start=0, end=1),),
                            created=f"2026-01-01T00:00:{self.seq:02d}.000Z")
        await self.repo.add(assembly)
        return assembly.id

    async def started_by(self, assembly_id: str, since: float) -> tuple[float, str]:
        """Seconds from `since` to the start of the assembly's render, and its worker; fails after PICKUP_S."""
        deadline = since + PICKUP_S
        while assembly_id not in self.started:
            assert time.monotonic() < deadline, f"{assembly_id} was not picked up within {PICKUP_S} s"
            await asyncio.sleep(0.01)
        at, worker = self.started[assembly_id]
        return at - since, worker

    async def done(self, assembly_id: str) -> Assembly:
        deadline = time.monotonic() + PICKUP_S
        while (found := await self.repo.get(assembly_id)) is not None and found.status is AssemblyStatus.PROCESSING:
            assert time.monotonic() < deadline, found
            await asyncio.sleep(0.02)
        assert found is not None
        return found


@pytest.fixture
async def farm(postgres_url: str) -> AsyncIterator[Farm]:
    async with SqlRepo(postgres_url) as repo:
        yield Farm(postgres_url, repo)


async def test_a_job_queued_before_its_worker_starts_is_rendered_at_once_round_after_round(farm: Farm) -> None:
    api = await farm.jobs("api", renders=0)
    try:
        for round in range(12):
            assembly_id = await farm.assembly()
            queued = time.monotonic()
            await api.submit(assembly_id)
            await asyncio.sleep(0.03 * (round % 4))
            worker = await farm.jobs(f"worker-{round}")
            worker.start()
            await worker.submit(assembly_id)  # as it starts, a worker queues again what the records hold unfinished
            try:
                took, by = await farm.started_by(assembly_id, queued)
                assert by == f"worker-{round}" and took < PICKUP_S
                done = await farm.done(assembly_id)
                assert (done.status, done.attempts) == (AssemblyStatus.DONE, 1)
            finally:
                await worker.aclose()
    finally:
        await api.aclose()


async def test_a_job_taken_by_a_worker_that_stops_is_rendered_by_the_next_at_once(farm: Farm) -> None:
    api = await farm.jobs("api", renders=0)
    try:
        for round in range(15):
            assembly_id = await farm.assembly()
            first = await farm.jobs(f"first-{round}")
            first.start()
            await api.submit(assembly_id)
            # stopped before, as or just after it takes the job (a poll, then the claim of the record)
            await asyncio.sleep(POLL_S * 0.9 + 0.02 * round)
            stopping = time.monotonic()
            await asyncio.wait_for(first.aclose(), 15)
            left = await farm.repo.get(assembly_id)
            assert left is not None
            if left.status is AssemblyStatus.DONE:
                continue  # it rendered it all before it stopped
            assert (left.status, left.phase, left.worker) == (AssemblyStatus.PROCESSING, Phase.QUEUED, None)
            farm.started.pop(assembly_id, None)
            second = await farm.jobs(f"second-{round}")
            second.start()
            try:
                took, by = await farm.started_by(assembly_id, stopping)
                assert by == f"second-{round}" and took < PICKUP_S
                assert (await farm.done(assembly_id)).status is AssemblyStatus.DONE
            finally:
                await second.aclose()
    finally:
        await api.aclose()


async def test_a_job_a_stopping_worker_took_but_did_not_start_is_queued_again(farm: Farm) -> None:
    api = await farm.jobs("api", renders=0)
    try:
        assembly_id = await farm.assembly()
        await api.submit(assembly_id)
        first = await farm.jobs("first")
        taken = await first.queue.dequeue(poll_interval=0.1)  # what a worker slot does first
        assert taken is not None and taken.key == assembly_id
        assert (await api.queue.job(assembly_id)).status.value == "active"
        await asyncio.wait_for(first.aclose(), 15)  # stopped before the slot ran it
        assert (await api.queue.job(assembly_id)).status.value == "queued"
        second = await farm.jobs("second")
        second.start()
        try:
            took, by = await farm.started_by(assembly_id, time.monotonic())
            assert by == "second"
            assert (await farm.done(assembly_id)).attempts == 1
        finally:
            await second.aclose()
    finally:
        await api.aclose()
