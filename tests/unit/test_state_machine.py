"""A stateful property test of the use cases: reindex, create (valid and invalid), render, interrupted renders and
restarts in any order, with the invariants checked after every step. The same machine drives the in-memory
repo, a real SQLite file and a real PostgreSQL database, so the adapters of the AssemblyRepo port behave alike."""

from __future__ import annotations

import asyncio
import posixpath
import shutil
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from postgres import PostgresServer

from kalinsky_adapters.ffmpeg import CodecRules
from kalinsky_adapters.memory import FakeCutter, FakeProber, FakeRendering, InMemoryRepo
from kalinsky_adapters.sqlite import SqliteRepo
from kalinsky_adapters.store.repo import SqlRepo
from kalinsky_core import (
    Assembly,
    AssemblyNotFound,
    AssemblyProcessing,
    AssemblyStatus,
    ClipInput,
    MediaInfo,
    NotIndexed,
    SourceNotFound,
    services,
)
from kalinsky_core.model import SOURCE_EXTENSIONS, Source
from kalinsky_core.ports import AssemblyRepo
from kalinsky_core.testing import assembly_names, invalid_clip_lists, source_folders, valid_clip_lists

T = TypeVar("T")

RULES = CodecRules()

NOT_INDEXED = "No index. Call POST /sources/reindex first."


def sequence_of(assembly_id: str) -> int:
    assert assembly_id.startswith("asm_") and len(assembly_id) >= 7, assembly_id
    return int(assembly_id.removeprefix("asm_"))


def is_video(filename: str) -> bool:
    return posixpath.splitext(filename)[1].lower() in SOURCE_EXTENSIONS


class StoppedCutter(FakeCutter):
    """A render stopped mid-cut (the process shut down): some progress is stored, then the task is cancelled."""

    async def cut(self, plan, segment, progress):
        await progress(segment.duration)
        raise asyncio.CancelledError


class AssemblyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.repo: AssemblyRepo = self.run(self.open_repo())
        self.index: tuple[Source, ...] | None = None  # what the last reindex made
        self.asked: dict[str, Assembly] = {}  # every assembly as created (and not deleted), in creation order
        self.states: dict[str, tuple[AssemblyStatus, str | None]] = {}  # expected status and error
        self.last_sequence = 0

    # -- backend ---------------------------------------------------------------------------------------

    async def open_repo(self) -> AssemblyRepo:
        raise NotImplementedError

    async def close_repo(self) -> None:
        pass

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        self.run(self.close_repo())
        self.loop.close()

    # -- helpers ---------------------------------------------------------------------------------------

    def processing(self) -> list[str]:
        return [i for i, (status, _) in self.states.items() if status is AssemblyStatus.PROCESSING]

    def missing_source(self, assembly: Assembly) -> str | None:
        indexed = {source.filename for source in self.index or ()}
        return next((clip.filename for clip in assembly.clips if clip.filename not in indexed), None)

    def check_resolved(self, inputs: list[ClipInput], assembly: Assembly) -> None:
        assert self.index is not None
        for given, clip in zip(inputs, assembly.clips, strict=True):
            source = next(s for s in self.index if given.source in (s.index, s.filename))
            assert clip.filename == source.filename
            assert clip.start == (0.0 if given.start is None else given.start)
            assert clip.end == (source.duration if given.end is None else given.end)

    # -- rules -----------------------------------------------------------------------------------------

    @initialize()
    def nothing_is_indexed_at_first(self) -> None:
        with pytest.raises(NotIndexed) as raised:
            self.run(services.list_sources(self.repo))
        assert raised.value.message == NOT_INDEXED

    @rule(folder=source_folders(max_videos=4))
    def reindex(self, folder: dict[str, MediaInfo | str]) -> None:
        index = self.run(services.reindex(FakeProber(folder), self.repo))
        videos = sorted(name for name in folder if is_video(name))
        readable = [name for name in videos if isinstance(folder[name], MediaInfo)]
        assert [(s.index, s.filename) for s in index.sources] == list(enumerate(readable, start=1))
        assert [(s.filename, s.reason) for s in index.skipped] == [(n, folder[n]) for n in videos if n not in readable]
        assert all(s.duration == folder[s.filename].duration for s in index.sources)
        self.index = index.sources

    @precondition(lambda self: not self.index)
    @rule(clips=st.lists(st.builds(ClipInput, st.integers(1, 5) | st.just("a.mp4")), min_size=1, max_size=3))
    def create_without_sources(self, clips: list[ClipInput]) -> None:
        before = self.run(self.repo.list())
        if self.index is None:
            with pytest.raises(NotIndexed) as raised:
                self.run(services.create_assembly(self.repo, RULES, clips))
            assert raised.value.message == NOT_INDEXED
        else:
            with pytest.raises(SourceNotFound) as raised:
                self.run(services.create_assembly(self.repo, RULES, clips))
            assert raised.value.message == f"Source {clips[0].source} not found"
        assert self.run(self.repo.list()) == before

    @precondition(lambda self: bool(self.index))
    @rule(data=st.data(), name=assembly_names(), preview=st.booleans())
    def create(self, data: st.DataObject, name: str | None, preview: bool) -> None:
        assert self.index is not None
        clips = data.draw(valid_clip_lists(self.index, max_size=4), label="clips")
        assembly = self.run(services.create_assembly(self.repo, RULES, clips, name=name, preview=preview))
        assert (assembly.status, assembly.progress, assembly.error) == (AssemblyStatus.PROCESSING, 0.0, None)
        assert (assembly.name, assembly.preview) == (name, preview)
        assert sequence_of(assembly.id) > self.last_sequence
        self.check_resolved(clips, assembly)
        self.last_sequence = sequence_of(assembly.id)
        self.asked[assembly.id] = assembly
        self.states[assembly.id] = (AssemblyStatus.PROCESSING, None)

    @precondition(lambda self: bool(self.index))
    @rule(data=st.data())
    def create_invalid(self, data: st.DataObject) -> None:
        assert self.index is not None
        case = data.draw(invalid_clip_lists(self.index), label="case")
        before = self.run(self.repo.list())
        with pytest.raises(case.error) as raised:
            self.run(services.create_assembly(self.repo, RULES, list(case.clips)))
        assert raised.value.message == case.message
        assert self.run(self.repo.list()) == before

    @precondition(lambda self: bool(self.processing()))
    @rule(data=st.data(), fail_at=st.none() | st.integers(0, 5))
    def render(self, data: st.DataObject, fail_at: int | None) -> None:
        assembly_id = data.draw(st.sampled_from(self.processing()), label="assembly")
        assembly = self.run(services.get_assembly(self.repo, assembly_id))
        renderer = FakeRendering.create(fail_at=fail_at)
        final = self.run(services.render_assembly(assembly, self.repo, renderer.rendering))

        missing = self.missing_source(assembly)
        positions = range(1, len(assembly.clips) + 1)
        if missing is not None:
            expected = (AssemblyStatus.FAILED, f"Source {missing} not found")
        elif fail_at in positions:
            expected = (AssemblyStatus.FAILED, f"segment {fail_at} failed")
        elif fail_at == 0:
            expected = (AssemblyStatus.FAILED, "join failed")
        else:
            expected = (AssemblyStatus.DONE, None)
        assert (final.status, final.error) == expected
        if final.status is AssemblyStatus.DONE:
            assert renderer.joined == [assembly_id] and len(renderer.cuts) == len(assembly.clips)
            assert final.progress == 1.0 and final.error is None
            self.check_duration(final)
        else:
            assert renderer.discarded[-1:] == [assembly_id]  # whatever the render left is removed
            assert final.duration is None
        assert self.run(self.repo.get(assembly_id)) == final
        self.states[assembly_id] = expected

    def check_duration(self, final: Assembly) -> None:
        """Each clip's output is its source frames at the first clip's rate: within a frame or two of its trim."""
        assert self.index is not None and final.duration is not None
        rates = {source.filename: source.fps for source in self.index}
        out_fps = rates[final.clips[0].filename]
        slack = sum(float(1 / rates[clip.filename] + 1 / out_fps) for clip in final.clips)
        assert abs(final.duration - sum(clip.duration for clip in final.clips)) <= slack

    @precondition(lambda self: bool(self.processing()))
    @rule(data=st.data())
    def render_stopped_midway(self, data: st.DataObject) -> None:
        ready = [i for i in self.processing() if self.missing_source(self.asked[i]) is None]
        if not ready:
            return
        assembly_id = data.draw(st.sampled_from(ready), label="assembly")
        renderer = FakeRendering.create()
        stopped = attrs.evolve(renderer.rendering, cutter=StoppedCutter())
        with pytest.raises(asyncio.CancelledError):
            self.run(services.render_assembly(self.asked[assembly_id], self.repo, stopped))
        stored = self.run(self.repo.get(assembly_id))
        assert stored is not None and stored.status is AssemblyStatus.PROCESSING and stored.error is None
        assert renderer.discarded[-1:] == [assembly_id]

    @rule()
    def restart(self) -> None:
        """A new process over the same storage: what it must render again is what is still processing."""
        self.run(self.close_repo())
        self.repo = self.run(self.reopen_repo())
        unfinished = self.run(services.unfinished_assemblies(self.repo))
        assert [a.id for a in unfinished] == self.processing()  # oldest first
        if self.index is None:
            with pytest.raises(NotIndexed):
                self.run(services.list_sources(self.repo))
        else:
            assert self.run(services.list_sources(self.repo)) == self.index

    async def reopen_repo(self) -> AssemblyRepo:
        return self.repo

    @precondition(lambda self: bool(self.asked))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        assembly_id = data.draw(st.sampled_from(list(self.asked)), label="assembly")
        files = FakeRendering.create().files
        if self.states[assembly_id][0] is AssemblyStatus.PROCESSING:
            with pytest.raises(AssemblyProcessing) as raised:
                self.run(services.delete_assembly(self.repo, files, assembly_id))
            assert raised.value.message == f"Assembly {assembly_id} is still processing"
            assert files.discarded == [] and self.run(self.repo.get(assembly_id)) is not None
            return
        deleted = self.run(services.delete_assembly(self.repo, files, assembly_id))
        assert deleted.id == assembly_id and files.discarded == [assembly_id]
        del self.asked[assembly_id], self.states[assembly_id]
        with pytest.raises(AssemblyNotFound):
            self.run(services.delete_assembly(self.repo, files, assembly_id))
        assert not self.run(self.repo.delete(assembly_id))

    @rule(unknown=st.integers(0, 10**6).map(lambda n: f"asm_{n:03d}") | st.text(max_size=12))
    def get_unknown(self, unknown: str) -> None:
        if unknown in self.asked:
            return
        with pytest.raises(AssemblyNotFound) as raised:
            self.run(services.get_assembly(self.repo, unknown))
        assert raised.value.message == "Assembly not found"

    @rule(
        status=st.none() | st.sampled_from(AssemblyStatus),
        limit=st.none() | st.integers(1, 6),
        offset=st.integers(0, 8),
    )
    def list_a_page(self, status: AssemblyStatus | None, limit: int | None, offset: int) -> None:
        expected = [i for i in reversed(self.asked) if status is None or self.states[i][0] is status]
        page = self.run(self.repo.list(status=status, limit=limit, offset=offset))
        assert [a.id for a in page] == expected[offset:None if limit is None else offset + limit]
        assert self.run(self.repo.count(status=status)) == len(expected)

    # -- invariants ------------------------------------------------------------------------------------

    @invariant()
    def every_assembly_is_listed_newest_first_as_it_was_asked(self) -> None:
        listed = self.run(self.repo.list())
        ids = [assembly.id for assembly in listed]
        assert ids == list(reversed(self.asked))  # all of them, nothing else, newest first
        sequences = [sequence_of(i) for i in ids]
        assert all(newer > older for newer, older in zip(sequences, sequences[1:]))  # unique and increasing
        for assembly in listed:
            asked = self.asked[assembly.id]
            what = (assembly.id, assembly.name, assembly.preview, assembly.clips, assembly.created)
            assert what == (asked.id, asked.name, asked.preview, asked.clips, asked.created)
            assert self.run(services.get_assembly(self.repo, assembly.id)) == assembly
            assert (assembly.status, assembly.error) == self.states[assembly.id]

    @invariant()
    def render_state_is_consistent(self) -> None:
        for assembly in self.run(self.repo.list()):
            assert 0.0 <= assembly.progress <= 1.0
            if assembly.status is AssemblyStatus.DONE:
                assert assembly.duration is not None and assembly.progress == 1.0
            else:
                assert assembly.duration is None
            if assembly.status.is_final:
                assert assembly.eta_seconds is None


