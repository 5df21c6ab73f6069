"""What the player's trim bar shows of a source: a filmstrip (one JPEG sprite of evenly spaced frames) and the
peaks of its sound, both made with ffmpeg once per source file and cached on disk beside the posters.

The cached files are named like the posters (thumbnails.py): after the file's name, size, modification time and
inode, so a file replaced under the same name gets fresh ones. The sprite's layout is known without ffmpeg
(`filmstrip_layout`), so the UI can place its tiles before the picture arrives.
"""

from __future__ import annotations

import array
import asyncio
import json
import math
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import attrs

from kalinsky_adapters import process
from kalinsky_adapters.process import file_url, without_path
from kalinsky_adapters.source_files import SourceFolder
from kalinsky_adapters.thumbnails import PosterFailed, cache_key
from kalinsky_core.model import Source
from kalinsky_core.plan import seek_time

#: Tiles in a filmstrip (fewer for a source with fewer frames), and their height in pixels.
FILMSTRIP_TILES = 20
TILE_HEIGHT = 160
#: Sound is decoded to mono at this rate for its peaks; peaks per second are at most MAX_PEAK_RATE, and a source
#: gets at most MAX_PEAKS of them (longer sources get fewer per second).
PCM_RATE = 8000
MAX_PEAK_RATE = 100
MAX_PEAKS = 2000
#: Filmstrips and waveforms made at once (their ffmpegs run at a lower CPU priority than renders).
MAX_CONCURRENT = 2
NICE = 10


@attrs.frozen
class FilmstripLayout:
    """Where the tiles are in a filmstrip sprite: `count` tiles of `tile_width` x `tile_height` in one row, tile
    `i` showing source frame `frames[i]`, which starts at `times[i]` seconds."""

    count: int
    tile_width: int
    tile_height: int
    frames: tuple[int, ...]
    times: tuple[float, ...]


def filmstrip_layout(source: Source) -> FilmstripLayout:
    """The tiles of `source`'s filmstrip: evenly spaced frames (the middle one of each equal share of the source),
    tiles as wide as the upright picture's shape as shown makes them at TILE_HEIGHT (even, at least 2)."""
    fps = source.fps
    frame_count = source.frame_count or max(1, math.floor(source.duration * fps))
    count = max(1, min(FILMSTRIP_TILES, frame_count))
    frames = tuple(min(frame_count - 1, math.floor((i + 0.5) * frame_count / count)) for i in range(count))
    aspect = float(source.width * source.pixel_aspect / source.height) if source.width > 0 and source.height > 0 \
        else 16 / 9
    tile_width = max(2, 2 * round(TILE_HEIGHT * aspect / 2))
    times = tuple(seek_time(frame, fps, copy=False) for frame in frames)
    return FilmstripLayout(count, tile_width, TILE_HEIGHT, frames, times)


def peak_rate(duration: float) -> tuple[int, float]:
    """(PCM samples per peak, peaks per second) for a source this long: MAX_PEAK_RATE a second, fewer for sources
    longer than MAX_PEAKS / MAX_PEAK_RATE seconds."""
    rate = min(float(MAX_PEAK_RATE), MAX_PEAKS / duration) if duration > 0 else float(MAX_PEAK_RATE)
    samples = max(1, round(PCM_RATE / rate))
    return samples, PCM_RATE / samples


def peaks_of(pcm: bytes, samples_per_peak: int) -> list[float]:
    """The largest absolute sample of each bucket of `samples_per_peak` signed 16-bit native-endian samples, in
    0..1 (rounded to 1/1000); a last, shorter bucket counts too."""
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    peaks = []
    for at in range(0, len(samples), samples_per_peak):
        bucket = samples[at : at + samples_per_peak]
        peaks.append(round(min(1.0, max(max(bucket), -min(bucket)) / 32767), 3))
    return peaks


