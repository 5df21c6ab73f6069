"""`kalinsky reindex` and `kalinsky sources`: the source index, as the API's /api/v1/sources has it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from kalinsky_cli import session, text

if TYPE_CHECKING:
    from kalinsky_core.model import Source


@click.command()
@click.option("--proxies", "make_proxies", is_flag=True,
              help="Then make the missing preview proxies, before returning (the server makes them in the background).")
def reindex(make_proxies: bool) -> None:
    """Scan the sources folder with ffprobe and replace the index (like POST /api/v1/sources/reindex)."""
    from kalinsky_adapters.container import resolve
    from kalinsky_core.services import Derive

    settings = session.settings()

    async def work() -> None:
        async with session.opened(settings) as container:
            library = await resolve(container.library)
            proxies = await resolve(container.proxies) if make_proxies else None
            if make_proxies and proxies is None:
                click.echo("preview proxies are turned off (KALINSKY_PREVIEW_PROXIES)", err=True)
            if proxies is None:  # the server brings the proxies in line when it next starts
                index = await library.reindex(Derive.LATER)
            else:
                with text.stderr().status("indexing, then making the missing preview proxies"):
                    index = await library.reindex(Derive.NOW)
            click.echo(f"indexed {len(index.sources)} sources in {settings.sources_dir}")
            for skipped in index.skipped:
                click.echo(f"skipped {skipped.filename}: {skipped.reason}", err=True)
            if proxies is not None:
                wanted = [source for source in index.sources if proxies.wanted(source)]
                made = sum(proxies.ready(source.filename) is not None for source in wanted)
                click.echo(f"preview proxies: {made} of {len(wanted)} ready in {proxies.folder}")

    session.run(work())


@click.command()
def sources() -> None:
    """List the indexed sources: index, file, duration, picture, frame rate, audio, size."""
    from rich.table import Table

    from kalinsky_adapters.container import resolve

    settings = session.settings()

    async def work() -> tuple[Source, ...]:
        async with session.opened(settings) as container:
            sources: tuple[Source, ...] = await (await resolve(container.library)).sources()
            return sources

    table = Table("#", "file", "duration", "resolution", "codec", "fps", "audio", "size")
    for source in session.run(work()):
        table.add_row(str(source.index), source.filename, text.seconds(source.duration), source.resolution,
                      source.codec, text.fps(source), "yes" if source.has_audio else "no", text.size(source.file_size))
    text.stdout().print(table)
