"""`kalinsky worker`: render queued assemblies of the shared records until stopped.

A worker takes renders from the database (and the job queue, when there is one) that the API processes and the
command line write to: on this machine, or on others that see the same sources, output and data folders at the same
paths. SIGTERM or SIGINT stops it: the renders it holds are stopped and handed back at once, for the next worker.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from typing import TYPE_CHECKING

import click

from kalinsky_cli import session

if TYPE_CHECKING:
    from kalinsky_adapters.settings import Settings

#: A worker is taken for alive by `--check` when it said so within this many seconds.
CHECK_WITHIN_S = 30.0


@click.command()
@click.option("--renders", type=click.IntRange(1), default=None,
              help="Renders at once [default: KALINSKY_WORKERS, else KALINSKY_MAX_RENDERS].")
@click.option("--check", is_flag=True,
              help="Exit 0 if a worker on this host said it was alive in the last 30 s, else 1 (a healthcheck).")
def worker(renders: int | None, check: bool) -> None:
    """Render queued assemblies from the shared database until SIGTERM or SIGINT."""
    import attrs

    from kalinsky_adapters.logs import configure_logging

    settings = session.settings()
    if check:
        raise SystemExit(0 if session.run(_alive_here(settings)) else 1)
    slots = renders or settings.workers or settings.max_renders
    settings = attrs.evolve(settings, workers=slots)
    configure_logging(settings.log_format)
    session.run(_work(settings))


async def _alive_here(settings: Settings) -> bool:
    import attrs

    from kalinsky_adapters.container import resolve

    async with session.opened(attrs.evolve(settings, workers=0)) as container:
        repo = await resolve(container.repo)
        host = socket.gethostname()
        return any(name.rsplit(":", 1)[0] == host for name in await repo.live_workers(CHECK_WITHIN_S))


async def _work(settings: Settings) -> None:
    import logging

    from kalinsky_adapters.container import resolve, worker_name
    from kalinsky_web import webhooks

    log = logging.getLogger("kalinsky.worker")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with session.opened(settings) as container:
        desk = await resolve(container.desk)
        async with webhooks.delivering(container, desk):
            await desk.resume_unfinished()
            log.info("worker %s renders up to %d at once", worker_name(), settings.render_slots())
            await stop.wait()
            log.info("worker %s stops", worker_name())
