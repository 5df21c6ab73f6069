"""In-memory adapters of every port: for the core's tests, property tests and tools that need no disk."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import attrs

from kalinsky_adapters.ffmpeg.codecs import CodecRules
from kalinsky_core.errors import ProbeFailed, RenderFailed
from kalinsky_core.jobs import Leases, Renderer
from kalinsky_core.model import (
    Assembly,
    AssemblyStatus,
    Callback,
    CallbackStatus,
    FileIdentity,
    MediaInfo,
    Phase,
    Source,
)
from kalinsky_core.plan import RenderPlan, SegmentPlan
from kalinsky_core.ports import (
    AssemblyRepo,
    AudioTrack,
    Changes,
    CodingRules,
    CutSegment,
    ProgressCallback,
    RenderedOutput,
)
from kalinsky_core.report import OutputMeasurements, RenderReport
from kalinsky_core.services import Rendering, render_owned

_UNDELIVERED = (CallbackStatus.PENDING, CallbackStatus.RETRYING)


class InMemoryRepo:
    """An AssemblyRepo kept in dictionaries, with the semantics of the SQL one: `save_state` stores only the render
    state, leases run on `clock` (seconds, `time.time` by default), every change raises the revision."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._sources: tuple[Source, ...] | None = None
        self._assemblies: dict[str, Assembly] = {}
        self._sequence = 0
        self._reports: dict[str, RenderReport] = {}
        self._leases: dict[str, float] = {}  # assembly id -> when its worker's lease runs out
        self._workers: dict[str, float] = {}  # worker -> when it last said it was alive
        self._revision = 0
        self._revisions: dict[str, int] = {}  # assembly id -> revision of its last change
        self._deliveries: dict[str, tuple[str, float]] = {}  # assembly id -> its notice's deliverer, lease end
        self._deleted: list[tuple[int, Assembly]] = []  # (revision, assembly as it was), oldest first
        self._index_revision = 0

    def _store(self, assembly: Assembly) -> None:
        self._assemblies[assembly.id] = assembly
        self._revision += 1
        self._revisions[assembly.id] = self._revision

    def _held_by_other(self, stored: Assembly, worker: str) -> bool:
        return stored.worker is not None and stored.worker != worker and self._leases.get(stored.id, 0) > self.clock()

    async def replace_sources(self, sources: Sequence[Source]) -> None:
        self._sources = tuple(sources)
        self._revision += 1
        self._index_revision = self._revision

    async def list_sources(self) -> tuple[Source, ...] | None:
        return self._sources

    async def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    async def add(self, assembly: Assembly) -> None:
        if assembly.id in self._assemblies:
            raise ValueError(f"assembly {assembly.id} exists")
        self._store(assembly)

    async def get(self, assembly_id: str) -> Assembly | None:
        return self._assemblies.get(assembly_id)

    async def save_state(self, assembly: Assembly, *, worker: str | None = None) -> bool:
        stored = self._assemblies.get(assembly.id)
        if stored is None or stored.status.is_final or (worker is not None and stored.worker != worker):
            return False
        final = assembly.status.is_final
        self._store(attrs.evolve(
            stored,
            status=assembly.status,
            progress=assembly.progress,
            eta_seconds=assembly.eta_seconds,
            error=assembly.error,
            duration=assembly.duration,
            phase=None if final else assembly.phase,
            worker=None if final else stored.worker,
        ))
        if final:
            self._leases.pop(assembly.id, None)
        return True

    async def finish(self, assembly: Assembly, report: RenderReport | None, *, worker: str | None = None) -> bool:
        stored = await self.save_state(assembly, worker=worker)
        if stored and report is not None:
            self._reports[assembly.id] = report
        return stored

    async def claim(self, assembly_id: str, worker: str, lease_s: float) -> Assembly | None:
        stored = self._assemblies.get(assembly_id)
        if stored is None or stored.status.is_final or self._held_by_other(stored, worker):
            return None
        claimed = attrs.evolve(
            stored, worker=worker, attempts=stored.attempts + 1, phase=Phase.RENDERING, progress=0.0, eta_seconds=None
        )
        self._leases[assembly_id] = self.clock() + lease_s
        self._store(claimed)
        return claimed

    async def renew(self, assembly_id: str, worker: str, lease_s: float) -> bool:
        stored = self._assemblies.get(assembly_id)
        if stored is None or stored.status.is_final or stored.worker != worker:
            return False
        self._leases[assembly_id] = self.clock() + lease_s
        return True

    async def release(self, assembly_id: str, worker: str) -> bool:
        stored = self._assemblies.get(assembly_id)
        if stored is None or stored.status.is_final or stored.worker != worker:
            return False
        self._leases.pop(assembly_id, None)
        self._store(attrs.evolve(stored, worker=None, phase=Phase.QUEUED, progress=0.0, eta_seconds=None))
        return True

    async def claimable(self, limit: int | None = None) -> list[str]:
        now = self.clock()
        free = [
            a.id for a in self._assemblies.values()
            if not a.status.is_final and (a.worker is None or self._leases.get(a.id, 0) <= now)
        ]
        return free if limit is None else free[:limit]

    async def beat_worker(self, worker: str, renders: int) -> None:
        self._workers[worker] = self.clock()

    async def drop_worker(self, worker: str) -> None:
        self._workers.pop(worker, None)

    async def live_workers(self, within_s: float) -> list[str]:
        now = self.clock()
        return sorted(worker for worker, seen in self._workers.items() if seen > now - within_s)

    async def changed_since(self, revision: int) -> tuple[int, list[Assembly]]:
        if revision < 0:
            return self._revision, []
        changed = sorted((rev, id_) for id_, rev in self._revisions.items() if rev > revision)
        return self._revision, [self._assemblies[id_] for _, id_ in changed if id_ in self._assemblies]

    async def changes_since(self, revision: int) -> Changes:
        if revision < 0:
            return Changes(self._revision)
        _, changed = await self.changed_since(revision)
        return Changes(
            self._revision, tuple(changed), tuple(gone for rev, gone in self._deleted if rev > revision),
            len(self._sources or ()) if self._index_revision > revision else None,
        )

    async def save_callback(self, assembly_id: str, callback: Callback, *, deliverer: str | None = None) -> bool:
        stored = self._assemblies.get(assembly_id)
        if stored is None or stored.callback is None:
            return False
        if deliverer is not None and self._deliveries.get(assembly_id, ("", 0.0))[0] != deliverer:
            return False
        self._store(attrs.evolve(stored, callback=attrs.evolve(callback, url=stored.callback.url)))
        if callback.status not in _UNDELIVERED:
            self._deliveries.pop(assembly_id, None)
        return True

    def _deliverable(self, stored: Assembly | None, deliverer: str | None = None) -> bool:
        if stored is None or not stored.status.is_final or stored.callback is None:
            return False
        holder, until = self._deliveries.get(stored.id, (None, 0.0))
        free = holder is None or holder == deliverer or until <= self.clock()
        return stored.callback.status in _UNDELIVERED and free

    async def claim_callback(self, assembly_id: str, deliverer: str, lease_s: float) -> Assembly | None:
        stored = self._assemblies.get(assembly_id)
        if stored is None or not self._deliverable(stored, deliverer):
            return None
        self._deliveries[assembly_id] = (deliverer, self.clock() + lease_s)
        return stored

    async def renew_callback(self, assembly_id: str, deliverer: str, lease_s: float) -> bool:
        if self._deliveries.get(assembly_id, ("", 0.0))[0] != deliverer or assembly_id not in self._assemblies:
            return False
        self._deliveries[assembly_id] = (deliverer, self.clock() + lease_s)
        return True

    async def release_callback(self, assembly_id: str, deliverer: str) -> bool:
        if self._deliveries.get(assembly_id, ("", 0.0))[0] != deliverer:
            return False
        del self._deliveries[assembly_id]
        return True

    async def deliverable_callbacks(self, limit: int | None = None) -> list[str]:
        found = [a.id for a in self._assemblies.values() if self._deliverable(a)]
        return found if limit is None else found[:limit]

    async def delete(self, assembly_id: str) -> bool:
        stored = self._assemblies.get(assembly_id)
        if stored is None or not stored.status.is_final:
            return False
        del self._assemblies[assembly_id]
        self._revisions.pop(assembly_id, None)
        self._reports.pop(assembly_id, None)
        self._deliveries.pop(assembly_id, None)
        self._revision += 1
        self._deleted = [*self._deleted[-999:], (self._revision, stored)]  # the latest thousand
        return True

    async def get_report(self, assembly_id: str) -> RenderReport | None:
        return self._reports.get(assembly_id)

    async def list(
        self, *, status: AssemblyStatus | None = None, limit: int | None = None, offset: int = 0
    ) -> list[Assembly]:
        newest_first = [a for a in reversed(self._assemblies.values()) if status is None or a.status is status]
        return newest_first[offset:] if limit is None else newest_first[offset:offset + limit]

    async def count(self, *, status: AssemblyStatus | None = None) -> int:
        return len(await self.list(status=status))


