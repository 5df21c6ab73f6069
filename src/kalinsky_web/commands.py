"""`kalinsky reindex | sources | assemble | show | export`: the service's work from a terminal.

The commands use the server's settings (`KALINSKY_*`), folders and SQLite database, so what they do shows up
in the web UI and the API, and the other way round. Both may have the database open at once (WAL mode).

Renders started here run on this machine outside the server: `assemble --wait` renders in the foreground with
a progress bar; plain `assemble` records the assembly and hands its render to a detached background process
(`python -m kalinsky_web.commands ID`), then returns. Progress and the result land in the database either way.
A render that is stopped midway stays `processing`; the server renders such assemblies again when it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import IO, Any, TypeVar

import click
import msgspec
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from kalinsky_core import services
from kalinsky_core.errors import KalinskyError, NotIndexed
from kalinsky_core.model import Assembly, AssemblyStatus, Source
from kalinsky_core.ports import AssemblyRepo
from kalinsky_core.runner import RenderRunner
from kalinsky_web.config import ConfigError, Settings
from kalinsky_web.container import Container, resolve
from kalinsky_web.schemas import AssemblyCreate

T = TypeVar("T")

#: Seconds between two looks at a running render's progress.
POLL_SECONDS = 0.25
#: Background renders started by this process; kept so their handles are not collected while they run.
_BACKGROUND: list[subprocess.Popen] = []


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as error:
        raise click.ClickException(str(error)) from error


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one command's work; a domain error or a missing ffmpeg is a one-line message and exit code 1."""
    try:
        return asyncio.run(coroutine)
    except NotIndexed as error:
        raise click.ClickException(error.message.rstrip(".") + " (or run `kalinsky reindex`).") from error
    except KalinskyError as error:
        raise click.ClickException(error.message) from error
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from error


@contextlib.asynccontextmanager
async def _adapters(settings: Settings) -> AsyncIterator[Container]:
    """The server's container; resources that were opened are closed on the way out."""
    container = Container(settings=settings)
    try:
        yield container
    finally:
        result = container.shutdown_resources()
        if result is not None:
            await result


async def _repo(container: Container) -> AssemblyRepo:
    return await resolve(container.repo)


def _stdout() -> Console:
    return Console(highlight=False)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"


def _fps(source: Source) -> str:
    return f"{float(source.fps):.2f}".rstrip("0").rstrip(".")


def _size(size: int) -> str:
    value, unit = float(size), "B"
    for bigger in ("kB", "MB", "GB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"


def _output_file(settings: Settings, assembly: Assembly) -> Path:
    return (settings.output_dir / assembly.id / "result.mp4").resolve()


# -- reindex, sources ----------------------------------------------------------------------------------------


@click.command()
@click.option("--proxies", "make_proxies", is_flag=True,
              help="Then make the missing preview proxies, before returning (the server makes them in the background).")
def reindex(make_proxies: bool) -> None:
    """Scan the sources folder with ffprobe and replace the index (like POST /api/v1/sources/reindex)."""
    settings = _settings()

    async def work():
        async with _adapters(settings) as container:
            index = await services.reindex(await resolve(container.prober), await _repo(container))
            click.echo(f"indexed {len(index.sources)} sources in {settings.sources_dir}")
            for skipped in index.skipped:
                click.echo(f"skipped {skipped.filename}: {skipped.reason}", err=True)
            proxies = await resolve(container.proxies) if make_proxies else None
            if make_proxies and proxies is None:
                click.echo("preview proxies are turned off (KALINSKY_PREVIEW_PROXIES)", err=True)
            if proxies is not None:
                wanted = [source for source in index.sources if proxies.wanted(source)]
                with _stderr().status(f"making preview proxies of {len(wanted)} sources"):
                    await proxies.make_all(index.sources)
                made = sum(proxies.ready(source.filename) is not None for source in wanted)
                click.echo(f"preview proxies: {made} of {len(wanted)} ready in {proxies.folder}")

    _run(work())


@click.command()
def sources() -> None:
    """List the indexed sources: index, file, duration, picture, frame rate, audio, size."""
    settings = _settings()

    async def work():
        async with _adapters(settings) as container:
            return await services.list_sources(await _repo(container))

    table = Table("#", "file", "duration", "resolution", "codec", "fps", "audio", "size")
    for source in _run(work()):
        table.add_row(str(source.index), source.filename, _seconds(source.duration), source.resolution,
                      source.codec, _fps(source), "yes" if source.has_audio else "no", _size(source.file_size))
    _stdout().print(table)


# -- assemble ------------------------------------------------------------------------------------------------


def _read_spec(spec: IO[bytes]) -> AssemblyCreate:
    try:
        return msgspec.json.decode(spec.read(), type=AssemblyCreate)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise click.BadParameter(str(error), param_hint="SPEC") from error


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("ETA {task.fields[eta]}"),
        TimeElapsedColumn(),
        console=_stderr(),
    )


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "-:--"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


async def _render_watched(repo: AssemblyRepo, runner: RenderRunner, assembly: Assembly) -> Assembly:
    """Render on `runner`, showing the progress and ETA the render stores (as the web UI shows them)."""
    runner.submit(assembly)
    idle = asyncio.ensure_future(runner.wait_idle())
    with _progress_bar() as bar:
        clips = f"{len(assembly.clips)} clip" + ("s" if len(assembly.clips) > 1 else "")
        task = bar.add_task(f"{assembly.id}: {clips}", total=1.0, eta=_eta(None))
        while True:
            done, _ = await asyncio.wait({idle}, timeout=POLL_SECONDS)
            current = await services.get_assembly(repo, assembly.id)
            bar.update(task, completed=current.progress, eta=_eta(current.eta_seconds))
            if done:
                return current


