"""What a running service tells its operators: Prometheus metrics and one structured log line per render start and
end. Metrics live in a registry of their own per application, so several apps in one process never share them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from kalinsky_adapters import process
from kalinsky_core.jobs import RenderClaimed
from kalinsky_core.model import Assembly, AssemblyStatus, SourceIndex

log = logging.getLogger("kalinsky.renders")

#: Render durations span seconds (a copied clip) to an hour (a long re-encode).
RENDER_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
REINDEX_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
#: The media type of `Metrics.exposition()`, without the charset (web frameworks add that to text/* types).
MEDIA_TYPE = CONTENT_TYPE_LATEST.removesuffix("; charset=utf-8")


class Metrics:
    """The service's metrics, in `registry`; `render`/`reindexed` are called as work happens."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.renders = Counter(
            "kalinsky_renders", "Renders that ended, by final status", ["status"], registry=self.registry
        )
        for status in AssemblyStatus:
            if status.is_final:
                self.renders.labels(status.value)  # every status shows from the start, at 0
        self.processing = Gauge("kalinsky_renders_processing", "Renders running now", registry=self.registry)
        self.render_seconds = Histogram(
            "kalinsky_render_duration_seconds", "Wall-clock time of renders that ended, from start to end",
            buckets=RENDER_BUCKETS, registry=self.registry,
        )
        self.queue_depth = Gauge(
            "kalinsky_render_queue_depth", "Renders queued or running", registry=self.registry
        )
        self.queue_depth.set_function(lambda: 0)
        self.ffmpeg_processes = Gauge(
            "kalinsky_ffmpeg_processes", "ffmpeg processes running now", registry=self.registry
        )
        self.ffmpeg_processes.set_function(lambda: process.running("ffmpeg"))
        self.reindexes = Counter("kalinsky_reindexes", "Reindexes of the sources folder", registry=self.registry)
        self.reindex_seconds = Histogram(
            "kalinsky_reindex_duration_seconds", "Time to probe the sources folder and replace the index",
            buckets=REINDEX_BUCKETS, registry=self.registry,
        )
        self.sources = Gauge("kalinsky_sources_indexed", "Sources in the index", registry=self.registry)

    def finished(self, assembly: Assembly) -> None:
        """Count an assembly that reached its final status (a render that ended, or a cancel)."""
        self.renders.labels(assembly.status.value).inc()

    def watch_queue(self, depth: Callable[[], int]) -> None:
        """Read the queue depth from `depth` at every scrape."""
        self.queue_depth.set_function(depth)

    def reindexed(self, index: SourceIndex, seconds: float) -> None:
        self.reindexes.inc()
        self.reindex_seconds.observe(seconds)
        self.sources.set(len(index.sources))

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)

    def observed(self, render: RenderClaimed) -> RenderClaimed:
        """`render`, timed and logged at its start and end (a render stopped midway, or whose end another process
        recorded, is logged `cancelled`). Final statuses are counted by `finished`, which also hears of cancels of
        renders not yet started."""

        async def observed_render(assembly: Assembly, worker: str) -> Assembly | None:
            started = time.monotonic()
            _log_start(assembly)
            status, finished = AssemblyStatus.CANCELLED.value, None
            self.processing.inc()
            try:
                finished = await render(assembly, worker)
                if finished is not None:
                    status = finished.status.value
                return finished
            except asyncio.CancelledError:
                raise
            except Exception:
                status = AssemblyStatus.FAILED.value
                raise
            finally:
                seconds = time.monotonic() - started
                self.processing.dec()
                self.render_seconds.observe(seconds)
                _log_end(assembly, finished, status, seconds)

        return observed_render


def _seconds_since(created: str) -> float | None:
    try:
        moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round((datetime.now(timezone.utc) - moment).total_seconds(), 3)


def _log_start(assembly: Assembly) -> None:
    queued = _seconds_since(assembly.created)
    log.info(
        "render %s started: %d clips, %s s after creation",
        assembly.id, len(assembly.clips), queued,
        extra={"event": "render_started", "assembly_id": assembly.id, "clips": len(assembly.clips),
               "preview": assembly.preview, "queued_seconds": queued},
    )


def _log_end(assembly: Assembly, finished: Assembly | None, status: str, seconds: float) -> None:
    render_seconds = round(seconds, 3)
    output = None if finished is None else finished.duration
    error = None if finished is None else finished.error
    log.info(
        "render %s ended %s in %.3f s (output %s s)%s",
        assembly.id, status, render_seconds, output, f": {error}" if error else "",
        extra={"event": "render_finished", "assembly_id": assembly.id, "status": status,
               "render_seconds": render_seconds, "total_seconds": _seconds_since(assembly.created),
               "output_seconds": output, "error": error},
    )
