"""`GET /api/v1/events`: Server-Sent Events of assembly and index changes, as they are stored, by this process or
any other sharing the records (deletes and reindexes too).

Events: `ready` once the stream follows the changes, then `created`, `progress`, `finished`, `deleted` (data: the
API's Assembly body) and `index` (data: `{"count": N}`), and `overflow` when this client fell so far behind that events
were dropped (reload what you show). A comment every few seconds keeps proxies from closing a quiet stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
from litestar import get
from litestar.response import ServerSentEvent, ServerSentEventMessage

from kalinsky_web.dependencies import Events, OutputUrl
from kalinsky_web.schemas import Assembly

#: Seconds between two keep-alive comments on a quiet stream.
KEEPALIVE_SECONDS = 15.0


@get(
    "/api/v1/events",
    tags=["events"],
    summary="Assembly and index changes as Server-Sent Events",
    description="`ready`, then `created` / `progress` / `finished` with the assembly, `index` with the count of "
    "sources, `overflow` when events were dropped for a slow client.",
    media_type="text/event-stream",
)
async def events(events: Events, output_url: OutputUrl) -> ServerSentEvent:
    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        async with events.follow() as queue:
            yield ServerSentEventMessage(event="ready", data="{}")
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ServerSentEventMessage(comment="keep-alive")
                    continue
                if event.assembly is not None:
                    body = Assembly.of(event.assembly, output_url(event.assembly.id))
                    data = msgspec.json.encode(body).decode()
                else:
                    data = msgspec.json.encode({"count": event.sources} if event.kind == "index" else {}).decode()
                yield ServerSentEventMessage(event=event.kind, data=data)

    return ServerSentEvent(stream(), headers={"cache-control": "no-cache", "x-accel-buffering": "no"})
