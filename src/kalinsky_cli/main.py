"""The `kalinsky` command group."""

from __future__ import annotations

import click

from kalinsky_cli import assemblies, library, session, workers


@click.group()
def main() -> None:
    """Kalinsky: assemble trimmed clips from a folder of source videos into one video."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--workers", type=click.IntRange(0), default=None,
              help="Renders this server runs at once; 0 serves the API and UI only, leaving renders to "
                   "`kalinsky worker`s [default: KALINSKY_WORKERS, else KALINSKY_MAX_RENDERS].")
def serve(host: str, port: int, workers: int | None) -> None:
    """Serve the API, the frontend and /output/ (OpenAPI at /api/schema)."""
    import attrs
    import uvicorn

    from kalinsky_adapters.logs import configure_logging
    from kalinsky_web.app import create_app

    settings = session.settings().answering_at(host)
    if workers is not None:
        settings = attrs.evolve(settings, workers=workers)
    configure_logging(settings.log_format)
    # uvicorn's own loggers go through the same handler (log_config=None), in the same format.
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", log_config=None)


@main.command("init-db")
@click.argument("database", required=False)
def init_db(database: str | None) -> None:
    """Create the database schema, or upgrade it to the latest revision (for deployment entrypoints).

    DATABASE is a database URL or a SQLite file's path; by default KALINSKY_DATABASE_URL, or else the SQLite file
    at KALINSKY_DB_PATH."""
    from kalinsky_adapters.store.repo import upgrade_schema
    from kalinsky_adapters.store.urls import shown, target

    try:
        url = session.settings().sqlalchemy_url() if database is None else target(database)
    except ValueError as error:
        raise click.ClickException(f"DATABASE {error}") from error
    session.run(upgrade_schema(url))
    click.echo(f"schema ready in {shown(url)}")


main.add_command(library.reindex)
main.add_command(library.sources)
main.add_command(assemblies.assemble)
main.add_command(assemblies.show)
main.add_command(assemblies.export)
main.add_command(assemblies.render)
main.add_command(workers.worker)


if __name__ == "__main__":
    main()