class InMemoryMachine(AssemblyMachine):
    async def open_repo(self) -> AssemblyRepo:
        return InMemoryRepo()


class SqliteMachine(AssemblyMachine):
    async def open_repo(self) -> AssemblyRepo:
        self.folder = Path(tempfile.mkdtemp(prefix="kalinsky-state-"))
        return await SqliteRepo(self.folder / "kalinsky.db").open()

    async def reopen_repo(self) -> AssemblyRepo:
        return await SqliteRepo(self.folder / "kalinsky.db").open()

    async def close_repo(self) -> None:
        await self.repo.close()

    def teardown(self) -> None:
        super().teardown()
        shutil.rmtree(self.folder, ignore_errors=True)


class PostgresMachine(AssemblyMachine):
    """Each run on a fresh database of the session's PostgreSQL server (`server`, set by the test)."""

    server: PostgresServer

    async def open_repo(self) -> AssemblyRepo:
        self.database = self.server.create_database()
        return await SqlRepo(self.server.url(self.database)).open()

    async def reopen_repo(self) -> AssemblyRepo:
        return await SqlRepo(self.server.url(self.database)).open()

    async def close_repo(self) -> None:
        await self.repo.close()

    def teardown(self) -> None:
        super().teardown()
        self.server.drop_database(self.database)


MACHINE_SETTINGS = settings(
    max_examples=40,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
#: Fewer runs on the stores kept in files and in PostgreSQL: the same machine, with a store made (and a database
#: created and dropped) for each run; the full count runs on the in-memory store.
EXAMPLES = {SqliteMachine: 15, PostgresMachine: 12}


@pytest.mark.parametrize(
    "machine", [InMemoryMachine, SqliteMachine, PostgresMachine], ids=["memory", "sqlite", "postgres"]
)
def test_use_cases_keep_their_invariants(machine: type[AssemblyMachine], request: pytest.FixtureRequest) -> None:
    if machine is PostgresMachine:
        PostgresMachine.server = request.getfixturevalue("postgres_server")
    examples = EXAMPLES.get(machine, MACHINE_SETTINGS.max_examples)
    run_state_machine_as_test(machine, settings=settings(MACHINE_SETTINGS, max_examples=examples))
