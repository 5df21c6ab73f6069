"""Readiness: whether this service can do its work now (the database answers, ffmpeg runs, folders take files)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Awaitable
from pathlib import Path

import attrs

from kalinsky_adapters import process
from kalinsky_core.ports import AssemblyRepo

#: Seconds one check may take before it counts as failed.
CHECK_TIMEOUT = 5.0


@attrs.frozen
class Check:
    ok: bool
    detail: str


async def _timed(name: str, check: Awaitable[str]) -> tuple[str, Check]:
    try:
        return name, Check(ok=True, detail=await asyncio.wait_for(check, CHECK_TIMEOUT))
    except asyncio.TimeoutError:
        return name, Check(ok=False, detail=f"no answer within {CHECK_TIMEOUT:g} s")
    except Exception as error:  # any failure is the answer, not a crash of the probe
        return name, Check(ok=False, detail=str(error) or type(error).__name__)


async def _database(repo: AssemblyRepo) -> str:
    sources = await repo.list_sources()
    return "not indexed yet" if sources is None else f"{len(sources)} sources indexed"


async def _program(path: str) -> str:
    done = await process.run([path, "-hide_banner", "-version"])
    if done.returncode != 0:
        raise RuntimeError(f"{path} -version exited {done.returncode}: {done.stderr_tail[-200:]}")
    return done.stdout.splitlines()[0] if done.stdout else path


async def _writable(folder: Path) -> str:
    def probe() -> str:
        descriptor, name = tempfile.mkstemp(prefix=".ready-", dir=folder)
        os.close(descriptor)
        os.unlink(name)
        return f"{folder} is writable"

    return await asyncio.to_thread(probe)


@attrs.frozen
class Readiness:
    """The checks of one service."""

    repo: AssemblyRepo
    ffmpeg: str
    ffprobe: str
    output_dir: Path
    data_dir: Path

    async def check(self) -> dict[str, Check]:
        """Every check by name, run at once."""
        checks = await asyncio.gather(
            _timed("database", _database(self.repo)),
            _timed("ffmpeg", _program(self.ffmpeg)),
            _timed("ffprobe", _program(self.ffprobe)),
            _timed("output_dir", _writable(self.output_dir)),
            _timed("data_dir", _writable(self.data_dir)),
        )
        return dict(checks)
