"""Read-only media of indexed sources: the file itself (for the player), a poster frame (for the library), and
what the player's trim bar shows (a filmstrip, the sound's peaks, the keyframes).

Sources are reached only by their index number, never by a path, and only while their file is inside the sources
folder (checked at every request: a file that became a link out of the folder is not found). Both answers support
conditional requests (ETag) and the file supports HTTP Range requests, which a browser needs to seek in a video.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import cast

from baize.asgi import JSONResponse
from litestar import Controller, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.types import ASGIApp

from kalinsky_adapters.thumbnails import PosterFailed
from kalinsky_adapters.timeline import filmstrip_layout
from kalinsky_core.errors import SourceNotFound
from kalinsky_core.model import Source
from kalinsky_core.plan import copy_ends
from kalinsky_core.qc import browser_playable
from kalinsky_core.services import SourceLibrary
from kalinsky_web.dependencies import Files, Library, Proxies, Rules, Thumbnailer, TrimBar
from kalinsky_web.files import file_answer
from kalinsky_web.schemas import Filmstrip, SourceTimeline, error_responses


def _error(status: int, detail: str) -> ASGIApp:
    # An answer rather than an exception: the route's media type (video, image) must not label this JSON.
    return cast(ASGIApp, JSONResponse({"status_code": status, "detail": detail}, status_code=status))


def _not_found(index: int) -> ASGIApp:
    return _error(404, f"Source {index} not found")


async def _answer_for(
    library: SourceLibrary, index: int, answer: Callable[[Source], Awaitable[ASGIApp]]
) -> ASGIApp:
    """`answer` for the source with this index; 404 if there is none, its file is gone or it now leads out of the
    sources folder; 422 if no poster can be made of it. Raises NotIndexed (409) before the first reindex."""
    try:
        return await answer(await library.source(index))
    except (SourceNotFound, LookupError, OSError):
        return _not_found(index)
    except PosterFailed as error:
        return _error(422, error.message)


class SourceMediaController(Controller):
    path = "/api/v1/sources/{index:int}"
    tags = ["sources"]

    @get(
        "/media",
        summary="The source video, as a browser plays it (Range requests for seeking)",
        description="The source file itself; for a source the browser cannot play as it is (qc.browser_plays "
        "false), its proxy once ready (proxy.state \"ready\"): H.264 8-bit BT.709 with AAC sound, the same frames "
        "at the same times. 404 if no indexed source has this index or its file is gone; 409 before the first "
        "reindex.",
        media_type="video/*",
        responses=error_responses(e404="No indexed source has this index, or its file is gone", e409="No index yet"),
    )
    async def media(self, index: FromPath[int], library: Library, source_files: Files, proxies: Proxies) -> ASGIApp:
        async def source_file(source: Source) -> ASGIApp:
            original = source_files.existing(source.filename)  # checked even when the proxy is served
            if proxies is not None and not browser_playable(source):
                proxy = await asyncio.to_thread(proxies.ready, source.filename)
                if proxy is not None:
                    return file_answer(proxy, content_type="video/mp4")
            return file_answer(original)

        return await _answer_for(library, index, source_file)

    @get(
        "/thumbnail",
        summary="A JPEG poster frame of the source",
        description="Made with ffmpeg on first request and cached. 404 as for /media.",
        media_type="image/jpeg",
        responses=error_responses(
            e404="No indexed source has this index, or its file is gone",
            e409="No index yet",
            e422="No poster frame can be made of the file",
        ),
    )
    async def thumbnail(self, index: FromPath[int], library: Library, thumbnailer: Thumbnailer) -> ASGIApp:
        async def poster(source: Source) -> ASGIApp:
            return file_answer(await thumbnailer.thumbnail(source), content_type="image/jpeg")

        return await _answer_for(library, index, poster)

    @get(
        "/filmstrip",
        summary="A JPEG sprite of evenly spaced frames of the source, upright, in one row",
        description="Made with ffmpeg on first request and cached; the layout (tile size, the frame and time of "
        "each tile) is in GET /sources/{index}/timeline. 404 as for /media.",
        media_type="image/jpeg",
        responses=error_responses(
            e404="No indexed source has this index, or its file is gone",
            e409="No index yet",
            e422="No frame of the file can be read",
        ),
    )
    async def filmstrip(self, index: FromPath[int], library: Library, trim_bar: TrimBar) -> ASGIApp:
        async def sprite(source: Source) -> ASGIApp:
            return file_answer(await trim_bar.filmstrip(source), content_type="image/jpeg")

        return await _answer_for(library, index, sprite)

    @get(
        "/waveform",
        summary="The peaks of the source's sound: {rate: peaks per second, peaks: [0..1, ...]}",
        description="Each peak is the largest absolute sample of its share of the sound, decoded to mono; no peaks "
        "for a source without sound. Made with ffmpeg on first request and cached. 404 as for /media.",
        media_type="application/json",
        responses=error_responses(
            e404="No indexed source has this index, or its file is gone",
            e409="No index yet",
            e422="The sound of the file cannot be read",
        ),
    )
    async def waveform(self, index: FromPath[int], library: Library, trim_bar: TrimBar) -> ASGIApp:
        async def peaks(source: Source) -> ASGIApp:
            return file_answer(await trim_bar.waveform(source), content_type="application/json")

        return await _answer_for(library, index, peaks)

    @get(
        "/timeline",
        summary="The source's keyframes, copy ends and filmstrip layout, for the trim bar",
        description="Frames are counted at `frame_rate`. 404 as for /media.",
        responses=error_responses(e404="No indexed source has this index, or its file is gone", e409="No index yet"),
    )
    async def timeline(self, index: FromPath[int], library: Library, source_files: Files, rules: Rules) -> (
        SourceTimeline
    ):
        try:
            source = await library.source(index)
            source_files.existing(source.filename)
        except (SourceNotFound, LookupError, OSError):
            raise NotFoundException(f"Source {index} not found") from None
        layout = filmstrip_layout(source)
        ends = copy_ends(source)
        even = source.width % 2 == 0 and source.height % 2 == 0
        return SourceTimeline(
            copy_ends=None if ends is None else list(ends),
            copyable=source.coding is not None and rules.copyable(source.coding) and even,
            filmstrip=Filmstrip(
                count=layout.count, frames=list(layout.frames), tile_height=layout.tile_height,
                tile_width=layout.tile_width, times=list(layout.times),
            ),
            frame_count=source.frame_count,
            frame_rate=source.frame_rate,
            keyframes=list(source.keyframes),
        )
