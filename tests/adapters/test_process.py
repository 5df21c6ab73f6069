"""The subprocess runner's count of running programs (what the ffmpeg gauge of /metrics reads)."""

from __future__ import annotations

import asyncio

from media import FFMPEG, FFPROBE

from kalinsky_adapters import process


async def test_running_counts_each_program_while_it_runs_and_after_a_cancel() -> None:
    endless = [FFMPEG, "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=32x32:rate=5",
               "-f", "null", "-"]
    assert process.running("ffmpeg") == 0
    first, second = asyncio.ensure_future(process.run(endless)), asyncio.ensure_future(process.run(endless))
    probing = asyncio.ensure_future(process.run([FFPROBE, "-version"]))
    await probing
    await asyncio.sleep(0.2)
    assert process.running("ffmpeg") == 2 and process.running("ffprobe") == 0
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    assert process.running("ffmpeg") == 1
    second.cancel()
    await asyncio.gather(second, return_exceptions=True)
    assert process.running("ffmpeg") == 0
