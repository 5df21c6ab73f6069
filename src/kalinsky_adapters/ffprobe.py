"""MediaProber over a folder of source videos, using ffprobe."""

from __future__ import annotations

import asyncio
import functools
import json
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs

from kalinsky_adapters import process
from kalinsky_adapters.ffmpeg.codecs import CodecRules
from kalinsky_adapters.process import file_url, without_path
from kalinsky_adapters.source_files import MissingSourceFile, OutsideSourceFolder, SourceFolder
from kalinsky_core.copying import CopyPoints, copy_points
from kalinsky_core.errors import ProbeFailed
from kalinsky_core.model import FileIdentity, MediaInfo, VideoCoding, pixel_aspect
from kalinsky_core.ports import CodingRules

#: Pictures attached to audio files (cover art) are video streams too; they are not a video.
_ATTACHED_PIC = "attached_pic"


def _rotation(stream: dict[str, Any]) -> int:
    for side_data in stream.get("side_data_list") or ():
        if "rotation" in side_data:
            return int(float(side_data["rotation"]))
    return int(float((stream.get("tags") or {}).get("rotate", 0) or 0))


def _frame_rate(stream: dict[str, Any]) -> str:
    for key in ("r_frame_rate", "avg_frame_rate"):
        text = stream.get(key) or "0/0"
        numerator, _, denominator = text.partition("/")
        if numerator.isdigit() and denominator.isdigit() and int(numerator) and int(denominator):
            return str(Fraction(int(numerator), int(denominator)))
    raise ProbeFailed("no frame rate")


def _duration(stream: dict[str, Any], container: dict[str, Any]) -> float:
    for value in (stream.get("duration"), container.get("duration")):
        if value is None:
            continue
        try:
            duration = float(value)
        except (TypeError, ValueError):
            continue
        if duration > 0:
            return duration
    raise ProbeFailed("no duration")


def _coding(video: dict[str, Any], container: dict[str, Any]) -> VideoCoding:
    """How the video is coded, in any container (its colours matter wherever it is stored)."""
    return VideoCoding(
        codec=str(video.get("codec_name") or "unknown"),
        profile=str(video.get("profile") or ""),
        level=int(video.get("level") or 0),
        pix_fmt=str(video.get("pix_fmt") or ""),
        reorder_depth=int(video.get("has_b_frames") or 0),
        time_base=str(video.get("time_base") or ""),
        rotation=_rotation(video),
        constant_rate=video.get("avg_frame_rate") == video.get("r_frame_rate"),
        parameter_sets=str(video.get("extradata_hash") or ""),
        **{key: _described(video, key) for key in ("color_primaries", "color_transfer", "color_space", "color_range",
                                                  "field_order")},
        mp4="mp4" in str(container.get("format_name", "")),  # ffprobe calls MP4 and MOV "mov,mp4,m4a,3gp,..."
        sample_aspect=_sample_aspect(video),
    )


def _sample_aspect(video: dict[str, Any]) -> str:
    """The stream's sample aspect ratio, reduced ("4:3"); "1:1" where it is unknown ("0:1") or not said."""
    aspect = pixel_aspect(str(video.get("sample_aspect_ratio") or ""))
    return f"{aspect.numerator}:{aspect.denominator}"


def _described(video: dict[str, Any], key: str) -> str:
    value = str(video.get(key) or "")
    return "" if value in ("unknown", "unspecified", "reserved") else value


def first_frame_command(ffprobe: str, path: Path) -> list[str]:
    """ffprobe decoding the first video frame of `path` only, to read its side data (HDR metadata travels in the
    stream's SEI, which MP4/MOV muxers do not always repeat in the sample entry)."""
    return [ffprobe, "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1", "-show_frames",
            "-show_entries", "frame=side_data_list", "-of", "json", file_url(path)]


def hdr_metadata(report: dict[str, Any]) -> dict[str, str]:
    """`master_display` and `max_cll` of VideoCoding from `first_frame_command`'s JSON (those found)."""
    found: dict[str, str] = {}
    for frame in report.get("frames") or ():
        for side in frame.get("side_data_list") or ():
            kind = side.get("side_data_type")
            try:
                if kind == "Mastering display metadata":
                    point = functools.partial(_chromaticity, side)
                    light = (round(Fraction(side[f"{end}_luminance"]) * 10000) for end in ("max", "min"))
                    found["master_display"] = (
                        f"G({point('green')})B({point('blue')})R({point('red')})WP({point('white_point')})"
                        f"L({','.join(map(str, light))})"
                    )
                elif kind == "Content light level metadata":
                    found["max_cll"] = f"{int(side['max_content'])},{int(side['max_average'])}"
            except (KeyError, ValueError, ZeroDivisionError):
                continue
    return found


def _chromaticity(side_data: dict[str, Any], name: str) -> str:
    """A mastering display's primary or white point in units of 0.00002, as "x,y"."""
    x, y = (round(Fraction(side_data[f"{name}_{axis}"]) * 50000) for axis in "xy")
    return f"{x},{y}"


def packets_command(ffprobe: str, path: Path) -> list[str]:
    """ffprobe listing the video packets of `path` in decode order, `pts_time,flags` a line: fast, nothing is
    decoded."""
    return [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags",
            "-of", "csv=p=0", file_url(path)]


def shown_packets(csv: str) -> list[tuple[float, bool]]:
    """`(pts_time, keyframe)` of each packet that is shown, in decode order, from `packets_command`'s output
    (packets an edit list discards are never shown)."""
    packets = []
    for line in csv.splitlines():
        pts, _, flags = line.partition(",")
        if "D" not in flags and pts and pts != "N/A":
            packets.append((float(pts), flags.startswith("K")))
    return packets


