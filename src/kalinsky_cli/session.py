"""What every command shares: settings from the environment, the composition root's objects for the command's
run, and domain errors as one-line messages with exit code 1."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from kalinsky_adapters.container import Container
    from kalinsky_adapters.settings import Settings

T = TypeVar("T")


def settings() -> Settings:
    from kalinsky_adapters.settings import ConfigError, Settings

    try:
        return Settings.from_env()
    except ConfigError as error:
        raise click.ClickException(str(error)) from error


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one command's work; a domain error or a missing ffmpeg is a one-line message and exit code 1."""
    from kalinsky_core.errors import KalinskyError, NotIndexed

    try:
        return asyncio.run(coroutine)
    except NotIndexed as error:
        raise click.ClickException(error.message.rstrip(".") + " (or run `kalinsky reindex`).") from error
    except KalinskyError as error:
        raise click.ClickException(error.message) from error
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from error


@contextlib.asynccontextmanager
async def opened(configured: Settings) -> AsyncIterator[Container]:
    """The composition root for one command; the resources it opened are closed on the way out."""
    from kalinsky_adapters.container import Container

    container = Container(settings=configured)
    try:
        yield container
    finally:
        result = container.shutdown_resources()
        if result is not None:
            await result
