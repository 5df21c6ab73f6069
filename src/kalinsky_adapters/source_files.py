"""The sources folder: which files are in it, the path of an indexed source, whether it changed since indexing.

Every adapter that opens a source file asks this one object for its path, so that what may be reached by name is
decided in one place: a plain name of a regular file in the folder, never a path. The folder is a wall: a name is
followed through symbolic links, and only a regular file that is still inside the folder once they are resolved
can be read (a link to another file of the folder is fine; a link to anything outside never is).

A file's identity (`FileIdentity`) is its size, modification time and inode, and a BLAKE2b hash of sampled blocks
of its content: the first, middle and last `SAMPLE_BYTES` (the whole file when it is that small). Hashing reads
at most 192 KiB whatever the file's size, so it is cheap enough to check before and after every render.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
from pathlib import Path

from kalinsky_core.errors import RenderFailed
from kalinsky_core.model import FileIdentity

#: Bytes hashed at each of the three places a file is sampled.
SAMPLE_BYTES = 64 * 1024


class MissingSourceFile(LookupError):
    """An indexed source whose file is no longer a regular file inside the sources folder."""


class OutsideSourceFolder(MissingSourceFile):
    """A name that leads, through symbolic links, out of the sources folder."""


def _digest(fd: int, size: int) -> str:
    """BLAKE2b of the sampled blocks of an open file of `size` bytes."""
    hasher = hashlib.blake2b(digest_size=16)
    if size <= 3 * SAMPLE_BYTES:
        offsets = [0]
        length = size
    else:
        offsets = [0, (size - SAMPLE_BYTES) // 2, size - SAMPLE_BYTES]
        length = SAMPLE_BYTES
    for offset in offsets:
        hasher.update(os.pread(fd, length, offset))
    return hasher.hexdigest()


def _identity(found: os.stat_result, digest: str = "") -> FileIdentity:
    return FileIdentity(
        size=found.st_size, mtime_ns=found.st_mtime_ns, inode=found.st_ino, device=found.st_dev, digest=digest
    )


class SourceFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def names(self) -> list[str]:
        """Names of the not hidden files in the folder (no sub-folders), links included (whether a link may be
        read is `path`'s call, so that an index can say why it skips one); none if there is no folder."""
        if not self.folder.is_dir():
            return []
        with os.scandir(self.folder) as entries:
            return [e.name for e in entries if not e.name.startswith(".") and (e.is_symlink() or e.is_file())]

    def path(self, filename: str) -> Path:
        """The real path of a source file (links resolved), for reading. Only a plain name qualifies: no
        separators, no `..`, no hidden files; and what it leads to must be inside the folder
        (OutsideSourceFolder otherwise), so nothing outside the folder can be reached by name."""
        if not filename or filename != Path(filename).name or filename.startswith(".") or "\\" in filename:
            raise MissingSourceFile(filename)
        root = Path(os.path.realpath(self.folder))
        real = Path(os.path.realpath(self.folder / filename))
        if real == root or not real.is_relative_to(root):
            raise OutsideSourceFolder(filename)
        return real

    def existing(self, filename: str) -> Path:
        """`path`, for a regular file that is there; MissingSourceFile otherwise."""
        path = self.path(filename)
        try:
            found = os.stat(path, follow_symlinks=False)
        except OSError:
            raise MissingSourceFile(filename) from None
        if not stat.S_ISREG(found.st_mode):
            raise MissingSourceFile(filename)
        return path

    def stat_identity(self, filename: str) -> FileIdentity:
        """The cheap part of the file's identity (no content read). MissingSourceFile if it may not be read."""
        path = self.existing(filename)
        try:
            return _identity(os.stat(path, follow_symlinks=False))
        except OSError:
            raise MissingSourceFile(filename) from None

    def identity(self, filename: str) -> FileIdentity:
        """The file's whole identity, content digest included: read from the file opened once (no link followed
        at its last step) so that the stat and the content are the same file's. MissingSourceFile if it may not
        be read."""
        path = self.existing(filename)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            raise MissingSourceFile(filename) from None
        try:
            found = os.fstat(fd)
            if not stat.S_ISREG(found.st_mode):
                raise MissingSourceFile(filename)
            return _identity(found, _digest(fd, found.st_size))
        finally:
            os.close(fd)

    def verify(self, filename: str, size: int, identity: FileIdentity | None) -> Path:
        """The path of the source, if its file is still the one indexed (`identity`; only its `size` when it was
        indexed without one); RenderFailed, telling what changed, otherwise."""
        try:
            found = self.identity(filename) if identity is not None else self.stat_identity(filename)
            path = self.path(filename)
        except OutsideSourceFolder:
            raise RenderFailed(
                f"Source {filename} changed since it was indexed (it now leads out of the sources folder): reindex"
            ) from None
        except MissingSourceFile:
            raise RenderFailed(f"Source {filename} is gone since it was indexed: reindex") from None
        now = found.size
        if now != size:
            raise RenderFailed(f"Source {filename} changed since it was indexed ({size} bytes, now {now}): reindex")
        if identity is None:
            return path
        if (found.inode, found.device) != (identity.inode, identity.device):
            change = "another file took its place"
        elif found.mtime_ns != identity.mtime_ns:
            change = "it was modified"
        elif identity.digest and found.digest != identity.digest:
            change = "its content differs"
        else:
            return path
        raise RenderFailed(f"Source {filename} changed since it was indexed ({change}): reindex")

    async def check_unchanged(self, filename: str, size: int, identity: FileIdentity | None = None) -> Path:
        """Fail clearly, before ffmpeg does obscurely (and again once it has read the file, so that a file replaced
        meanwhile is caught), when a source went away or changed since indexing. The path to read it at."""
        return await asyncio.to_thread(self.verify, filename, size, identity)
