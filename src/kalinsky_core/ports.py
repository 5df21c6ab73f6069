"""The ports: what the core needs from the outside world. Adapters implement them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol, runtime_checkable

import attrs

from kalinsky_core.model import Assembly, AssemblyStatus, Callback, FileIdentity, MediaInfo, Source, VideoCoding
from kalinsky_core.plan import RenderPlan, SegmentPlan
from kalinsky_core.report import OutputMeasurements, RenderReport

#: Called with the seconds of output a step has produced so far.
ProgressCallback = Callable[[float], Awaitable[None]]


@attrs.frozen
class CutSegment:
    """The files a cutter produced for one clip's video: its pieces, in order, and how many of them a cache served
    instead of making them (None: the cutter has no cache)."""

    pos: int
    video_files: tuple[str, ...]
    duration: float
    pieces_cached: int | None = None


@attrs.frozen
class AudioTrack:
    """The audio of a whole assembly, encoded once: every clip's sound (or silence) trimmed, faded and joined.
    `sounds_cached`: the positions of the clips whose sound a cache served (None: the cutter has no cache)."""

    path: str
    duration: float
    sounds_cached: frozenset[int] | None = None


@attrs.frozen
class RenderedOutput:
    """The finished output of a render: its real duration as measured in the file, and (if the concatenator
    measures them) its frames per clip and where each join starts in video and audio. `cached`: whether it was
    taken whole from a cache rather than joined (None: no cache); `join_s`, `measure_s`: the seconds the join (or
    taking it from the cache) and measuring the result took, if the concatenator times them."""

    path: str
    duration: float
    measured: OutputMeasurements | None = None
    cached: bool | None = None
    join_s: float | None = None
    measure_s: float | None = None


@runtime_checkable
class MediaProber(Protocol):
    async def list_files(self) -> list[str]:
        """Names of the files in the sources folder (no sub-folders; links too: `identify` and `probe` refuse
        those that lead out of the folder, with the reason)."""
        ...

    async def identify(self, filename: str) -> FileIdentity | None:
        """The cheap part of a file's identity (size, modification time, inode: no content read), to tell whether
        it changed since it was probed; None if this prober cannot tell (the file is then probed). Raises
        `ProbeFailed` for a file that may not be read (e.g. a link out of the folder)."""
        ...

    async def probe(self, filename: str) -> MediaInfo:
        """Probe one file of the sources folder; raise `ProbeFailed` with the reason if it is no usable video.
        The MediaInfo carries the file's whole identity (with its content digest) where the prober knows it."""
        ...


@runtime_checkable
class CodingRules(Protocol):
    """Which coded frames may be copied into an output, and next to which others. The adapter that answers this
    also encodes the frames around the copies, so what it allows it can match."""

    def copyable(self, coding: VideoCoding) -> bool:
        """Whether frames coded like this can be copied at all (the rest is always encoded again)."""
        ...

    def joinable(self, first: VideoCoding, other: VideoCoding) -> bool:
        """Whether frames coded like `other` can be copied into an output coded like `first`."""
        ...


@runtime_checkable
class SegmentCutter(Protocol):
    async def cut(self, plan: RenderPlan, segment: SegmentPlan, progress: ProgressCallback) -> CutSegment:
        """Write the video of one segment of the plan; raise `RenderFailed` on failure."""
        ...

    async def cut_audio(self, plan: RenderPlan) -> AudioTrack:
        """Write the audio of all segments as one track, as long as the plan; raise `RenderFailed` on failure.
        It runs while the segments' video is cut."""
        ...


@runtime_checkable
class Concatenator(Protocol):
    async def concat(
        self, plan: RenderPlan, segments: Sequence[CutSegment], audio: AudioTrack, progress: ProgressCallback
    ) -> RenderedOutput:
        """Join the segments' video and the audio track into the assembly's result; it appears only once
        complete."""
        ...


@runtime_checkable
class RenderFiles(Protocol):
    """The files of an assembly's renders: the cutter's work files and the concatenator's result."""

    async def discard(self, assembly_id: str) -> None:
        """Remove whatever a render of this assembly left behind (work files, partial or finished results)."""
        ...


@runtime_checkable
class DerivedMedia(Protocol):
    """Media made from the sources and kept in step with the index (e.g. preview proxies)."""

    def refresh(self, sources: Sequence[Source]) -> None:
        """Bring it in line with a new index, in the background."""
        ...

    async def make_all(self, sources: Sequence[Source]) -> None:
        """Bring it in line with the index now."""
        ...


@runtime_checkable
class RenderQueue(Protocol):
    """Where renders wait for a worker: the records themselves (workers of the processes sharing them look there),
    or a distributed job queue. Which worker renders what is settled by the leases in the records
    (`AssemblyRepo.claim`), so a queue may hand a job out twice without harm."""

    def start(self) -> None:
        """Let this process's own workers, if it has any, start taking jobs."""
        ...

    async def submit(self, assembly_id: str) -> None:
        """Make a render that waits for a worker known to the workers."""
        ...

    async def abort(self, assembly_id: str) -> None:
        """Tell the owner of the render, wherever it runs, to stop it now (the record is already cancelled)."""
        ...


@attrs.frozen
class Changes:
    """What the records saw change after a revision, in every process sharing them: the assemblies created or
    changed (their latest state, oldest change first), those deleted (as they were), and the count of sources of
    an index made meanwhile (None: the index stayed). `revision` is the store's revision after them."""

    revision: int
    assemblies: tuple[Assembly, ...] = ()
    deleted: tuple[Assembly, ...] = ()
    index: int | None = None


