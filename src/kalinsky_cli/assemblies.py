"""`kalinsky assemble | show | export`, and the hidden `render` that background renders run.

The commands use the server's settings (`KALINSKY_*`), folders and database, so what they do shows up in the web
UI and the API, and the other way round. Both may have the database open at once (WAL mode).

`assemble` queues the render as the API does. A server or `kalinsky worker` sharing the records takes it; when none
is alive, `assemble --wait` renders it here, and plain `assemble` hands it to a detached background process
(`python -m kalinsky_cli render ID`). Either way one worker at a time holds it (see `kalinsky_core.jobs`), so a
render started here and a server never render the same assembly; one that stops midway is taken over by the next
worker. `--wait` follows the render with a progress bar, wherever it runs.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from kalinsky_cli import session, text

if TYPE_CHECKING:
    from rich.progress import Progress

    from kalinsky_core.model import Assembly
    from kalinsky_core.services import AssemblyDesk
    from kalinsky_web.schemas import AssemblyCreate

#: Seconds between two looks at a running render's progress.
POLL_SECONDS = 0.25
#: Background renders started by this process; kept so their handles are not collected while they run.
_BACKGROUND: list[subprocess.Popen[bytes]] = []


def _read_spec(spec: IO[bytes]) -> AssemblyCreate:
    import msgspec

    from kalinsky_web.schemas import AssemblyCreate

    try:
        return msgspec.json.decode(spec.read(), type=AssemblyCreate)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise click.BadParameter(str(error), param_hint="SPEC") from error


def _progress_bar() -> Progress:
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("ETA {task.fields[eta]}"),
        TimeElapsedColumn(),
        console=text.stderr(),
    )


async def _follow(desk: AssemblyDesk, assembly: Assembly, alive_s: float) -> Assembly:
    """Show the progress and ETA the render stores (as the web UI shows them) until it finishes, wherever it
    runs; render it here whenever no worker is alive to take it."""
    rendering: asyncio.Future[Assembly] | None = None
    looked = 0.0
    with _progress_bar() as bar:
        clips = f"{len(assembly.clips)} clip" + ("s" if len(assembly.clips) > 1 else "")
        task = bar.add_task(f"{assembly.id}: {clips}", total=1.0, eta=text.eta(None))
        while True:
            if rendering is not None:
                await asyncio.wait({rendering}, timeout=POLL_SECONDS)
                if rendering.done():
                    rendering.result()  # its errors, if any
                    rendering = None
            else:
                await asyncio.sleep(POLL_SECONDS)
            current = await desk.get(assembly.id)
            where = f" ({current.phase.value} on {current.worker})" if current.worker and current.phase else ""
            bar.update(task, completed=current.progress, eta=text.eta(current.eta_seconds),
                       description=f"{assembly.id}: {clips}{where}")
            if current.status.is_final:
                return current
            now = asyncio.get_running_loop().time()
            if rendering is None and current.worker is None and now - looked >= alive_s / 5:
                looked = now
                if not await desk.live_workers(alive_s):
                    rendering = asyncio.ensure_future(desk.render(assembly.id))


def _render_in_background(assembly_id: str) -> None:
    """A detached process renders the assembly; it outlives this command and the terminal."""
    _BACKGROUND.append(
        subprocess.Popen(
            [sys.executable, "-m", "kalinsky_cli", "render", assembly_id],
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
              help="Follow the render with a progress bar (rendering it here if no server or worker is there to take "
                   "it); exit code 1 if it fails. Without it the command returns at once.")
def assemble(spec: IO[bytes], preview: bool | None, wait: bool) -> None:
    """Create an assembly from SPEC (a JSON file, `-` for stdin) and render it.

    SPEC is the body of POST /api/v1/assemblies, e.g.

    \b
    {"name": "intro", "preview": false, "clips": [{"source": "a.mp4", "start": 1, "end": 2.5}, {"source": 2}]}

    The render is queued for the server or the workers sharing the database; when none is alive, it runs on this
    machine (in a background process, or here with --wait). Prints the new assembly's id, and with --wait the
    finished file's path. Ctrl-C stops following (and a render running here: the assembly then stays processing and
    the next worker renders it again).
    """
    from kalinsky_adapters.container import resolve
    from kalinsky_core.jobs import Leases
    from kalinsky_core.model import AssemblyStatus

    body = _read_spec(spec)
    settings = session.settings()
    alive_s = Leases().worker_alive

    async def work() -> tuple[Assembly, Path, list[str]]:
        async with session.opened(settings) as container:
            desk = await resolve(container.desk)
            assembly = await desk.start(
                body.clip_inputs(), name=body.name, preview=body.preview if preview is None else preview
            )
            click.echo(assembly.id)
            result = container.files().result(assembly.id).resolve()
            if wait:
                return await _follow(desk, assembly, alive_s), result, []
            return assembly, result, await desk.live_workers(alive_s)

    assembly, result, workers = session.run(work())
    if not wait:
        if workers:
            click.echo(f"queued for {', '.join(workers)}: `kalinsky show {assembly.id}` shows its progress", err=True)
        else:
            _render_in_background(assembly.id)
            click.echo(f"rendering in the background: `kalinsky show {assembly.id}` shows its progress", err=True)
    elif assembly.status is AssemblyStatus.DONE:
        click.echo(f"{assembly.id} done: {text.seconds(assembly.duration)}", err=True)
        click.echo(str(result))
    else:
        raise click.ClickException(f"{assembly.id} {assembly.status.value}: {assembly.error or 'the render stopped'}")


@click.command(hidden=True)
@click.argument("assembly_id")
def render(assembly_id: str) -> None:
    """Render an assembly that is still processing (what `assemble` runs in the background)."""
    from kalinsky_adapters.container import resolve
    from kalinsky_core.model import AssemblyStatus

    settings = session.settings()

    async def work() -> Assembly:
        async with session.opened(settings) as container:
            desk: AssemblyDesk = await resolve(container.desk)
            return await desk.render(assembly_id)

    assembly = session.run(work())
    if assembly.status is AssemblyStatus.FAILED:
        raise click.ClickException(f"{assembly.id} failed: {assembly.error}")


@click.command()
@click.argument("assembly_id")
@click.option("--json", "as_json", is_flag=True, help="Print the assembly as the API returns it.")
def show(assembly_id: str, as_json: bool) -> None:
    """Show an assembly: its state, output file and clips."""
    from rich.table import Table

    from kalinsky_adapters.container import resolve
    from kalinsky_core.model import AssemblyStatus

    settings = session.settings()

    async def work() -> tuple[Assembly, Path, str]:
        async with session.opened(settings) as container:
            assembly = await (await resolve(container.desk)).get(assembly_id)
            files = container.files()
            return assembly, files.result(assembly.id).resolve(), files.url(assembly.id)

    assembly, result, url = session.run(work())
    if as_json:
        import msgspec

        from kalinsky_web import schemas

        click.echo(msgspec.json.encode(schemas.Assembly.of(assembly, url)).decode())
        return
    facts = Table.grid(padding=(0, 2))
    facts.add_row("id", assembly.id)
    facts.add_row("name", assembly.name or "-")
    facts.add_row("status", text.state(assembly))
    facts.add_row("mode", "preview (timecode)" if assembly.preview else "clean")
    facts.add_row("created", assembly.created)
    if assembly.phase is not None:
        facts.add_row("phase", assembly.phase.value + (f" on {assembly.worker}" if assembly.worker else ""))
    facts.add_row("attempts", str(assembly.attempts))
    facts.add_row("duration", text.seconds(assembly.duration))
    if assembly.status is AssemblyStatus.DONE:
        facts.add_row("output", str(result))
    if assembly.error:
        facts.add_row("error", assembly.error)
    clips = Table("pos", "source", "start", "end", "duration")
    for clip in assembly.clips:
        clips.add_row(str(clip.pos), clip.filename, text.seconds(clip.start), text.seconds(clip.end),
                      text.seconds(clip.duration))
    console = text.stdout()
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
    from kalinsky_adapters.container import resolve

    settings = session.settings()

    async def work() -> str:
        async with session.opened(settings) as container:
            desk, library = await resolve(container.desk), await resolve(container.library)
            assembly = await desk.get(assembly_id)
            return container.timelines().export(assembly, await library.sources())

    timeline = session.run(work()) + "\n"
    if output is None:
        click.echo(timeline, nl=False)
    else:
        output.write_text(timeline, encoding="utf-8")