class FakeProber:
    """A MediaProber over a fixed folder: each file maps to its MediaInfo, or to the reason it is unreadable."""

    def __init__(self, files: Mapping[str, MediaInfo | str]) -> None:
        self.files = dict(files)
        self.probed: list[str] = []  # the names probed, in order

    async def list_files(self) -> list[str]:
        return list(self.files)

    async def identify(self, filename: str) -> FileIdentity | None:
        info = self.files[filename]
        return None if isinstance(info, str) or info.identity is None else attrs.evolve(info.identity, digest="")

    async def probe(self, filename: str) -> MediaInfo:
        self.probed.append(filename)
        info = self.files[filename]
        if isinstance(info, str):
            raise ProbeFailed(info)
        return info


def _sound_recipe(plan: RenderPlan, segment: SegmentPlan) -> Hashable:
    return segment.filename, segment.seek, segment.duration, segment.fade, segment.has_audio, plan.output


@attrs.define
class FakeCutter:
    """A SegmentCutter that writes nothing and records the segments it was asked for; `fail_at` names a segment
    position whose cut fails. Like a cutter with a cache, it says which pieces and sounds it made before (the
    same piece of the same source for the same output) and so did not make again."""

    fail_at: int | None = None
    cuts: list[SegmentPlan] = attrs.field(factory=list)
    made: set[Hashable] = attrs.field(factory=set)  # the recipes of the pieces and sounds made so far

    def _cached(self, recipe: Hashable) -> bool:
        known = recipe in self.made
        self.made.add(recipe)
        return known

    async def cut(self, plan: RenderPlan, segment: SegmentPlan, progress: ProgressCallback) -> CutSegment:
        if segment.pos == self.fail_at:
            raise RenderFailed(f"segment {segment.pos} failed")
        await progress(segment.duration / 2)
        await progress(segment.duration)
        self.cuts.append(segment)
        stem = f"{plan.assembly_id}/{segment.pos:03d}"
        recipes = [("piece", segment.filename, piece, plan.preview, plan.output) for piece in segment.pieces]
        return CutSegment(
            pos=segment.pos,
            video_files=tuple(f"{stem}-{n}.mov" for n in range(len(segment.pieces))),
            duration=segment.duration,
            pieces_cached=sum(map(self._cached, recipes)),
        )

    async def cut_audio(self, plan: RenderPlan) -> AudioTrack:
        cached = frozenset(s.pos for s in plan.segments if self._cached(("sound", _sound_recipe(plan, s))))
        return AudioTrack(path=f"{plan.assembly_id}/audio.m4a", duration=plan.duration, sounds_cached=cached)