def _render_in_background(assembly_id: str) -> None:
    """A detached process renders the assembly; it outlives this command and the terminal."""
    _BACKGROUND.append(
        subprocess.Popen(
            [sys.executable, "-m", "kalinsky_web.commands", assembly_id],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    )


@click.command()
@click.argument("spec", type=click.File("rb"))
@click.option("--preview/--clean", default=None,
              help="Burn in a timecode at preview size, or render clean at full size [default: the spec's preview].")
@click.option("--wait", is_flag=True,
              help="Render here with a progress bar; exit code 1 if the render fails. "
                   "Without it the render runs in a background process and the command returns at once.")
def assemble(spec: IO[bytes], preview: bool | None, wait: bool) -> None:
    """Create an assembly from SPEC (a JSON file, `-` for stdin) and render it.

    SPEC is the body of POST /api/v1/assemblies, e.g.

    \b
    {"name": "intro", "preview": false, "clips": [{"source": "a.mp4", "start": 1, "end": 2.5}, {"source": 2}]}

    Prints the new assembly's id, and with --wait the finished file's path. Ctrl-C stops a --wait render; the
    assembly then stays processing and the server renders it again when it starts.
    """
    body = _read_spec(spec)
    settings = _settings()

    async def work() -> Assembly:
        async with _adapters(settings) as container:
            repo = await _repo(container)
            assembly = await services.create_assembly(
                repo,
                [clip.to_domain() for clip in body.clips],
                name=body.name,
                preview=body.preview if preview is None else preview,
            )
            click.echo(assembly.id)
            if not wait:
                return assembly
            return await _render_watched(repo, await resolve(container.runner), assembly)

    assembly = _run(work())
    if not wait:
        _render_in_background(assembly.id)
        click.echo(f"rendering in the background: `kalinsky show {assembly.id}` shows its progress", err=True)
    elif assembly.status is AssemblyStatus.DONE:
        click.echo(f"{assembly.id} done: {_seconds(assembly.duration)}", err=True)
        click.echo(str(_output_file(settings, assembly)))
    else:
        raise click.ClickException(f"{assembly.id} {assembly.status.value}: {assembly.error or 'the render stopped'}")


@click.command(hidden=True)
@click.argument("assembly_id")
def render(assembly_id: str) -> None:
    """Render an assembly that is still processing (what `assemble` runs in the background)."""
    settings = _settings()

    async def work() -> Assembly:
        async with _adapters(settings) as container:
            assembly = await services.get_assembly(await _repo(container), assembly_id)
            if assembly.status is AssemblyStatus.PROCESSING:
                runner: RenderRunner = await resolve(container.runner)
                runner.submit(assembly)
                await runner.wait_idle()
            return await services.get_assembly(await _repo(container), assembly_id)

    assembly = _run(work())
    if assembly.status is AssemblyStatus.FAILED:
        raise click.ClickException(f"{assembly.id} failed: {assembly.error}")


# -- show, export --------------------------------------------------------------------------------------------


def _state(assembly: Assembly) -> str:
    if assembly.status is AssemblyStatus.PROCESSING:
        left = "" if assembly.eta_seconds is None else f", about {_eta(assembly.eta_seconds)} left"
        return f"processing {assembly.progress:.0%}{left}"
    return assembly.status.value


@click.command()
@click.argument("assembly_id")
@click.option("--json", "as_json", is_flag=True, help="Print the assembly as the API returns it.")
def show(assembly_id: str, as_json: bool) -> None:
    """Show an assembly: its state, output file and clips."""
    settings = _settings()

    async def work() -> Assembly:
        async with _adapters(settings) as container:
            return await services.get_assembly(await _repo(container), assembly_id)

    assembly = _run(work())
    if as_json:
        click.echo(msgspec.json.encode(assembly).decode())
        return
    facts = Table.grid(padding=(0, 2))
    facts.add_row("id", assembly.id)
    facts.add_row("name", assembly.name or "-")
    facts.add_row("status", _state(assembly))
    facts.add_row("mode", "preview (timecode)" if assembly.preview else "clean")
    facts.add_row("created", assembly.created)
    facts.add_row("duration", _seconds(assembly.duration))
    if assembly.output_url:
        facts.add_row("output", str(_output_file(settings, assembly)))
    if assembly.error:
        facts.add_row("error", assembly.error)
    clips = Table("pos", "source", "start", "end", "duration")
    for clip in assembly.clips:
        clips.add_row(str(clip.pos), clip.filename, _seconds(clip.start), _seconds(clip.end), _seconds(clip.duration))
    console = _stdout()
    console.print(facts)
    console.print(clips)


@click.command()
@click.argument("assembly_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the timeline to FILE (e.g. cut.otio) [default: stdout].")
def export(assembly_id: str, output: Path | None) -> None:
    """Export an assembly as an OpenTimelineIO timeline (.otio JSON).

    Source ranges count frames at each source's own rate; media references are file:// URLs of the sources.
    """
    from kalinsky_adapters.otio import assembly_timeline, timeline_json

    settings = _settings()

    async def work() -> str:
        async with _adapters(settings) as container:
            repo = await _repo(container)
            assembly = await services.get_assembly(repo, assembly_id)
            return timeline_json(assembly_timeline(assembly, await services.list_sources(repo), settings.sources_dir))

    text = _run(work()) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    render()
