"""The sources folder: which files are in it, the path of an indexed source, whether it changed since indexing.

Every adapter that opens a source file asks this one object for its path, so that what may be reached by name is
decided in one place: a plain name of a regular file directly in the folder, never a path.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from kalinsky_core.errors import RenderFailed


class MissingSourceFile(LookupError):
    """An indexed source whose file is no longer a regular file directly inside the sources folder."""


class SourceFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def names(self) -> list[str]:
        """Names of the regular, not hidden files in the folder (no sub-folders); none if there is no folder."""
        if not self.folder.is_dir():
            return []
        with os.scandir(self.folder) as entries:
            return [e.name for e in entries if not e.name.startswith(".") and e.is_file()]

    def path(self, filename: str) -> Path:
        """The path of a source file, for reading. Only a plain name qualifies: no separators, no `..`, no hidden
        files, so nothing outside the folder can be reached by name."""
        if not filename or filename != Path(filename).name or filename.startswith(".") or "\\" in filename:
            raise MissingSourceFile(filename)
        return self.folder / filename

    def existing(self, filename: str) -> Path:
        """`path`, for a file that is there; MissingSourceFile otherwise."""
        path = self.path(filename)
        if not path.is_file():
            raise MissingSourceFile(filename)
        return path

    async def check_unchanged(self, filename: str, size: int) -> None:
        """Fail clearly, before ffmpeg does obscurely, when a source went away or changed since indexing."""
        try:
            found = (await asyncio.to_thread(os.stat, self.path(filename))).st_size
        except (FileNotFoundError, MissingSourceFile):
            raise RenderFailed(f"Source {filename} is gone since it was indexed: reindex") from None
        if found != size:
            raise RenderFailed(
                f"Source {filename} changed since it was indexed ({size} bytes, now {found}): reindex"
            )