@attrs.define
class FakeConcatenator:
    """A Concatenator that writes nothing and records the assemblies it joined; it fails if `fail` is set. Its
    measurements are the plan's own figures; like a join with a cache, a join of the same plan as before (but for
    the assembly) says it came from the cache."""

    fail: bool = False
    joined: list[str] = attrs.field(factory=list)
    made: set[Hashable] = attrs.field(factory=set)

    async def concat(
        self, plan: RenderPlan, segments: Sequence[CutSegment], audio: AudioTrack, progress: ProgressCallback
    ) -> RenderedOutput:
        if self.fail:
            raise RenderFailed("join failed")
        await progress(plan.duration)
        self.joined.append(plan.assembly_id)
        recipe = attrs.evolve(plan, assembly_id="")
        cached = recipe in self.made
        self.made.add(recipe)
        measured = OutputMeasurements(
            clip_frames=tuple(segment.output_frames for segment in plan.segments),
            video_starts=tuple(segment.output_offset for segment in plan.segments[1:]),
            audio_starts=tuple(segment.output_offset for segment in plan.segments[1:]),
        )
        return RenderedOutput(
            path=f"{plan.assembly_id}/result.mp4", duration=sum(s.duration for s in segments), measured=measured,
            cached=cached, join_s=0.0, measure_s=0.0,
        )


@attrs.define
class FakeRenderFiles:
    """RenderFiles that records which assemblies' files were discarded."""

    discarded: list[str] = attrs.field(factory=list)

    async def discard(self, assembly_id: str) -> None:
        self.discarded.append(assembly_id)


@attrs.frozen
class FakeRendering:
    """In-memory renders: `rendering` for the use cases, and the fakes behind it to look at afterwards.
    `fail_at` names a segment position whose cut fails (0: the join fails)."""

    cutter: FakeCutter
    concatenator: FakeConcatenator
    files: FakeRenderFiles
    rendering: Rendering

    @classmethod
    def create(cls, fail_at: int | None = None, rules: CodingRules | None = None, **settings: Any) -> FakeRendering:
        cutter, concatenator, files = FakeCutter(fail_at), FakeConcatenator(fail_at == 0), FakeRenderFiles()
        rendering = Rendering(cutter, concatenator, files, rules or CodecRules(), **settings)
        return cls(cutter, concatenator, files, rendering)

    @property
    def cuts(self) -> list[SegmentPlan]:
        return self.cutter.cuts

    @property
    def joined(self) -> list[str]:
        return self.concatenator.joined

    @property
    def discarded(self) -> list[str]:
        return self.files.discarded

    def renderer(self, repo: AssemblyRepo, worker: str = "test:1", leases: Leases = Leases()) -> Renderer:
        """A Renderer of these fakes, as `worker`."""

        async def render(assembly: Assembly, owner: str) -> Assembly | None:
            return await render_owned(assembly, repo, self.rendering, owner)

        return Renderer(repo, render, worker, leases)


class AsyncioIndexLock:
    """An IndexLock for one process."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    def __call__(self) -> asyncio.Lock:
        return self._lock
