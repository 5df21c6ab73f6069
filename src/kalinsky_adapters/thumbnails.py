"""Poster frames of source videos: one JPEG per source file, made with ffmpeg and cached on disk.

A cached poster is named after the file's name, size, modification time and inode, so a file replaced under the
same name gets a fresh poster and a reindex never shows a stale one.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

from kalinsky_adapters import process
from kalinsky_adapters.process import file_url, without_path
from kalinsky_adapters.source_files import SourceFolder
from kalinsky_core.errors import RenderFailed
from kalinsky_core.model import Source

#: Posters fit in this box (pixels), aspect ratio kept, never enlarged: enough for a card on a high-density screen.
POSTER_BOX = 480
#: Where in the source the poster is taken: this share of its duration, at most MAX_POSTER_TIME seconds in.
POSTER_SHARE = 0.1
MAX_POSTER_TIME = 5.0
#: Posters made at once; a library page asks for all of them together.
MAX_CONCURRENT = 2


def cache_key(source_file: Path) -> str:
    """The name of what is made of this file: its name, size, modification time and inode, hashed."""
    stat = source_file.stat()
    key = f"{source_file.name}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ino}\0{stat.st_dev}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class PosterFailed(RenderFailed):
    """ffmpeg made no poster of a source (it is no longer a readable video); the message names no path."""


def poster_time(duration: float) -> float:
    """Seconds into a source where its poster frame is taken: past a fade-in, never past the end."""
    return max(0.0, min(duration * POSTER_SHARE, MAX_POSTER_TIME))


class FfmpegThumbnailer:
    """Finds source files by their indexed name and makes their posters."""

    def __init__(self, sources: SourceFolder, cache_dir: Path, ffmpeg: str) -> None:
        self.sources = sources
        self.cache_dir = Path(cache_dir)
        self.ffmpeg = ffmpeg
        self._locks: dict[str, asyncio.Lock] = {}
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)

    def _cache_path(self, source_file: Path) -> Path:
        return self.cache_dir / f"{cache_key(source_file)}.jpg"

    def poster_command(self, source_file: Path, seconds: float, destination: Path) -> list[str]:
        return [
            self.ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y",
            "-ss", f"{seconds:.6f}", "-i", file_url(source_file),
            "-map", "0:v:0", "-frames:v", "1", "-an", "-sn", "-dn",
            # square pixels first (images have no pixel aspect): anamorphic video is shown in its own shape
            "-vf", f"scale='2*trunc(iw*sar/2)':ih,setsar=1,"
            f"scale='min({POSTER_BOX},iw)':'min({POSTER_BOX},ih)':force_original_aspect_ratio=decrease"
            ",format=yuvj420p",
            "-q:v", "4", "-f", "image2", "-c:v", "mjpeg", file_url(destination),
        ]

    async def _make(self, source_file: Path, seconds: float, destination: Path) -> None:
        await asyncio.to_thread(destination.parent.mkdir, parents=True, exist_ok=True)
        partial = destination.with_name(f".{destination.stem}.{os.getpid()}.partial.jpg")
        try:
            for at in dict.fromkeys((seconds, 0.0)):  # a seek past the last decodable frame yields nothing
                done = await process.run(self.poster_command(source_file, at, partial))
                if done.returncode == 0 and partial.is_file() and partial.stat().st_size > 0:
                    await asyncio.to_thread(os.replace, partial, destination)
                    return
            reason = (done.stderr_tail.strip().splitlines() or ["no picture"])[-1]
            raise PosterFailed(f"No poster frame for {source_file.name}: {without_path(reason, source_file)}")
        finally:
            partial.unlink(missing_ok=True)

    async def thumbnail(self, source: Source) -> Path:
        """The poster JPEG of `source`, made on first request. Raises MissingSourceFile or PosterFailed."""
        source_file = self.sources.existing(source.filename)
        destination = self._cache_path(source_file)
        if destination.is_file():
            return destination
        lock = self._locks.setdefault(destination.name, asyncio.Lock())
        async with lock:
            if not destination.is_file():
                async with self._slots:
                    await self._make(source_file, poster_time(source.duration), destination)
        self._locks.pop(destination.name, None)
        return destination
