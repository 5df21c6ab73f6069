"""Where an assembly's render files live, and under which URL the finished ones are published: the one place that
knows the layout of the output folder.

    output/{id}/result.mp4            the finished render (appears only once complete)
    output/{id}/segments/             work files while it renders, removed after: video pieces `NNN-k.mov`,
                                      clip sounds `NNN.wav`, the audio track, the concat lists, the result
                                      being written
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path, PurePosixPath

#: The finished render's file name in its assembly's folder.
RESULT_NAME = "result.mp4"
#: The work folder's name in an assembly's folder; never served.
WORK_NAME = "segments"
#: Where the output folder is published over HTTP (the web app serves it there, and so does nginx).
URL_PREFIX = "/output"


class RenderFolders:
    """The output folder's layout, shared by the cutter (work files), the concatenator (result) and whoever
    serves or names the result (web app, command line)."""

    def __init__(self, output_dir: Path, url_prefix: str = URL_PREFIX) -> None:
        self.root = Path(output_dir)
        self.url_prefix = url_prefix

    def folder(self, assembly_id: str) -> Path:
        return self.root / assembly_id

    def result(self, assembly_id: str) -> Path:
        """The finished render of an assembly."""
        return self.folder(assembly_id) / RESULT_NAME

    def url(self, assembly_id: str) -> str:
        """Where the finished render of an assembly is published, e.g. `/output/asm_001/result.mp4`."""
        return str(PurePosixPath(self.url_prefix, assembly_id, RESULT_NAME))

    def work(self, assembly_id: str) -> Path:
        return self.folder(assembly_id) / WORK_NAME

    def piece(self, assembly_id: str, pos: int, n: int) -> Path:
        """The `n`th video piece of clip `pos`."""
        return self.work(assembly_id) / f"{pos:03d}-{n}.mov"

    def clip_sound(self, assembly_id: str, pos: int) -> Path:
        return self.work(assembly_id) / f"{pos:03d}.wav"

    def audio_list(self, assembly_id: str) -> Path:
        return self.work(assembly_id) / "audio.txt"

    def audio_track(self, assembly_id: str) -> Path:
        return self.work(assembly_id) / "audio.m4a"

    def measurements(self, assembly_id: str) -> Path:
        """What was measured in the result (JSON), kept in the segment cache beside it."""
        return self.work(assembly_id) / "measurements.json"

    def video_list(self, assembly_id: str) -> Path:
        return self.work(assembly_id) / "video.txt"

    def partial_result(self, assembly_id: str) -> Path:
        """Where the result is written before it is moved into place."""
        return self.work(assembly_id) / RESULT_NAME

    @staticmethod
    def is_work_file(parts: tuple[str, ...]) -> bool:
        """Whether a path inside the output folder (its parts) is a work file or a hidden one: never published."""
        return any(part == WORK_NAME or part.startswith(".") for part in parts)

    async def prepare(self, assembly_id: str) -> Path:
        """The work folder, created if missing."""
        folder = self.work(assembly_id)
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        return folder

    async def remove_work(self, assembly_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self.work(assembly_id), True)

    async def discard(self, assembly_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self.folder(assembly_id), True)