def copy_points_from_packets(csv: str, start_time: float, fps: Fraction) -> CopyPoints:
    """Where copies may start and end, from `packets_command`'s output. A frame's index is its time from the
    file's start in frames, as `-ss` addresses the file."""
    packets = shown_packets(csv)
    frames = [round((pts - start_time) * fps) for pts, _key in packets]
    return copy_points(frames, {position for position, (_pts, key) in enumerate(packets) if key})


def media_info_from_probe(report: dict[str, Any], file_size: int) -> MediaInfo:
    """MediaInfo from ffprobe's JSON (`-show_format -show_streams`), without keyframes."""
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
    container = report.get("format") or {}
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    audio_codec, audio_duration = (str(audios[0].get("codec_name") or "unknown"), _seconds(audios[0])) if audios \
        else ("", None)
    return MediaInfo(
        duration=_duration(video, container),
        width=width,
        height=height,
        codec=str(video.get("codec_name") or "unknown"),
        frame_rate=_frame_rate(video),
        has_audio=any(s.get("codec_type") == "audio" for s in streams),
        file_size=file_size,
        coding=_coding(video, container),
        audio_codec=audio_codec,
        audio_duration=audio_duration,
    )


def _seconds(stream: dict[str, Any]) -> float | None:
    """A stream's duration where the container states it (MP4/MOV; Matroska keeps it in a tag)."""
    try:
        return float(stream["duration"])
    except (KeyError, TypeError, ValueError):
        return None


class FfprobeProber:
    """Reads the sources folder; probes each file with ffprobe. Where copies may start and end is read only for
    videos whose frames the codec `rules` allow to be copied."""

    def __init__(self, sources_dir: Path, ffprobe: str, rules: CodingRules | None = None) -> None:
        self.sources = SourceFolder(sources_dir)
        self.ffprobe = ffprobe
        self.rules = rules or CodecRules()

    async def list_files(self) -> list[str]:
        return await asyncio.to_thread(self.sources.names)

    async def probe_path(self, path: Path) -> MediaInfo:
        """Probe any file, wherever it is."""
        try:
            file_size = path.stat().st_size
        except OSError as error:
            raise ProbeFailed(f"cannot read the file: {error.strerror}") from error
        done = await process.run(
            [self.ffprobe, "-v", "error", "-show_format", "-show_streams", "-show_data_hash", "sha256", "-of", "json",
             file_url(path)]
        )
        if done.returncode != 0:
            last_line = (done.stderr_tail.splitlines() or [f"ffprobe exited with {done.returncode}"])[-1]
            raise ProbeFailed(without_path(last_line, path))
        try:
            report = json.loads(done.stdout)
        except json.JSONDecodeError as error:
            raise ProbeFailed("unreadable ffprobe output") from error
        info = media_info_from_probe(report, file_size)
        if info.coding is not None and info.coding.color_transfer == "smpte2084":
            info = await self._with_hdr_metadata(path, info, info.coding)
        if info.coding is None or not self.rules.copyable(info.coding):
            return info
        return await self._with_keyframes(path, info, float((report.get("format") or {}).get("start_time") or 0))

    async def _with_hdr_metadata(self, path: Path, info: MediaInfo, coding: VideoCoding) -> MediaInfo:
        """Add a PQ video's mastering display and content light level, read from its first frame."""
        done = await process.run(first_frame_command(self.ffprobe, path))
        try:
            found = hdr_metadata(json.loads(done.stdout)) if done.returncode == 0 else {}
        except json.JSONDecodeError:
            found = {}
        if not found:
            return info
        described = attrs.evolve(
            coding,
            master_display=found.get("master_display", coding.master_display),
            max_cll=found.get("max_cll", coding.max_cll),
        )
        return attrs.evolve(info, coding=described)

    async def _with_keyframes(self, path: Path, info: MediaInfo, start_time: float) -> MediaInfo:
        """Add where copies may start and end (read from packet times and flags: fast, nothing is decoded) to a
        copyable video."""
        done = await process.run(packets_command(self.ffprobe, path))
        if done.returncode != 0:
            last_line = (done.stderr_tail.splitlines() or ["cannot read the video packets"])[-1]
            raise ProbeFailed(without_path(last_line, path))
        points = copy_points_from_packets(done.stdout, start_time, Fraction(info.frame_rate))
        return attrs.evolve(
            info,
            keyframes=points.starts,
            frame_count=points.frame_count,
            copy_ends=points.ends if points.reordered else (),
        )

    async def identify(self, filename: str) -> FileIdentity:
        try:
            return await asyncio.to_thread(self.sources.stat_identity, filename)
        except MissingSourceFile as error:
            raise ProbeFailed(self._unreadable(error, filename)) from None

    async def probe(self, filename: str) -> MediaInfo:
        """Probe a file of the sources folder, with its identity as read before ffprobe; a file that changed
        while it was probed is probed again (once)."""
        for _attempt in range(2):
            try:
                before = await asyncio.to_thread(self.sources.identity, filename)
                info = await self.probe_path(self.sources.path(filename))
                after = await asyncio.to_thread(self.sources.stat_identity, filename)
            except MissingSourceFile as error:
                raise ProbeFailed(self._unreadable(error, filename)) from None
            if before.same_stat(after):
                return attrs.evolve(info, identity=before)
        raise ProbeFailed("the file kept changing while it was read")

    def _unreadable(self, error: MissingSourceFile, filename: str) -> str:
        """Why a file of the folder may not be probed, in words (no path)."""
        if isinstance(error, OutsideSourceFolder):
            return "a link to a file outside the sources folder"
        if not os.path.lexists(self.sources.folder / filename):
            return "cannot read the file: No such file or directory"
        return "not a regular file"

