"""Running ffmpeg and ffprobe as subprocesses: no shell, no stdin, progress read live, stopped cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import attrs

#: How much of stderr is kept for error messages.
STDERR_TAIL = 4000
#: Seconds ffmpeg gets to exit after SIGTERM before it is killed.
TERMINATE_GRACE = 5.0

#: Processes of this Python process still running, by program name (`ffmpeg`, `ffprobe`): for metrics.
_RUNNING: Counter[str] = Counter()


def running(program: str) -> int:
    """How many processes of this program (its file name, e.g. `ffmpeg`) `run` has going right now."""
    return _RUNNING[program]


def _program(argv: Sequence[str]) -> str:
    return Path(argv[0]).name.removesuffix(".exe")


def file_url(path: Path | str) -> str:
    """An ffmpeg input/output name that is always read as a plain file (a name with `:` or a leading `-` too)."""
    return f"file:{Path(path).resolve()}"


def without_path(message: str, path: Path) -> str:
    """A tool's complaint about `path` without the path (`file:/srv/sources/a.mp4: Invalid data ...` is `Invalid
    data ...`; elsewhere the file is named by its name): answers never show where files are on the machine."""
    url = file_url(path)
    message = message.replace(f"{url}: ", "").replace(url, path.name)
    for shown in {str(path), str(Path(path).resolve())}:
        message = message.replace(shown, path.name)
    return message


@attrs.frozen
class Completed:
    returncode: int
    stdout: str
    stderr_tail: str
    progress: dict[str, str] = attrs.field(factory=dict)  # ffmpeg's last progress report, e.g. {"frame": "90"}
    output: bytes = attrs.field(default=b"", repr=False)  # stdout as it came, with `binary` (stdout is "" then)


async def _drain_stderr(stream: asyncio.StreamReader, keep: int) -> str:
    tail = b""
    while chunk := await stream.read(65536):
        tail = (tail + chunk)[-keep:]
    return tail.decode(errors="replace")


async def _read_progress(
    stream: asyncio.StreamReader, on_seconds: Callable[[float], Awaitable[None]]
) -> dict[str, str]:
    """Consume ffmpeg's `-progress pipe:1` blocks, reporting `out_time_us` (microseconds; may be N/A);
    return the last block."""
    block: dict[str, str] = {}
    async for raw in stream:
        key, _, value = raw.decode(errors="replace").strip().partition("=")
        block[key] = value
        if key == "out_time_us" and value.lstrip("-").isdigit():
            await on_seconds(max(int(value), 0) / 1_000_000)
    return block


async def run(
    argv: Sequence[str],
    on_progress_seconds: Callable[[float], Awaitable[None]] | None = None,
    nice: int = 0,
    binary: bool = False,
    stderr_kept: int = STDERR_TAIL,
) -> Completed:
    """Run a command to the end. With `on_progress_seconds`, stdout is ffmpeg's progress stream; `nice` lowers
    its CPU priority (work that may wait for others); with `binary`, stdout is kept as bytes in `output`;
    the last `stderr_kept` bytes of stderr are kept in `stderr_tail`.

    If the caller is cancelled, the process gets SIGTERM (ffmpeg then closes its output), then SIGKILL.
    """
    program = _program(argv)
    _RUNNING[program] += 1
    try:
        return await _run(argv, on_progress_seconds, nice, binary, stderr_kept)
    finally:
        _RUNNING[program] -= 1


async def _run(
    argv: Sequence[str],
    on_progress_seconds: Callable[[float], Awaitable[None]] | None,
    nice: int,
    binary: bool,
    stderr_kept: int,
) -> Completed:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    if nice:
        with contextlib.suppress(OSError):  # it may have ended already; priority is a courtesy
            os.setpriority(os.PRIO_PROCESS, process.pid, nice)
    assert process.stdout is not None and process.stderr is not None
    stdout_reader: asyncio.Future[bytes | dict[str, str]]
    if on_progress_seconds is None:
        stdout_reader = asyncio.ensure_future(process.stdout.read())
    else:
        stdout_reader = asyncio.ensure_future(_read_progress(process.stdout, on_progress_seconds))
    stderr_reader = asyncio.ensure_future(_drain_stderr(process.stderr, stderr_kept))
    try:
        out, err = await asyncio.gather(stdout_reader, stderr_reader)
        returncode = await process.wait()
    except BaseException:
        await _stop(process)
        for reader in (stdout_reader, stderr_reader):
            reader.cancel()
        raise
    if isinstance(out, dict):
        return Completed(returncode=returncode, stdout="", stderr_tail=err.strip(), progress=out)
    if binary:
        return Completed(returncode=returncode, stdout="", stderr_tail=err.strip(), output=out)
    return Completed(returncode=returncode, stdout=out.decode(errors="replace"), stderr_tail=err.strip())


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(asyncio.shield(process.wait()), TERMINATE_GRACE)
    except asyncio.TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
