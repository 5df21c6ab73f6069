"""A cache of the files renders make: video pieces, clip sounds, audio tracks and whole results.

Editing is iterative: a user renders, watches, moves one cut and renders again. Each file a render makes is
decided by one ffmpeg command and by the files it reads, so the cache keys a file by its *recipe*: the command with
every path in it replaced by what identifies that path's content (a source by its name, size, modification time
and inode; a list of pieces by the keys of the pieces), plus the Kalinsky version and the ffmpeg binary that ran it.
A render asks for each file by its recipe and gets the cached one (hard-linked, or copied across file systems)
when there is one, so a moved cut re-makes only the pieces it changes, and the same assembly again costs nothing.

Entries are written whole and then renamed into place (a half-written file is never an entry), each with the size
and BLAKE2 digest of its content, checked on every use: a damaged or truncated entry is removed and made again,
never joined. The cache holds at most `max_bytes`; the least recently used entries go first. Several renders (and
processes) may share it: two that make the same file at once both succeed, and one of their files stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Awaitable, Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path

log = logging.getLogger(__name__)

#: Bumped whenever what a recipe produces changes without its command changing.
FORMAT = 1
_CHUNK = 1 << 20


def _version() -> str:
    try:
        return metadata.version("kalinsky")
    except metadata.PackageNotFoundError:
        return "unknown"


def file_identity(path: Path) -> str:
    """What identifies a file's content without reading it: name, size, modification time, inode."""
    stat = path.stat()
    return f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_dev}:{stat.st_ino}"


def _digest(path: Path) -> str:
    hasher = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def _place(source: Path, destination: Path) -> None:
    """`destination` becomes a file with `source`'s content: a hard link where possible, else a copy."""
    destination.unlink(missing_ok=True)
    try:
        os.link(source, destination)
    except OSError:
        shutil.copyfile(source, destination)


class SegmentCache:
    """Files keyed by recipe, in `folder`, at most `max_bytes` of them (0 turns the cache off)."""

    def __init__(self, folder: Path, max_bytes: int, ffmpeg: str = "ffmpeg") -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self._salt = json.dumps([FORMAT, _version(), self._binary(ffmpeg)])
        self._keys: dict[str, str] = {}  # files this process placed or made → their keys
        self._making: dict[str, asyncio.Lock] = {}
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _binary(ffmpeg: str) -> str:
        path = shutil.which(ffmpeg) or ffmpeg
        try:
            return file_identity(Path(path))
        except OSError:
            return path

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def recipe(self, argv: Sequence[str], paths: Mapping[str, str]) -> str:
        """The key of what `argv` makes: each argument that names one of `paths` is replaced by its identity."""
        parts = [paths.get(arg, arg) for arg in argv[1:]]  # argv[0], where ffmpeg lives, is in the salt
        return hashlib.sha256(json.dumps([self._salt, parts]).encode()).hexdigest()

    def key_of(self, path: Path | str) -> str | None:
        """The key of a file this cache placed or made (None: unknown, e.g. made with the cache off)."""
        return self._keys.get(str(path))

    def _entry(self, key: str) -> Path:
        return self.folder / key[:2] / key

    def _sum(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.sum"

    def _take(self, key: str, destination: Path) -> bool:
        """Place the entry at `destination` if there is a sound one; a damaged one is removed."""
        entry, check = self._entry(key), self._sum(key)
        try:
            size, digest = check.read_text().split()
            if entry.stat().st_size != int(size) or _digest(entry) != digest:
                raise ValueError("damaged")
        except FileNotFoundError:
            return False
        except (OSError, ValueError):
            log.warning("cache entry %s is damaged: made again", key)
            entry.unlink(missing_ok=True)
            check.unlink(missing_ok=True)
            return False
        _place(entry, destination)
        os.utime(entry)  # recently used
        return True

    def _keep(self, key: str, made: Path) -> None:
        """Make `made` an entry: linked (or copied) aside, then renamed into place with its check."""
        entry = self._entry(key)
        entry.parent.mkdir(parents=True, exist_ok=True)
        partial = entry.with_name(f".{key}.{os.getpid()}.{id(made)}.partial")
        try:
            _place(made, partial)
            check = f"{partial.stat().st_size} {_digest(partial)}\n"
            check_partial = partial.with_suffix(".sum")
            check_partial.write_text(check)
            os.replace(partial, entry)
            os.replace(check_partial, self._sum(key))
        finally:
            partial.unlink(missing_ok=True)
            partial.with_suffix(".sum").unlink(missing_ok=True)

    async def produce(self, key: str, destination: Path, make: Callable[[], Awaitable[None]]) -> bool:
        """`destination` holds what `key` names: taken from the cache, or made by `make` (and then kept).
        True if it came from the cache."""
        if not self.enabled:
            await make()
            return False
        lock = self._making.setdefault(key, asyncio.Lock())
        async with lock:  # the same file asked twice at once (in this process) is made once
            if await asyncio.to_thread(self._take, key, destination):
                self.hits += 1
                self._keys[str(destination)] = key
                return True
            self.misses += 1
            await make()
            await asyncio.to_thread(self._keep, key, destination)
            self._keys[str(destination)] = key
        self._making.pop(key, None)
        return False

    def size(self) -> int:
        return sum(entry.stat().st_size for entry in self._entries())

    def _entries(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return [path for path in self.folder.glob("??/*") if not path.name.endswith(".sum")
                and not path.name.startswith(".")]

    def _evict(self) -> None:
        entries = []
        for path in self._entries():
            with contextlib.suppress(FileNotFoundError):
                stat = path.stat()
                entries.append((stat.st_mtime_ns, stat.st_size, path))
        total = sum(size for _used, size, _path in entries)
        for _used, size, path in sorted(entries):  # least recently used first
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            path.with_name(f"{path.name}.sum").unlink(missing_ok=True)
            total -= size

    async def evict(self) -> None:
        """Remove the least recently used entries until the cache fits its bound."""
        if self.enabled:
            await asyncio.to_thread(self._evict)