#: Held while the index is replaced, so that two reindexes (of any processes sharing the index) never interleave.
IndexLock = Callable[[], AbstractAsyncContextManager[object]]


@runtime_checkable
class AssemblyRepo(Protocol):
    """Durable storage of the source index and of assemblies."""

    async def replace_sources(self, sources: Sequence[Source]) -> None: ...

    async def list_sources(self) -> tuple[Source, ...] | None:
        """The indexed sources in index order, or None if no index was ever made."""
        ...

    async def next_sequence(self) -> int:
        """A fresh assembly number, never handed out before (not even for a discarded assembly)."""
        ...

    async def add(self, assembly: Assembly) -> None: ...

    async def get(self, assembly_id: str) -> Assembly | None: ...

    async def save_state(self, assembly: Assembly, *, worker: str | None = None) -> bool:
        """Store the render state (status, progress, ETA, error, duration, phase); nothing else changes. Whether
        it was stored.

        Only an assembly still `processing` changes: a finished one (done, failed, cancelled) stays as it is,
        so a render that ends after its assembly was cancelled cannot bring it back. With `worker`, only while
        that worker holds the render (a worker whose lease ran out no longer writes). A final state also ends
        the lease: the record then has no worker and no phase."""
        ...

    async def finish(self, assembly: Assembly, report: RenderReport | None, *, worker: str | None = None) -> bool:
        """Store a render's final state and its report at once, on the terms of `save_state`; whether it was
        stored (the report is stored only with it)."""
        ...

    # -- who renders what: every render has one owner at a time, holding a lease it renews while it works --

    async def claim(self, assembly_id: str, worker: str, lease_s: float) -> Assembly | None:
        """Take the render of a `processing` assembly for `worker` for `lease_s` seconds, if nobody holds it or its
        holder's lease ran out (the holder died). The claim counts an attempt and sets phase `rendering`, progress
        0, no ETA. The record as now stored, or None (missing, finished, or held by another live lease)."""
        ...

    async def renew(self, assembly_id: str, worker: str, lease_s: float) -> bool:
        """Extend `worker`'s lease to `lease_s` seconds from now; False if it no longer holds it (the assembly was
        cancelled or deleted, or another worker took it over after the lease ran out)."""
        ...

    async def release(self, assembly_id: str, worker: str) -> bool:
        """Hand a render back unfinished (the worker stops): no worker, phase `queued`, progress 0, so that the next
        worker renders it from scratch. Only if `worker` holds it; whether it did."""
        ...

    async def claimable(self, limit: int | None = None) -> list[str]:
        """Ids of the `processing` assemblies nobody holds a live lease on, oldest first."""
        ...

    async def beat_worker(self, worker: str, renders: int) -> None:
        """Note that `worker` is alive now and renders up to `renders` assemblies at once."""
        ...

    async def drop_worker(self, worker: str) -> None:
        """`worker` stopped."""
        ...

    async def live_workers(self, within_s: float) -> list[str]:
        """The workers that noted they were alive in the last `within_s` seconds."""
        ...

    async def changed_since(self, revision: int) -> tuple[int, list[Assembly]]:
        """The assemblies created or changed (state, phase, owner, callback) after `revision`, oldest change first,
        and the store's revision after them: followers in any process see what every process stores. A negative
        `revision` returns the store's revision now and no assemblies (to follow from now on)."""
        ...

    async def changes_since(self, revision: int) -> Changes:
        """`changed_since`, with the deletes and index changes too, read at once. A negative `revision`: the store's
        revision now, nothing else."""
        ...

    async def save_callback(self, assembly_id: str, callback: Callback, *, deliverer: str | None = None) -> bool:
        """Store how telling the assembly's callback URL went (status, attempts, last error); its URL stays.
        With `deliverer`, only while it holds the delivery (see `claim_callback`). A final status (delivered,
        failed) ends the delivery's claim. Whether it was stored."""
        ...

    # -- who delivers which notice: one deliverer at a time, holding a lease it renews while it tries --

    async def claim_callback(self, assembly_id: str, deliverer: str, lease_s: float) -> Assembly | None:
        """Take the delivery of a finished assembly's notice (callback `pending` or `retrying`) for `deliverer`
        for `lease_s` seconds, if nobody holds it or its holder's lease ran out. The record as now stored, or
        None (missing, unfinished, no notice to deliver, or held by another live lease)."""
        ...

    async def renew_callback(self, assembly_id: str, deliverer: str, lease_s: float) -> bool:
        """Extend `deliverer`'s lease on the delivery to `lease_s` seconds from now; False if it no longer holds
        it."""
        ...

    async def release_callback(self, assembly_id: str, deliverer: str) -> bool:
        """Hand a delivery back unfinished (the deliverer stops), for the next one to take at once; whether
        `deliverer` held it."""
        ...

    async def deliverable_callbacks(self, limit: int | None = None) -> list[str]:
        """Ids of the finished assemblies whose notice is still to be delivered and that nobody holds a live
        lease on, oldest first."""
        ...

    async def get_report(self, assembly_id: str) -> RenderReport | None: ...

    async def delete(self, assembly_id: str) -> bool:
        """Remove a finished assembly's record (its clips and report too); False if there was none, or it is still
        `processing`. Its number is never handed out again."""
        ...

    async def list(
        self, *, status: AssemblyStatus | None = None, limit: int | None = None, offset: int = 0
    ) -> list[Assembly]:
        """Assemblies newest first: all of them, or those in `status`; `offset` newest ones skipped, at most
        `limit` returned."""
        ...

    async def count(self, *, status: AssemblyStatus | None = None) -> int:
        """How many assemblies there are (in `status`, if given)."""
        ...
