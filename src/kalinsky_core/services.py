"""Use cases. Each takes the ports it needs as arguments, so any adapters (or fakes) can drive it."""

from __future__ import annotations

import logging
import posixpath
import time
from collections.abc import Sequence
from datetime import datetime, timezone

import attrs

from kalinsky_core.errors import AssemblyFinished, AssemblyNotFound, KalinskyError, NotIndexed, ProbeFailed
from kalinsky_core.model import (
    SOURCE_EXTENSIONS,
    Assembly,
    AssemblyStatus,
    ClipInput,
    SkippedFile,
    Source,
    SourceIndex,
    assembly_id,
)
from kalinsky_core.plan import plan_render, resolve_clips, sources_by_filename
from kalinsky_core.ports import AssemblyRepo, Concatenator, MediaProber, SegmentCutter
from kalinsky_core.runner import RenderRunner

log = logging.getLogger(__name__)

#: Share of a render's progress given to cutting; the rest is the final join.
CUT_SHARE = 0.9
#: Progress is stored only when it moved by at least this much (or the step ended).
PROGRESS_STEP = 0.01


def is_source_file(filename: str) -> bool:
    return posixpath.splitext(filename)[1].lower() in SOURCE_EXTENSIONS


async def reindex(prober: MediaProber, repo: AssemblyRepo) -> SourceIndex:
    """Probe every video file of the sources folder and replace the index: sorted by filename, 1-based.

    Files the prober cannot read are skipped and reported, never fatal; other extensions are ignored.
    """
    sources: list[Source] = []
    skipped: list[SkippedFile] = []
    for filename in sorted(name for name in await prober.list_files() if is_source_file(name)):
        try:
            info = await prober.probe(filename)
        except ProbeFailed as error:
            skipped.append(SkippedFile(filename=filename, reason=error.message))
            continue
        sources.append(Source.from_media(len(sources) + 1, filename, info))
    await repo.replace_sources(sources)
    return SourceIndex(sources=tuple(sources), skipped=tuple(skipped))


async def list_sources(repo: AssemblyRepo) -> tuple[Source, ...]:
    sources = await repo.list_sources()
    if sources is None:
        raise NotIndexed()
    return sources


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def create_assembly(
    repo: AssemblyRepo,
    clips: Sequence[ClipInput],
    *,
    name: str | None = None,
    preview: bool = True,
    created: str | None = None,
) -> Assembly:
    """Validate the clips against the index and store a new, immutable assembly in `processing`.

    Each clip records how its video will be made (copied, smart-cut or re-encoded), as planned from the index.
    """
    sources = await repo.list_sources()
    resolved = resolve_clips(clips, sources)
    assembly = Assembly(
        id=assembly_id(await repo.next_sequence()),
        name=name,
        preview=preview,
        clips=resolved,
        created=created or utc_now(),
    )
    plan = plan_render(assembly, sources_by_filename(sources or ()), fade_ms=0)
    assembly = attrs.evolve(
        assembly, clips=[attrs.evolve(clip, video=segment.video) for clip, segment in zip(resolved, plan.segments)]
    )
    await repo.add(assembly)
    return assembly


async def get_assembly(repo: AssemblyRepo, assembly_id: str) -> Assembly:
    assembly = await repo.get(assembly_id)
    if assembly is None:
        raise AssemblyNotFound()
    return assembly


def output_url(assembly_id: str) -> str:
    return f"/output/{assembly_id}/result.mp4"


class _ProgressRecorder:
    """Turns per-step seconds into the assembly's overall progress and ETA, storing them in coarse steps."""

    def __init__(self, repo: AssemblyRepo, assembly: Assembly) -> None:
        self.repo = repo
        self.assembly = assembly
        self.stored = assembly.progress
        self.started = time.monotonic()

    def eta(self, fraction: float) -> float | None:
        """Seconds left, assuming the rest goes at the average speed so far."""
        if fraction < PROGRESS_STEP:
            return None
        return round((time.monotonic() - self.started) * (1 - fraction) / fraction, 1)

    async def record(self, fraction: float) -> None:
        self.assembly = self.assembly.with_progress(fraction, self.eta(fraction))
        if self.assembly.progress - self.stored >= PROGRESS_STEP:
            self.stored = self.assembly.progress
            await self.repo.save_state(self.assembly)

    def within(self, base: float, share: float, seconds: float):
        """A progress callback for one step that covers `share` of the whole, starting at `base`."""

        async def callback(done: float) -> None:
            await self.record(base + share * min(max(done, 0.0), seconds) / max(seconds, 1e-9))

        return callback


async def render_assembly(
    assembly: Assembly,
    repo: AssemblyRepo,
    cutter: SegmentCutter,
    concatenator: Concatenator,
    *,
    fade_ms: int,
    preview_height: int | None = None,
) -> Assembly:
    """Render an assembly: cut every clip, join them, and store `done` or `failed`.

    A render that is cancelled (e.g. at shutdown) leaves the record in `processing`, so it can be rendered
    again later; its partial files are discarded either way, and so is anything an earlier, interrupted render
    of the same assembly left behind.
    """
    await concatenator.discard(assembly.id)
    try:
        plan = plan_render(
            assembly,
            sources_by_filename(await repo.list_sources() or ()),
            fade_ms=fade_ms,
            preview_height=preview_height,
        )
        recorder = _ProgressRecorder(repo, assembly.with_progress(0.0))
        await repo.save_state(recorder.assembly)
        cut_segments = []
        base = 0.0
        for segment in plan.segments:
            share = CUT_SHARE * segment.duration / plan.duration
            cut_segments.append(await cutter.cut(plan, segment, recorder.within(base, share, segment.duration)))
            base += share
        output = await concatenator.concat(plan, cut_segments, recorder.within(CUT_SHARE, 1 - CUT_SHARE, plan.duration))
        finished = recorder.assembly.completed(output_url(assembly.id), output.duration)
    except KalinskyError as error:
        finished = assembly.failed(error.message)
        await concatenator.discard(assembly.id)
    except Exception as error:  # a bug must not leave the record processing forever
        log.exception("render of %s failed", assembly.id)
        finished = assembly.failed(f"internal error: {error!r}")
        await concatenator.discard(assembly.id)
    except BaseException:
        await concatenator.discard(assembly.id)
        raise
    await repo.save_state(finished)
    return finished


async def cancel_assembly(
    repo: AssemblyRepo, runner: RenderRunner, concatenator: Concatenator, assembly_id: str
) -> Assembly:
    """Stop an assembly's queued or running render, remove its files and record it `cancelled`."""
    assembly = await get_assembly(repo, assembly_id)
    if assembly.status.is_final:
        raise AssemblyFinished(assembly.id, assembly.status.value)
    await runner.cancel(assembly.id)
    assembly = await get_assembly(repo, assembly_id)
    if assembly.status.is_final:  # it ended while being stopped
        raise AssemblyFinished(assembly.id, assembly.status.value)
    await concatenator.discard(assembly.id)
    cancelled = assembly.cancelled()
    await repo.save_state(cancelled)
    return cancelled


async def unfinished_assemblies(repo: AssemblyRepo) -> list[Assembly]:
    """Assemblies left in `processing` (e.g. by a stop mid-render), oldest first, to be rendered again."""
    return [assembly for assembly in reversed(await repo.list()) if assembly.status is AssemblyStatus.PROCESSING]
