"""Read-only media of indexed sources: the file itself (for the player) and a poster frame (for the library).

Sources are reached only by their index number, never by a path. Both answers support conditional requests
(ETag, Last-Modified) and the file supports HTTP Range requests, which a browser needs to seek in a video.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

from baize.asgi import FileResponse, JSONResponse, Response
from litestar import Controller, get
from litestar.params import FromPath
from litestar.types import ASGIApp, Receive, Scope, Send

from kalinsky_core.errors import SourceNotFound
from kalinsky_core.model import Source
from kalinsky_core.services import SourceLibrary
from kalinsky_web.dependencies import Files, Library, Thumbnailer
from kalinsky_web.schemas import error_responses

# The same number can name another file after a reindex: browsers revalidate (cheaply, by ETag) every time.
_REVALIDATE = {"cache-control": "no-cache"}


def _etag_matches(etag: str, if_none_match: str) -> bool:
    tags = [tag.strip().removeprefix("W/").strip('"') for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def file_answer(path: Path, content_type: str | None = None) -> ASGIApp:
    """The file, with Range requests; 304 Not Modified when the browser's copy (If-None-Match) is current."""
    stat_result = path.stat()
    etag = FileResponse.generate_etag(stat_result)

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        if_none_match = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"if-none-match"), "")
        if if_none_match and _etag_matches(etag, if_none_match):
            response = Response(304, headers={"etag": f'"{etag}"', **_REVALIDATE})
        else:
            response = FileResponse(str(path), headers=_REVALIDATE, content_type=content_type, stat_result=stat_result)
        await response(cast(Any, scope), cast(Any, receive), cast(Any, send))  # baize's ASGI types are looser

    return answer


def _not_found(index: int) -> ASGIApp:
    # An answer rather than an exception: the route's media type (video, image) must not label this JSON.
    return cast(ASGIApp, JSONResponse({"status_code": 404, "detail": f"Source {index} not found"}, status_code=404))


async def _answer_for(
    library: SourceLibrary, index: int, answer: Callable[[Source], Awaitable[ASGIApp]]
) -> ASGIApp:
    """`answer` for the source with this index; 404 if there is none or its file is gone. Raises NotIndexed
    (409) before the first reindex."""
    try:
        return await answer(await library.source(index))
    except (SourceNotFound, LookupError, FileNotFoundError):
        return _not_found(index)


class SourceMediaController(Controller):
    path = "/api/v1/sources/{index:int}"
    tags = ["sources"]

    @get(
        "/media",
        summary="The source video file (Range requests for seeking)",
        description="404 if no indexed source has this index or its file is gone; 409 before the first reindex.",
        media_type="video/*",
        responses=error_responses(e404="No indexed source has this index, or its file is gone", e409="No index yet"),
    )
    async def media(self, index: FromPath[int], library: Library, source_files: Files) -> ASGIApp:
        async def source_file(source: Source) -> ASGIApp:
            return file_answer(source_files.existing(source.filename))

        return await _answer_for(library, index, source_file)

    @get(
        "/thumbnail",
        summary="A JPEG poster frame of the source",
        description="Made with ffmpeg on first request and cached. 404 as for /media.",
        media_type="image/jpeg",
        responses=error_responses(e404="No indexed source has this index, or its file is gone", e409="No index yet"),
    )
    async def thumbnail(self, index: FromPath[int], library: Library, thumbnailer: Thumbnailer) -> ASGIApp:
        async def poster(source: Source) -> ASGIApp:
            return file_answer(await thumbnailer.thumbnail(source), content_type="image/jpeg")

        return await _answer_for(library, index, poster)
