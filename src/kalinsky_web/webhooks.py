"""The web app's webhook deliveries: the API's own Assembly JSON, sent as each assembly finishes."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import msgspec

from kalinsky_adapters.container import Container, resolve
from kalinsky_adapters.webhooks import WebhookSender
from kalinsky_core.model import Assembly
from kalinsky_core.services import AssemblyDesk
from kalinsky_web import schemas

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def delivering(container: Container, desk: AssemblyDesk) -> AsyncIterator[WebhookSender]:
    """While the app runs: every finished assembly with a callback URL is told, and so are those a previous run
    (or a process that died, or one that delivers nothing) finished without telling, each by one process of those
    sharing the records. The claims on notices last as long as the render leases (KALINSKY_LEASE_SECONDS)."""
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
        allow_private=settings.webhook_allow_private,
        lease=settings.lease_seconds,
    )
    if not settings.webhook_secret:
        log.warning("KALINSKY_WEBHOOK_SECRET is not set: webhook deliveries (callback_url) are unsigned, and "
                    "receivers cannot tell them from forgeries")
    unsubscribe = notices.subscribe(sender.finished)
    await sender.start()
    try:
        yield sender
    finally:
        unsubscribe()
        await sender.aclose()
