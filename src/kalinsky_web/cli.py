"""The `kalinsky` command."""

from __future__ import annotations

import asyncio
import logging

import click

from kalinsky_web import commands
from kalinsky_web.config import ConfigError, Settings


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as error:
        raise click.ClickException(str(error)) from error


@click.group()
def main() -> None:
    """Kalinsky: assemble trimmed clips from a folder of source videos into one video."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Serve the API, the frontend and /output/ (OpenAPI at /api/schema)."""
    import uvicorn

    from kalinsky_web.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(_settings()), host=host, port=port, log_level="info")


@main.command("init-db")
def init_db() -> None:
    """Create the SQLite schema (for deployment entrypoints)."""
    from kalinsky_adapters.sqlite import init_db as create_schema

    settings = _settings()
    asyncio.run(create_schema(settings.db_path))
    click.echo(f"schema ready in {settings.db_path}")


main.add_command(commands.reindex)
main.add_command(commands.sources)
main.add_command(commands.assemble)
main.add_command(commands.show)
main.add_command(commands.export)


if __name__ == "__main__":
    main()
