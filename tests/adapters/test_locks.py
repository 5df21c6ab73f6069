"""The reindex lock holds across processes: a second process waits until the first lets go."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from kalinsky_adapters.locks import FileLock

HOLD = """
import asyncio, sys, time
from pathlib import Path
from kalinsky_adapters.locks import FileLock

async def main():
    async with FileLock(Path(sys.argv[1]))():
        print("held", flush=True)
        await asyncio.sleep(float(sys.argv[2]))

asyncio.run(main())
"""


async def test_a_lock_held_by_another_process_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "data" / "reindex.lock"
    other = subprocess.Popen([sys.executable, "-c", HOLD, str(path), "0.6"], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "held"
        started = time.monotonic()
        async with FileLock(path)():
            waited = time.monotonic() - started
        assert waited >= 0.3
    finally:
        other.wait(10)


async def test_coroutines_of_one_process_take_turns_and_a_cancelled_wait_gives_up(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "reindex.lock")
    order: list[str] = []

    async def hold(name: str) -> None:
        async with lock():
            order.append(f"{name} in")
            await asyncio.sleep(0.05)
            order.append(f"{name} out")

    await asyncio.gather(hold("a"), hold("b"))
    assert order == ["a in", "a out", "b in", "b out"]
    async with lock():
        waiting = asyncio.ensure_future(hold("c"))
        await asyncio.sleep(0.1)
        waiting.cancel()
    async with lock():  # the cancelled waiter left nothing held
        pass
    assert "c in" not in order
