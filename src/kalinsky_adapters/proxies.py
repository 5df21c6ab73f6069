"""Proxies: sources once more, as a browser plays them and small enough for previews to decode quickly.

A source gets a proxy when it is taller than a preview or when a browser cannot play it as it is (HEVC, 10-bit,
ProRes, Matroska...: see kalinsky_core.qc.browser_plays). Every proxy is what a browser plays: H.264 8-bit 4:2:0 in
BT.709 SDR (HDR tone-mapped), with the source's sound as AAC, so that the editor's player shows and sounds every
source; the web UI plays a source's proxy where the browser cannot play the source.

Decoding is most of a preview's work: a 1080x1920 H.264 frame takes ~5 ms to decode on one core, its 404x720
proxy under 1 ms, so previews read proxies several times faster. A proxy holds every frame of its source at the
same time from the start of the file (checked once it is made), upright, scaled to the preview height, with a
keyframe every second; previews read only its picture (their sound comes from the source). Proxies are made in the
background after a reindex, one at a time and after any render work; a preview reads the source itself until its
proxy is ready.

A proxy is named after its source's name, size, modification time and inode, the preview height and the proxies'
recipe (VERSION): a changed file, setting or recipe gets a new one, and files no longer wanted are removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

# the module, not its names: ffprobe's own imports lead back here (ffprobe → ffmpeg package → cutter → proxies)
from kalinsky_adapters import ffprobe as probing
from kalinsky_adapters import process
from kalinsky_adapters.ffmpeg.colour import SDR, Colour, conversion
from kalinsky_adapters.process import file_url
from kalinsky_adapters.slots import PrioritySlots
from kalinsky_adapters.source_files import MissingSourceFile, SourceFolder
from kalinsky_core.model import Source
from kalinsky_core.qc import browser_playable

log = logging.getLogger(__name__)

#: A keyframe this often keeps a preview's pre-roll short.
GOP_SECONDS = 1
#: Proxies are encoded again by every preview: a low CRF keeps that second generation clean.
CRF = 18
#: After render work in the shared slots (lower runs first).
PRIORITY = (9,)
#: Proxy making runs at this CPU niceness, so that renders running beside it get the cores first.
NICENESS = 10
#: Frame times of a source and its proxy may differ this much, in seconds (time bases are rounded to µs).
TIME_SLACK = 2e-6
#: Part of every proxy's name: a new recipe makes new proxies (2: browser-playable, BT.709 SDR, with sound).
VERSION = 2


class ProxyState(str, enum.Enum):
    NONE = "none"  # the source gets no proxy: it is small enough and a browser plays it
    WAITING = "waiting"  # wanted, not being made yet
    MAKING = "making"
    READY = "ready"
    FAILED = "failed"  # none could be made that holds exactly the source's frames


@attrs.frozen
class ProxyStatus:
    state: ProxyState
    progress: float = 0.0  # 0..1 while making; 1 when ready


class PreviewProxies:
    """The proxies of one sources folder, kept in `folder`, for previews at most `height` pixels tall."""

    def __init__(
        self,
        sources_dir: Path,
        folder: Path,
        ffmpeg: str,
        ffprobe: str,
        height: int,
        slots: PrioritySlots | None = None,
    ) -> None:
        self.sources = SourceFolder(sources_dir)
        self.folder = Path(folder)
        self.ffmpeg = ffmpeg
        self.ffprobe = ffprobe
        self.height = height // 2 * 2
        self.slots = slots or PrioritySlots(1)
        self._refreshing: asyncio.Task[None] | None = None
        self._making: dict[str, float] = {}  # filename → progress of the proxy being made
        self._failed: set[Path] = set()

    def wanted(self, source: Source) -> bool:
        """Pictures taller than a preview (previews decode the proxy's smaller ones) and sources a browser cannot
        play (the web UI plays the proxy)."""
        return source.height > self.height or not browser_playable(source)

    def status(self, source: Source) -> ProxyStatus:
        """Where the proxy of `source` stands."""
        if not self.wanted(source):
            return ProxyStatus(ProxyState.NONE)
        if source.filename in self._making:
            return ProxyStatus(ProxyState.MAKING, self._making[source.filename])
        path = self._path(source.filename)
        if path is not None and path.is_file():
            return ProxyStatus(ProxyState.READY, 1.0)
        return ProxyStatus(ProxyState.FAILED if path in self._failed else ProxyState.WAITING)

    def _path(self, filename: str) -> Path | None:
        try:
            found = self.sources.stat_identity(filename)
        except MissingSourceFile:
            return None
        key = f"{filename}\0{found.size}\0{found.mtime_ns}\0{found.inode}\0{found.device}\0{self.height}\0{VERSION}"
        return self.folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.mp4"

    def ready(self, filename: str) -> Path | None:
        """The finished proxy of the source file `filename`, if there is one for the file as it is now."""
        path = self._path(filename)
        return path if path is not None and path.is_file() else None

    def command(self, path: Path, source: Source, destination: Path) -> list[str]:
        keyframe_every = max(1, round(source.fps * GOP_SECONDS))
        height = min(self.height, source.height // 2 * 2)
        # `-ss` counts from a file's earliest stream, which in the source may be its sound (Opus often starts
        # 6.5 ms before the picture). The source's own sound, carried along, starts where it did, so the proxy's
        # count is alike (every stream keeps its offset from the file's start); without sound, a moment of
        # silence from the very start does the same. The frame times are checked afterwards either way.
        if source.has_audio:
            silence, sound = [], "0:a:0"
        else:
            silence, sound = ["-f", "lavfi", "-t", "0.1", "-i", "anullsrc=r=48000:cl=mono"], "1:a:0"
        picture = [f"scale=-2:{height}:flags=bicubic", *conversion(Colour.of(source.coding), SDR), "format=yuv420p"]
        return [
            self.ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y", "-progress", "pipe:1",
            "-stats_period", "0.5",
            "-i", file_url(path),
            *silence,
            "-map", "0:v:0", "-map", sound,
            "-vf", ",".join(picture),
            "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-color_range", "tv",
            # every frame at its own time, in its own time base
            "-fps_mode", "passthrough", "-enc_time_base", "-1",
            "-c:v", "libx264", "-preset", "ultrafast", "-crf", str(CRF), "-g", str(keyframe_every),
            "-c:a", "aac", "-b:a", "160k",
            "-movflags", "+faststart",
            "-f", "mp4", file_url(destination),
        ]

    async def _times(self, path: Path) -> list[float] | None:
        """Frame times from the start of the file (as `-ss` counts), or None if ffprobe cannot read it."""
        packets, start = await asyncio.gather(
            process.run(probing.packets_command(self.ffprobe, path)),
            process.run([self.ffprobe, "-v", "error", "-show_entries", "format=start_time", "-of", "csv=p=0",
                         file_url(path)]),
        )
        if packets.returncode != 0 or start.returncode != 0:
            return None
        try:
            offset = float(start.stdout.strip() or 0)
        except ValueError:
            offset = 0.0
        return sorted(time - offset for time, _key in probing.shown_packets(packets.stdout))

    async def _same_frames(self, source: Path, proxy: Path) -> bool:
        original, copy = await asyncio.gather(self._times(source), self._times(proxy))
        return (
            original is not None
            and copy is not None
            and len(original) == len(copy)
            and all(abs(a - b) <= TIME_SLACK for a, b in zip(original, copy))
        )

    async def make(self, source: Source) -> Path | None:
        """Make the proxy of `source` unless it exists; None when the source gets none (not taller than a
        preview, gone, or no proxy holding exactly its frames could be made)."""
        destination = self._path(source.filename)
        if destination is None or not self.wanted(source):
            return None
        if destination.is_file():
            return destination
        await asyncio.to_thread(self.folder.mkdir, parents=True, exist_ok=True)
        partial = destination.with_name(f".{destination.stem}.{os.getpid()}.partial")
        try:
            original = self.sources.existing(source.filename)
        except MissingSourceFile:
            return None
        async def advanced(seconds: float) -> None:
            self._making[source.filename] = min(0.99, max(0.0, seconds / source.duration)) if source.duration else 0

        try:
            async with self.slots.hold(PRIORITY):
                self._making[source.filename] = 0.0
                command = self.command(original, source, partial)
                done = await process.run(command, on_progress_seconds=advanced, nice=NICENESS)
            if done.returncode != 0:
                log.warning("no proxy for %s: %s", source.filename, done.stderr_tail or done.returncode)
                self._failed.add(destination)
                return None
            if not await self._same_frames(original, partial):
                log.warning("no proxy for %s: its frames would not match the source's", source.filename)
                self._failed.add(destination)
                return None
            await asyncio.to_thread(os.replace, partial, destination)
            log.info("proxy of %s ready", source.filename)
            return destination
        finally:
            self._making.pop(source.filename, None)
            await asyncio.to_thread(partial.unlink, True)

    async def make_all(self, sources: Sequence[Source]) -> None:
        """Make the missing proxies of `sources`, one after another, and remove every other file here."""
        await self._remove_all_but(filter(None, map(self._path, (s.filename for s in sources if self.wanted(s)))))
        for source in sources:
            await self.make(source)

    async def _remove_all_but(self, keep: Iterable[Path]) -> None:
        names = {path.name for path in keep}

        def remove() -> None:
            with contextlib.suppress(FileNotFoundError):
                for entry in os.scandir(self.folder):
                    if entry.is_file() and entry.name not in names:
                        Path(entry.path).unlink(missing_ok=True)

        await asyncio.to_thread(remove)

    def refresh(self, sources: Sequence[Source]) -> None:
        """Bring the proxies in line with a new index, in the background; a later call takes over."""
        if self._refreshing is not None:
            self._refreshing.cancel()
        self._refreshing = asyncio.create_task(self._refresh(self._refreshing, sources))

    async def _refresh(self, previous: asyncio.Task[None] | None, sources: Sequence[Source]) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        try:
            await self.make_all(sources)
        except Exception:
            log.exception("preview proxies could not be made")

    async def aclose(self) -> None:
        """Stop making proxies (the file in the making is removed)."""
        if self._refreshing is not None:
            self._refreshing.cancel()
            await asyncio.gather(self._refreshing, return_exceptions=True)
            self._refreshing = None
