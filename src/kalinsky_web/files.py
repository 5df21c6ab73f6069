"""Files served as they are: source media, posters, finished renders.

A file is opened once, checked (a regular file, reached without a link at its last step) and served from that
open file, so that what was checked is what is sent even if the name is made to point elsewhere meanwhile. Its
ETag is its identity (device, inode, modification time, size): a file replaced under a reused name (an assembly
id handed out again after `data/` was reset, a source replaced) never matches a browser's old copy, and every
answer says to revalidate.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import stat
from pathlib import Path
from typing import Any, cast

from baize.asgi import FileResponse, Response
from litestar.types import ASGIApp, Receive, Scope, Send

#: The same URL can name another file later: browsers and proxies revalidate (cheaply, by ETag) every time.
REVALIDATE = {"cache-control": "no-cache"}

#: Linux names every open file here; opening that name opens the same file again, wherever its name now points.
_OPEN_FILES = Path("/proc/self/fd")


class _IdentityFileResponse(FileResponse):
    @staticmethod
    def generate_etag(stat_result: os.stat_result) -> str:
        return file_etag(stat_result)


def file_etag(found: os.stat_result) -> str:
    identity = f"{found.st_dev}-{found.st_ino}-{found.st_mtime_ns}-{found.st_size}"
    return hashlib.blake2b(identity.encode("ascii"), digest_size=16).hexdigest()


def _etag_matches(etag: str, if_none_match: str) -> bool:
    tags = [tag.strip().removeprefix("W/").strip('"') for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def file_answer(path: Path, content_type: str | None = None) -> ASGIApp:
    """The regular file at `path`, with Range requests; 304 Not Modified when the browser's copy (If-None-Match)
    is current. OSError (e.g. FileNotFoundError) if it is no regular file or a link at its last step."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise FileNotFoundError(path)
    except BaseException:
        os.close(fd)
        raise
    etag = file_etag(found)
    served = str(_OPEN_FILES / str(fd)) if _OPEN_FILES.is_dir() else str(path)
    content_type = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if_none_match = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"if-none-match"), "")
            if if_none_match and _etag_matches(etag, if_none_match):
                response: Response = Response(304, headers={"etag": f'"{etag}"', **REVALIDATE})
            else:
                response = _IdentityFileResponse(served, headers=REVALIDATE, content_type=content_type,
                                                 stat_result=found)
            await response(cast(Any, scope), cast(Any, receive), cast(Any, send))  # baize's ASGI types are looser
        finally:
            os.close(fd)

    return answer


def file_within(root: Path, parts: tuple[str, ...]) -> Path | None:
    """The file `parts` names under `root`, if it is reached without any symbolic link (and no `..`); else None."""
    if any(part in {"", ".", ".."} for part in parts):
        return None
    base = os.path.realpath(root)
    candidate = os.path.join(base, *parts)
    if os.path.realpath(candidate) != candidate:
        return None
    return Path(candidate)
