"""An IndexLock that holds across processes: the server and a command-line reindex never interleave."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path

#: Seconds between two tries for a lock another process holds.
POLL_SECONDS = 0.05


class FileLock:
    """An exclusive `flock` on a file, waited for without blocking the event loop (and given up on cancel)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._here = asyncio.Lock()  # one holder in this process; flock alone would let its coroutines share it

    def _try(self) -> int | None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        async with self._here:
            while (fd := await asyncio.to_thread(self._try)) is None:
                await asyncio.sleep(POLL_SECONDS)
            try:
                yield
            finally:
                os.close(fd)  # closing the file releases the lock
