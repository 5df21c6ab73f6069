"""MediaProber over a folder of source videos, using ffprobe."""

from __future__ import annotations

import asyncio
import json
import os
from fractions import Fraction
from pathlib import Path

from kalinsky_adapters import process
from kalinsky_adapters.process import file_url
from kalinsky_core.errors import ProbeFailed
from kalinsky_core.model import MediaInfo

#: Pictures attached to audio files (cover art) are video streams too; they are not a video.
_ATTACHED_PIC = "attached_pic"


def _rotation(stream: dict) -> int:
    for side_data in stream.get("side_data_list") or ():
        if "rotation" in side_data:
            return int(float(side_data["rotation"]))
    return int(float((stream.get("tags") or {}).get("rotate", 0) or 0))


def _frame_rate(stream: dict) -> str:
    for key in ("r_frame_rate", "avg_frame_rate"):
        text = stream.get(key) or "0/0"
        numerator, _, denominator = text.partition("/")
        if numerator.isdigit() and denominator.isdigit() and int(numerator) and int(denominator):
            return str(Fraction(int(numerator), int(denominator)))
    raise ProbeFailed("no frame rate")


def _duration(stream: dict, container: dict) -> float:
    for value in (stream.get("duration"), container.get("duration")):
        try:
            duration = float(value)
        except (TypeError, ValueError):
            continue
        if duration > 0:
            return duration
    raise ProbeFailed("no duration")


def media_info_from_probe(report: dict, file_size: int) -> MediaInfo:
    """MediaInfo from ffprobe's JSON (`-show_format -show_streams`)."""
    streams = report.get("streams") or []
    videos = [s for s in streams if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get(
        _ATTACHED_PIC)]
    if not videos:
        raise ProbeFailed("no video stream")
    video = videos[0]
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if not width or not height:
        raise ProbeFailed("video stream without a picture size")
    if _rotation(video) % 180:
        width, height = height, width
    return MediaInfo(
        duration=_duration(video, report.get("format") or {}),
        width=width,
        height=height,
        codec=str(video.get("codec_name") or "unknown"),
        frame_rate=_frame_rate(video),
        has_audio=any(s.get("codec_type") == "audio" for s in streams),
        file_size=file_size,
    )


class FfprobeProber:
    """Reads the sources folder; probes each file with ffprobe."""

    def __init__(self, sources_dir: Path, ffprobe: str) -> None:
        self.sources_dir = Path(sources_dir)
        self.ffprobe = ffprobe

    def _list(self) -> list[str]:
        if not self.sources_dir.is_dir():
            return []
        with os.scandir(self.sources_dir) as entries:
            return [e.name for e in entries if not e.name.startswith(".") and e.is_file()]

    async def list_files(self) -> list[str]:
        return await asyncio.to_thread(self._list)

    async def probe_path(self, path: Path) -> MediaInfo:
        """Probe any file, wherever it is."""
        try:
            file_size = path.stat().st_size
        except OSError as error:
            raise ProbeFailed(f"cannot read the file: {error.strerror}") from error
        done = await process.run(
            [self.ffprobe, "-v", "error", "-show_format", "-show_streams", "-of", "json", file_url(path)]
        )
        if done.returncode != 0:
            last_line = (done.stderr_tail.splitlines() or [f"ffprobe exited with {done.returncode}"])[-1]
            raise ProbeFailed(last_line)
        try:
            report = json.loads(done.stdout)
        except json.JSONDecodeError as error:
            raise ProbeFailed("unreadable ffprobe output") from error
        return media_info_from_probe(report, file_size)

    async def probe(self, filename: str) -> MediaInfo:
        return await self.probe_path(self.sources_dir / filename)