class FfmpegTimeline:
    """Finds source files by their indexed name and makes their filmstrips and waveforms."""

    def __init__(self, sources: SourceFolder, cache_dir: Path, ffmpeg: str) -> None:
        self.sources = sources
        self.cache_dir = Path(cache_dir)
        self.ffmpeg = ffmpeg
        self._locks: dict[str, asyncio.Lock] = {}
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)

    def tile_command(self, source_file: Path, seconds: float, layout: FilmstripLayout, destination: Path) -> list[str]:
        # The default autorotate turns rotated sources upright; an accurate input seek lands on the frame itself.
        return [
            self.ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y",
            "-ss", f"{seconds:.6f}", "-i", file_url(source_file),
            "-map", "0:v:0", "-frames:v", "1", "-an", "-sn", "-dn",
            "-vf", f"scale={layout.tile_width}:{layout.tile_height},setsar=1,format=rgb24",
            "-f", "image2", "-c:v", "png", file_url(destination),
        ]

    def sprite_command(self, tiles: str, layout: FilmstripLayout, destination: Path) -> list[str]:
        return [
            self.ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y",
            "-f", "image2", "-framerate", "1", "-start_number", "0", "-i", tiles,
            "-vf", f"tile={layout.count}x1,format=yuvj420p",
            "-frames:v", "1", "-q:v", "4", "-f", "image2", "-c:v", "mjpeg", file_url(destination),
        ]

    def waveform_command(self, source_file: Path) -> list[str]:
        return [
            self.ffmpeg, "-nostdin", "-hide_banner", "-v", "error",
            "-i", file_url(source_file), "-map", "0:a:0", "-vn", "-sn", "-dn",
            "-ac", "1", "-ar", str(PCM_RATE), "-f", f"s16{'le' if sys.byteorder == 'little' else 'be'}", "pipe:1",
        ]

    async def _cached(
        self, source: Source, suffix: str, make: Callable[[Source, Path, Path], Awaitable[None]]
    ) -> Path:
        source_file = self.sources.existing(source.filename)
        destination = self.cache_dir / f"{cache_key(source_file)}.{suffix}"
        if destination.is_file():
            return destination
        lock = self._locks.setdefault(destination.name, asyncio.Lock())
        async with lock:
            if not destination.is_file():
                async with self._slots:
                    await asyncio.to_thread(self.cache_dir.mkdir, parents=True, exist_ok=True)
                    partial = destination.with_name(f".{destination.stem}.{os.getpid()}.partial.{suffix}")
                    try:
                        await make(source, source_file, partial)
                        await asyncio.to_thread(os.replace, partial, destination)
                    finally:
                        partial.unlink(missing_ok=True)
        self._locks.pop(destination.name, None)
        return destination

    async def filmstrip(self, source: Source) -> Path:
        """The filmstrip JPEG of `source` (see `filmstrip_layout`), made on first request. Raises MissingSourceFile,
        or PosterFailed when not one of its frames can be read."""
        return await self._cached(source, "filmstrip.jpg", self._make_filmstrip)

    async def waveform(self, source: Source) -> Path:
        """A JSON file `{"rate": peaks per second, "peaks": [0..1, ...]}` of `source`'s sound (no peaks without
        sound), made on first request. Raises MissingSourceFile, or PosterFailed when its sound cannot be read."""
        return await self._cached(source, "waveform.json", self._make_waveform)

    async def _make_filmstrip(self, source: Source, source_file: Path, destination: Path) -> None:
        layout = filmstrip_layout(source)
        with tempfile.TemporaryDirectory(dir=self.cache_dir, prefix=".filmstrip-") as work:
            tiles = [Path(work) / f"{i:03d}.png" for i in range(layout.count)]
            reason = "no picture"
            for tile, seconds in zip(tiles, layout.times, strict=True):
                done = await process.run(self.tile_command(source_file, seconds, layout, tile), nice=NICE)
                if done.returncode != 0 or not tile.is_file() or tile.stat().st_size == 0:
                    reason = (done.stderr_tail.strip().splitlines() or [reason])[-1]
                    tile.unlink(missing_ok=True)
            made = [tile for tile in tiles if tile.is_file()]
            if not made:
                raise PosterFailed(f"No filmstrip for {source_file.name}: {without_path(reason, source_file)}")
            for at, tile in enumerate(tiles):  # a frame that could not be read shows its neighbour's picture
                if not tile.is_file():
                    nearest = min(made, key=lambda other: abs(tiles.index(other) - at))
                    await asyncio.to_thread(tile.write_bytes, nearest.read_bytes())
            done = await process.run(self.sprite_command(file_url(Path(work) / "%03d.png"), layout, destination))
            if done.returncode != 0 or not destination.is_file():  # ffmpeg's complaint names the cache's files
                raise PosterFailed(f"No filmstrip for {source_file.name}: its frames could not be joined")

    async def _make_waveform(self, source: Source, source_file: Path, destination: Path) -> None:
        samples_per_peak, rate = peak_rate(source.duration)
        peaks: Sequence[float] = []
        if source.has_audio:
            done = await process.run(self.waveform_command(source_file), nice=NICE, binary=True)
            if done.returncode != 0:
                reason = (done.stderr_tail.strip().splitlines() or ["no sound"])[-1]
                raise PosterFailed(f"No waveform for {source_file.name}: {without_path(reason, source_file)}")
            peaks = await asyncio.to_thread(peaks_of, done.output, samples_per_peak)
        text = json.dumps({"rate": rate, "peaks": list(peaks)}, separators=(",", ":"))
        await asyncio.to_thread(destination.write_text, text)
