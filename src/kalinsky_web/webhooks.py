"""The web app's webhook deliveries: the API's own Assembly JSON, sent as each assembly finishes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import msgspec

from kalinsky_adapters.container import Container, resolve
from kalinsky_adapters.webhooks import WebhookSender
from kalinsky_core.model import Assembly
from kalinsky_core.services import AssemblyDesk
from kalinsky_web import schemas


@contextlib.asynccontextmanager
async def delivering(container: Container, desk: AssemblyDesk) -> AsyncIterator[WebhookSender]:
    """While the app runs: every finished assembly with a callback URL is told, and so are those a previous run
    finished without telling."""
    settings, files, notices = container.settings(), container.files(), container.notices()

    def body_of(assembly: Assembly) -> bytes:
        return msgspec.json.encode(schemas.Assembly.of(assembly, files.url(assembly.id)))

    sender = WebhookSender(
        await resolve(container.repo),
        body_of,
        secret=settings.webhook_secret,
        first_retry=settings.webhook_first_retry,
        retry_window=settings.webhook_retry_window,
        timeout=settings.webhook_timeout,
    )
    unsubscribe = notices.subscribe(sender.finished)
    await sender.resume(await desk.all())
    try:
        yield sender
    finally:
        unsubscribe()
        await sender.aclose()
