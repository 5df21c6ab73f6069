"""PrioritySlots: a bounded number of holders, freed slots to the most urgent waiter, nothing lost to cancels."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalinsky_adapters.slots import PrioritySlots


async def test_freed_slots_go_to_the_lowest_priority_then_first_come() -> None:
    slots = PrioritySlots(1)
    order: list[str] = []
    release = asyncio.Event()

    async def job(name: str, priority: tuple[float, ...]) -> None:
        async with slots.hold(priority):
            order.append(name)
            if name == "first":
                await release.wait()

    first = asyncio.create_task(job("first", (5,)))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(job(name, priority)) for name, priority in
               [("video long", (1, -90)), ("video short", (1, -3)), ("audio", (0,)), ("video long too", (1, -90))]]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *waiting)
    assert order == ["first", "audio", "video long", "video long too", "video short"]


async def test_a_cancelled_waiter_takes_no_slot() -> None:
    slots = PrioritySlots(1)
    held = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with slots.hold():
            held.set()
            await release.wait()

    async def waiter() -> None:
        async with slots.hold((0,)):
            pass

    running = asyncio.create_task(holder())
    await held.wait()
    cancelled = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    cancelled.cancel()
    release.set()
    await running
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    async with asyncio.timeout(1):  # the slot is free again
        async with slots.hold():
            pass


async def test_a_slot_granted_to_a_task_being_cancelled_passes_on() -> None:
    slots = PrioritySlots(1)
    entered: list[str] = []

    async def job(name: str) -> None:
        async with slots.hold():
            entered.append(name)

    async with slots.hold():
        unlucky = asyncio.create_task(job("unlucky"))
        next_one = asyncio.create_task(job("next"))
        await asyncio.sleep(0)
    unlucky.cancel()  # granted on release above, cancelled before it could run
    await asyncio.gather(unlucky, next_one, return_exceptions=True)
    assert entered == ["next"]


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3)), min_size=1, max_size=20))
def test_every_slot_is_used_and_never_more(size: int, jobs: list[tuple[int, int]]) -> None:
    async def main() -> int:
        slots = PrioritySlots(size)
        holding = peak = 0

        async def job(priority: int, pauses: int) -> None:
            nonlocal holding, peak
            async with slots.hold((priority,)):
                holding += 1
                peak = max(peak, holding)
                for _ in range(pauses):
                    await asyncio.sleep(0)
                holding -= 1

        await asyncio.gather(*(job(priority, pauses) for priority, pauses in jobs))
        return peak

    assert asyncio.run(main()) == min(size, len(jobs))
