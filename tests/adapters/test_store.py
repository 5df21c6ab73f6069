"""The SQL repository on a real SQLite file and a real PostgreSQL database: the AssemblyRepo contract, the same on
both (and, where it costs nothing, on the in-memory repository too), and the schema's migrations."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from samples import assembly, sources

from kalinsky_adapters.memory import InMemoryRepo
from kalinsky_adapters.sqlite import SqliteRepo
from kalinsky_adapters.store import first_schema, migrate
from kalinsky_adapters.store.repo import SqlRepo
from kalinsky_adapters.store.urls import sqlite_url
from kalinsky_core.errors import StorageUnavailable
from kalinsky_core.model import Assembly, AssemblyStatus, Callback, CallbackStatus, Phase
from kalinsky_core.ports import AssemblyRepo
from kalinsky_core.report import CacheUse, ClipReport, JoinReport, RenderReport, RenderTimings

REPORT = RenderReport(
    clips=(ClipReport(pos=1, filename="a.mp4", video="smart", frames_planned=90, frames_written=90,
                      frames_copied=72, encoded_at_start=15, encoded_at_end=3),),
    joins=(JoinReport(pos=2, at=3.0, video_start=3.0, audio_start=3.001, av_offset_ms=1.0),
           JoinReport(pos=3, at=4.0, video_start=4.0, audio_start=4.0, av_offset_ms=0.0,
                      decode_errors=("h264: no frame!", "missing picture in access unit with size 60"))),
)


class Clock:
    """A clock the test moves: seconds."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each kind: a SQLite file, a PostgreSQL database."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "k.db")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def repo(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """A fresh repository of each kind, on a clock the test moves (`repo.clock.now`)."""
    if request.param == "memory":
        yield InMemoryRepo(Clock())
        return
    url = sqlite_url(tmp_path / "k.db") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    async with SqlRepo(url, Clock()) as opened:
        yield opened


async def added(repo: AssemblyRepo, *, preview: bool = True) -> Assembly:
    stored = assembly(await repo.next_sequence(), preview=preview)
    await repo.add(stored)
    return stored


async def scalar(url: str, sql: str) -> Any:
    """One value, read with SQL of the test's own."""
    async with SqlRepo(url) as repo, repo.engine.connect() as connection:
        return (await connection.exec_driver_sql(sql)).scalar()


async def test_sources_round_trip_and_an_empty_index_differs_from_none(url: str) -> None:
    async with SqlRepo(url) as repo:
        assert await repo.list_sources() is None
        await repo.replace_sources(sources())
        assert await repo.list_sources() == sources()
        await repo.replace_sources(())
        assert await repo.list_sources() == ()


async def test_the_audio_stream_of_a_source_round_trips(url: str) -> None:
    heard = [attrs.evolve(source, audio_codec="opus", audio_duration=2.5) for source in sources()]
    async with SqlRepo(url) as repo:
        await repo.replace_sources(heard)
    async with SqlRepo(url) as repo:
        assert await repo.list_sources() == tuple(heard)


async def test_assemblies_survive_a_reopen_newest_first_with_their_clips(url: str) -> None:
    async with SqlRepo(url) as repo:
        first, second = assembly(await repo.next_sequence()), assembly(await repo.next_sequence(), preview=False)
        await repo.add(first)
        await repo.add(second)
    async with SqlRepo(url) as repo:
        assert await repo.list() == [second, first]
        assert await repo.get(first.id) == first
        assert await repo.get("asm_999") is None


async def test_save_state_changes_only_the_render_state(url: str) -> None:
    async with SqlRepo(url) as repo:
        original = assembly(await repo.next_sequence())
        await repo.add(original)
        tampered = attrs.evolve(
            original.completed(2.5),
            name="renamed", preview=not original.preview, clips=original.clips[:1], created="later",
        )
        await repo.save_state(tampered)
        stored = await repo.get(original.id)
    assert (stored.status, stored.duration, stored.progress) == (AssemblyStatus.DONE, 2.5, 1.0)
    assert (stored.name, stored.preview, stored.clips, stored.created) == (
        original.name, original.preview, original.clips, original.created)


async def test_sequence_never_hands_out_a_number_twice(url: str) -> None:
    async with SqlRepo(url) as repo:
        numbers = list(await asyncio.gather(*(repo.next_sequence() for _ in range(20))))
    async with SqlRepo(url) as repo:
        numbers.append(await repo.next_sequence())  # a number taken but never stored is not reused either
    assert sorted(numbers[:20]) == list(range(1, 21)) and numbers[-1] == 21  # concurrent ones in any order


async def test_delete_removes_a_finished_assembly_and_its_number_stays_taken(url: str) -> None:
    async with SqlRepo(url) as repo:
        first, second = assembly(await repo.next_sequence()), assembly(await repo.next_sequence())
        await repo.add(first)
        await repo.add(second)
        assert await repo.delete(second.id) is False  # still processing
        await repo.save_state(second.completed(1.0))
        assert await repo.delete(second.id) is True
        assert await repo.delete(second.id) is False and await repo.get(second.id) is None
    assert await scalar(url, f"SELECT count(*) FROM clips WHERE assembly_id = '{second.id}'") == 0
    async with SqlRepo(url) as repo:
        assert await repo.list() == [first]
        assert await repo.next_sequence() == 3  # the deleted asm_002 is never handed out again


async def test_database_is_in_wal_mode(tmp_path: Path) -> None:
    async with SqliteRepo(tmp_path / "k.db"):
        pass
    with sqlite3.connect(tmp_path / "k.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"sources", "assemblies", "clips"} <= tables


def test_schema_can_be_created_from_the_command_line(tmp_path: Path) -> None:
    db_path = tmp_path / "deploy" / "kalinsky.db"
    subprocess.run([sys.executable, "-m", "kalinsky_adapters.sqlite", str(db_path)], check=True, capture_output=True)
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT count(*) FROM assemblies").fetchone() == (0,)


async def test_a_finished_assembly_keeps_its_state(url: str) -> None:
    async with SqlRepo(url) as repo:
        original = assembly(await repo.next_sequence())
        await repo.add(original)
        await repo.save_state(original.cancelled())
        await repo.save_state(original.with_progress(0.5))  # a late progress report of the stopped render
        await repo.save_state(original.completed(1.0))
        assert (await repo.get(original.id)) == original.cancelled()


async def test_a_database_from_before_copy_ends_opens_and_keeps_its_index(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "k.db") as db:  # the sources table as the first release made it
        db.execute("CREATE TABLE sources (idx INTEGER PRIMARY KEY, filename TEXT NOT NULL UNIQUE, duration REAL "
                   "NOT NULL, resolution TEXT NOT NULL, codec TEXT NOT NULL, file_size INTEGER NOT NULL, width "
                   "INTEGER NOT NULL, height INTEGER NOT NULL, frame_rate TEXT NOT NULL, has_audio INTEGER NOT NULL, "
                   "coding TEXT, keyframes TEXT NOT NULL DEFAULT '[]', frame_count INTEGER)")
        db.execute("INSERT INTO sources VALUES (1, 'a.mp4', 4.0, '320x240', 'h264', 1000, 320, 240, '30', 1, NULL, "
                   "'[0, 30]', 60)")
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('indexed', 1)")
    async with SqliteRepo(tmp_path / "k.db") as repo:
        (old,) = await repo.list_sources()
        assert (old.filename, old.keyframes, old.frame_count, old.copy_ends) == ("a.mp4", (0, 30), 60, ())
        assert old.identity is None  # indexed before identities: only its size is checked until a reindex
        await repo.replace_sources(sources())
        assert await repo.list_sources() == sources()


async def test_a_database_from_before_callbacks_opens_keeps_its_assemblies_and_stores_callbacks(
    tmp_path: Path,
) -> None:
    with sqlite3.connect(tmp_path / "k.db") as db:  # the assemblies table before callback URLs
        db.execute("CREATE TABLE assemblies (id TEXT PRIMARY KEY, name TEXT, status TEXT NOT NULL, error TEXT, "
                   "preview INTEGER NOT NULL, output_url TEXT, duration REAL, created TEXT NOT NULL, "
                   "progress REAL NOT NULL DEFAULT 0, eta_seconds REAL)")
        db.execute("INSERT INTO assemblies VALUES ('asm_001', 'old', 'done', NULL, 1, NULL, 2.0, "
                   "'2026-01-01T00:00:00.000Z', 1.0, NULL)")
        db.execute('CREATE TABLE clips (assembly_id TEXT NOT NULL REFERENCES assemblies(id), pos INTEGER NOT NULL, '
                   'filename TEXT NOT NULL, start REAL NOT NULL, "end" REAL NOT NULL, duration REAL NOT NULL, '
                   "video TEXT NOT NULL DEFAULT 'reencode', PRIMARY KEY (assembly_id, pos))")
        db.execute("INSERT INTO clips VALUES ('asm_001', 1, 'a.mp4', 0, 2, 2, 'copy')")
    async with SqliteRepo(tmp_path / "k.db") as repo:
        old = await repo.get("asm_001")
        assert old is not None and (old.name, old.status, old.callback) == ("old", AssemblyStatus.DONE, None)
        asked = attrs.evolve(assembly(2), callback=Callback(url="https://example.com/hook"))
        await repo.add(asked)
        await repo.save_callback("asm_001", Callback(url="ignored", status="delivered"))  # none was asked for
        await repo.save_callback(asked.id, Callback(url="ignored", status="retrying", attempts=2,
                                                    last_error="HTTP 500"))
    async with SqliteRepo(tmp_path / "k.db") as repo:
        assert (await repo.get("asm_001")).callback is None
        assert (await repo.get(asked.id)).callback == Callback(
            url="https://example.com/hook", status=CallbackStatus.RETRYING, attempts=2, last_error="HTTP 500")


async def test_a_report_round_trips_and_goes_with_its_assembly(url: str) -> None:
    report = REPORT
    async with SqlRepo(url) as repo:
        stored = assembly(await repo.next_sequence())
        await repo.add(stored)
        assert await repo.finish(stored.completed(3.0), report)
        assert not await repo.finish(stored.failed("late"), report)  # a finished record stays as it is
    async with SqlRepo(url) as repo:
        assert await repo.get_report(stored.id) == report and await repo.get_report("asm_999") is None
        assert (await repo.get(stored.id)).status is AssemblyStatus.DONE
        assert await repo.delete(stored.id)
        assert await repo.get_report(stored.id) is None


async def test_a_report_with_cache_figures_and_timings_round_trips(url: str) -> None:
    clip = attrs.evolve(REPORT.clips[0], pieces=3, pieces_cached=2, sound_cached=True)
    report = attrs.evolve(REPORT, clips=(clip,), result_cached=False,
                          timings=RenderTimings(cut_s=1.25, join_s=0.375, measure_s=0.05, total_s=1.75))
    async with SqlRepo(url) as repo:
        stored = assembly(await repo.next_sequence())
        await repo.add(stored)
        assert await repo.finish(stored.completed(3.0), report)
    async with SqlRepo(url) as repo:
        assert await repo.get_report(stored.id) == report
        assert (await repo.get_report(stored.id)).clips[0].cache is CacheUse.PARTIAL


async def test_a_report_stored_before_cache_figures_and_timings_loads_with_none_of_them(tmp_path: Path) -> None:
    async with SqliteRepo(tmp_path / "k.db") as repo:
        stored = assembly(await repo.next_sequence())
        await repo.add(stored)
        assert await repo.finish(stored.completed(3.0), REPORT)
    old = {"clips": [{"pos": 1, "filename": "a.mp4", "video": "smart", "frames_planned": 90, "frames_written": 90,
                      "frames_copied": 72, "encoded_at_start": 15, "encoded_at_end": 3}],
           "joins": [{"pos": 2, "at": 3.0, "video_start": 3.0, "audio_start": 3.001, "av_offset_ms": 1.0}]}
    with sqlite3.connect(tmp_path / "k.db") as db:
        db.execute("UPDATE reports SET report = ?", (json.dumps(old),))
    async with SqliteRepo(tmp_path / "k.db") as repo:
        loaded = await repo.get_report(stored.id)
    assert loaded == attrs.evolve(REPORT, joins=REPORT.joins[:1])  # the old JSON had one join
    assert (loaded.result_cached, loaded.timings, loaded.pieces_cached) == (None, None, None)
    assert (loaded.clips[0].cache, loaded.clips[0].pieces, loaded.clips[0].sound_cached) == (CacheUse.NONE, 0, None)


async def test_a_report_stored_before_joins_were_decoded_loads_with_no_decode_errors(tmp_path: Path) -> None:
    async with SqliteRepo(tmp_path / "k.db") as repo:
        stored = await added(repo)
        assert await repo.finish(stored.completed(3.0), REPORT)
    with sqlite3.connect(tmp_path / "k.db") as db:
        (text,) = db.execute("SELECT report FROM reports").fetchone()
        old = json.loads(text)
        assert [join.pop("decode_errors") for join in old["joins"]] == [
            [], ["h264: no frame!", "missing picture in access unit with size 60"]]
        db.execute("UPDATE reports SET report = ?", (json.dumps(old),))
    async with SqliteRepo(tmp_path / "k.db") as repo:
        loaded = await repo.get_report(stored.id)
    assert loaded is not None and [join.decode_errors for join in loaded.joins] == [(), ()]
    assert loaded.joins_with_decode_errors == 0 and REPORT.joins_with_decode_errors == 1
    assert attrs.evolve(loaded, joins=REPORT.joins) == REPORT  # all else as it was


async def test_a_database_url_can_be_given_on_the_command_line(postgres_url: str) -> None:
    done = subprocess.run([sys.executable, "-m", "kalinsky_adapters.sqlite", postgres_url], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert "schema ready in postgresql+psycopg://postgres@127.0.0.1" in done.stdout
    assert await scalar(postgres_url, "SELECT version_num FROM alembic_version") == migrate.head()


# -- the render-ownership contract, on all three repositories ------------------------------------------------


async def test_of_two_concurrent_claims_exactly_one_wins(repo: Any) -> None:
    stored = await added(repo)
    first, second = await asyncio.gather(repo.claim(stored.id, "w1", 30), repo.claim(stored.id, "w2", 30))
    assert [claim is None for claim in (first, second)].count(True) == 1
    winner = first or second
    assert winner.worker in {"w1", "w2"} and (winner.attempts, winner.phase) == (1, Phase.RENDERING)
    assert await repo.get(stored.id) == winner


async def test_of_two_processes_claiming_one_assembly_exactly_one_wins(url: str) -> None:
    async with SqlRepo(url) as setup:
        stored = [await added(setup) for _ in range(10)]
    async with SqlRepo(url) as one, SqlRepo(url) as other:  # two connections, as two processes have
        for assembly_ in stored:
            claims = await asyncio.gather(one.claim(assembly_.id, "w1", 30), other.claim(assembly_.id, "w2", 30))
            assert [claim is not None for claim in claims].count(True) == 1, assembly_.id
        assert await one.claimable() == [] and await other.claimable() == []
        assert {a.attempts for a in await one.list()} == {1}


# -- who delivers a notice: one deliverer at a time, on all three repositories -----------------------------


async def told(repo: AssemblyRepo, url: str = "https://example.com/hook") -> Assembly:
    """A finished assembly whose notice is still to be delivered."""
    stored = attrs.evolve(assembly(await repo.next_sequence()), callback=Callback(url=url))
    await repo.add(stored)
    await repo.finish(stored.completed(1.0), None)
    return stored


async def test_of_two_deliverers_one_claims_a_notice_and_the_other_takes_it_once_its_lease_ran_out(
    repo: Any
) -> None:
    stored = await told(repo)
    unfinished = attrs.evolve(assembly(await repo.next_sequence()), callback=Callback(url="https://example.com/h"))
    await repo.add(unfinished)
    assert await repo.deliverable_callbacks() == [stored.id]  # finished ones only
    assert await repo.claim_callback(unfinished.id, "d1", 30) is None
    first, second = await asyncio.gather(repo.claim_callback(stored.id, "d1", 30),
                                         repo.claim_callback(stored.id, "d2", 30))
    assert [claim is None for claim in (first, second)] == [False, True]
    assert first.id == stored.id and first.callback.status is CallbackStatus.PENDING
    assert await repo.deliverable_callbacks() == []
    assert await repo.claim_callback(stored.id, "d1", 30) is not None  # its own claim, taken again
    retrying = Callback(url="x", status="retrying", attempts=1, last_error="HTTP 500")
    assert not await repo.save_callback(stored.id, retrying, deliverer="d2")  # not its delivery: nothing stored
    assert (await repo.get(stored.id)).callback.attempts == 0
    assert await repo.save_callback(stored.id, retrying, deliverer="d1")
    repo.clock.now += 20
    assert await repo.renew_callback(stored.id, "d1", 30)
    assert not await repo.renew_callback(stored.id, "d2", 30)
    repo.clock.now += 20  # within the renewed lease
    assert await repo.claim_callback(stored.id, "d2", 30) is None
    repo.clock.now += 11  # d1 died: its lease ran out
    assert await repo.deliverable_callbacks() == [stored.id]
    taken = await repo.claim_callback(stored.id, "d2", 30)
    assert taken is not None and (taken.callback.status, taken.callback.attempts) == (CallbackStatus.RETRYING, 1)
    assert not await repo.renew_callback(stored.id, "d1", 30)  # fenced: it can neither renew nor store
    assert not await repo.save_callback(stored.id, attrs.evolve(retrying, attempts=2), deliverer="d1")
    assert await repo.save_callback(stored.id, Callback(url="x", status="delivered", attempts=2), deliverer="d2")
    delivered = (await repo.get(stored.id)).callback
    assert (delivered.url, delivered.status, delivered.attempts) == (
        "https://example.com/hook", CallbackStatus.DELIVERED, 2)
    repo.clock.now += 100
    assert await repo.claim_callback(stored.id, "d3", 30) is None  # delivered: nobody delivers it again
    assert await repo.deliverable_callbacks() == []


async def test_a_released_notice_is_taken_at_once_and_a_failed_one_never_again(repo: Any) -> None:
    stored, other = await told(repo), await told(repo)
    assert await repo.claim_callback(stored.id, "d1", 30) and await repo.claim_callback(other.id, "d1", 30)
    assert not await repo.release_callback(stored.id, "d2")
    assert await repo.release_callback(stored.id, "d1")
    assert await repo.deliverable_callbacks() == [stored.id]
    assert await repo.claim_callback(stored.id, "d2", 30) is not None
    assert await repo.save_callback(other.id, Callback(url="x", status="failed", attempts=3, last_error="HTTP 500"),
                                    deliverer="d1")
    repo.clock.now += 100
    assert await repo.claim_callback(other.id, "d2", 30) is None
    assert await repo.deliverable_callbacks() == [stored.id]  # d2's lease ran out too
    assert await repo.delete(stored.id)
    assert await repo.deliverable_callbacks() == [] and await repo.claim_callback(stored.id, "d3", 30) is None


async def test_of_two_processes_claiming_one_notice_exactly_one_wins(url: str) -> None:
    async with SqlRepo(url) as setup:
        stored = [await told(setup) for _ in range(10)]
    async with SqlRepo(url) as one, SqlRepo(url) as other:  # two connections, as two processes have
        for assembly_ in stored:
            claims = await asyncio.gather(one.claim_callback(assembly_.id, "d1", 30),
                                          other.claim_callback(assembly_.id, "d2", 30))
            assert [claim is not None for claim in claims].count(True) == 1, assembly_.id
        assert await one.deliverable_callbacks() == [] and await other.deliverable_callbacks() == []


async def test_numbers_are_never_handed_out_twice_by_two_processes(url: str) -> None:
    async with SqlRepo(url) as one, SqlRepo(url) as other:
        numbers = await asyncio.gather(*(repo.next_sequence() for _ in range(15) for repo in (one, other)))
    assert sorted(numbers) == list(range(1, 31))


async def test_a_claim_sets_the_render_going_and_counts_attempts(repo: Any) -> None:
    stored = await added(repo)
    await repo.save_state(stored.with_progress(0.5, eta_seconds=3.0))
    claimed = await repo.claim(stored.id, "w1", 30)
    assert (claimed.worker, claimed.attempts, claimed.phase, claimed.progress, claimed.eta_seconds) == (
        "w1", 1, Phase.RENDERING, 0.0, None)
    assert await repo.claim(stored.id, "w2", 30) is None  # held by a live lease
    assert (await repo.claim(stored.id, "w1", 30)).attempts == 2  # its own holder may start it again
    assert await repo.claim("asm_999", "w1", 30) is None
    await repo.save_state(claimed.cancelled())
    assert await repo.claim(stored.id, "w2", 30) is None  # finished


async def test_a_lease_that_ran_out_passes_to_another_worker_and_fences_the_first(repo: Any) -> None:
    stored = await added(repo)
    first = await repo.claim(stored.id, "w1", 30)
    assert await repo.renew(stored.id, "w1", 30)
    repo.clock.now += 29
    assert await repo.claim(stored.id, "w2", 30) is None  # renewed: still live
    repo.clock.now += 2
    assert await repo.claimable() == [stored.id]  # w1 died
    second = await repo.claim(stored.id, "w2", 30)
    assert (second.worker, second.attempts) == ("w2", 2)
    assert not await repo.renew(stored.id, "w1", 30)
    assert not await repo.save_state(first.with_progress(0.9), worker="w1")
    assert not await repo.finish(first.completed(1.0), REPORT, worker="w1")
    assert not await repo.release(stored.id, "w1")
    assert await repo.get(stored.id) == second and await repo.get_report(stored.id) is None
    assert await repo.save_state(second.with_progress(0.5).in_phase(Phase.JOINING), worker="w2")
    assert (await repo.get(stored.id)).phase is Phase.JOINING
    assert await repo.finish(second.completed(1.0), REPORT, worker="w2")
    done = await repo.get(stored.id)
    assert (done.status, done.worker, done.phase, done.attempts) == (AssemblyStatus.DONE, None, None, 2)
    assert await repo.get_report(stored.id) == REPORT


async def test_a_cancel_ends_the_lease(repo: Any) -> None:
    stored = await added(repo)
    claimed = await repo.claim(stored.id, "w1", 30)
    assert await repo.save_state(claimed.cancelled())  # no worker: the user's cancel
    assert not await repo.renew(stored.id, "w1", 30)
    assert not await repo.save_state(claimed.with_progress(0.7), worker="w1")
    cancelled = await repo.get(stored.id)
    assert (cancelled.status, cancelled.worker, cancelled.phase) == (AssemblyStatus.CANCELLED, None, None)
    assert await repo.claimable() == []


async def test_a_release_queues_the_render_again_from_scratch(repo: Any) -> None:
    stored = await added(repo)
    claimed = await repo.claim(stored.id, "w1", 30)
    await repo.save_state(claimed.with_progress(0.6, eta_seconds=2.0), worker="w1")
    assert not await repo.release(stored.id, "w2")  # not its holder
    assert await repo.release(stored.id, "w1")
    released = await repo.get(stored.id)
    assert (released.worker, released.phase, released.progress, released.eta_seconds, released.attempts) == (
        None, Phase.QUEUED, 0.0, None, 1)
    assert not await repo.release(stored.id, "w1") and not await repo.renew(stored.id, "w1", 30)
    assert await repo.claimable() == [stored.id]
    assert (await repo.claim(stored.id, "w2", 30)).attempts == 2


async def test_claimable_lists_free_and_expired_renders_oldest_first(repo: Any) -> None:
    first, second, third, fourth = [await added(repo) for _ in range(4)]
    await repo.claim(second.id, "w1", 10)
    await repo.claim(third.id, "w2", 100)
    await repo.save_state(fourth.failed("broken"))
    assert await repo.claimable() == [first.id]
    repo.clock.now += 10  # w1's lease runs out just now
    assert await repo.claimable() == [first.id, second.id]
    assert await repo.claimable(limit=1) == [first.id]
    repo.clock.now += 1000
    assert await repo.claimable() == [first.id, second.id, third.id]


async def test_workers_are_live_while_they_beat(repo: Any) -> None:
    assert await repo.live_workers(10) == []
    await repo.beat_worker("host:2", 1)
    repo.clock.now += 5
    await repo.beat_worker("host:1", 2)
    assert await repo.live_workers(10) == ["host:1", "host:2"]
    repo.clock.now += 6
    assert await repo.live_workers(10) == ["host:1"]
    await repo.beat_worker("host:2", 1)
    await repo.drop_worker("host:1")
    await repo.drop_worker("host:9")  # never seen: nothing happens
    assert await repo.live_workers(10) == ["host:2"]


async def test_changed_since_lists_changes_oldest_first_with_the_revision(repo: Any) -> None:
    now, changed = await repo.changed_since(-1)
    assert (now, changed) == (0, [])
    first = attrs.evolve(assembly(await repo.next_sequence()), callback=Callback(url="https://example.com/hook"))
    await repo.add(first)
    second = await added(repo)
    revision, changed = await repo.changed_since(0)
    assert revision > 0 and [a.id for a in changed] == [first.id, second.id]
    assert await repo.changed_since(revision) == (revision, [])
    assert (await repo.changed_since(-1)) == (revision, [])

    await repo.claim(first.id, "w1", 30)
    await repo.renew(first.id, "w1", 30)  # a renewal is no change
    after_claim, changed = await repo.changed_since(revision)
    assert [a.id for a in changed] == [first.id] and changed[0].worker == "w1"
    await repo.save_callback(first.id, Callback(url="x", status="retrying", attempts=1))
    await repo.save_state(second.with_progress(0.5))
    await repo.release(first.id, "w1")
    latest, changed = await repo.changed_since(after_claim)
    assert [a.id for a in changed] == [second.id, first.id]  # first changed last
    assert changed[1].callback.status is CallbackStatus.RETRYING and changed[1].phase is Phase.QUEUED
    assert not await repo.save_state(second.completed(1.0), worker="w9")  # not stored: no change
    assert await repo.changed_since(latest) == (latest, [])
    await repo.finish(second.completed(1.0), None)
    assert await repo.delete(second.id)
    assert [a.id for a in (await repo.changed_since(0))[1]] == [first.id]  # a deleted one is not listed


async def test_changes_since_tells_of_deletes_and_new_indexes_too(repo: Any) -> None:
    start = (await repo.changes_since(-1)).revision
    first, second = await added(repo), await added(repo)
    await repo.finish(first.completed(1.0), None)
    changes = await repo.changes_since(start)
    assert [a.id for a in changes.assemblies] == [second.id, first.id]
    assert (changes.deleted, changes.index) == ((), None)
    assert await repo.delete(first.id)
    assert not await repo.delete(second.id)  # still processing: no delete, no change
    deleted = await repo.changes_since(changes.revision)
    assert deleted.assemblies == () and deleted.revision > changes.revision
    [gone] = deleted.deleted
    assert gone == attrs.evolve(first.completed(1.0), phase=None)  # as it was stored, clips and all
    await repo.replace_sources(sources())
    indexed = await repo.changes_since(deleted.revision)
    assert (indexed.assemblies, indexed.deleted, indexed.index) == ((), (), len(sources()))
    assert await repo.changes_since(indexed.revision) == type(indexed)(indexed.revision)
    assert [a.id for a in (await repo.changes_since(start)).deleted] == [first.id]  # kept for late readers


async def test_deletes_are_kept_an_hour_for_the_change_feeds(url: str) -> None:
    clock = Clock()
    async with SqlRepo(url, clock) as repo:
        old, recent = await added(repo), await added(repo)
        for stored in (old, recent):
            await repo.finish(stored.completed(1.0), None)
        await repo.delete(old.id)
        clock.now += 3000
        await repo.delete(recent.id)
        assert [a.id for a in (await repo.changes_since(0)).deleted] == [old.id, recent.id]
        clock.now += 1000  # the first one is over an hour old: the next delete prunes it
        await repo.delete("asm_404")
        third = await added(repo)
        await repo.finish(third.completed(1.0), None)
        await repo.delete(third.id)
        assert [a.id for a in (await repo.changes_since(0)).deleted] == [recent.id, third.id]


async def test_finish_stores_the_report_only_with_the_state(repo: Any) -> None:
    stored = await added(repo)
    await repo.claim(stored.id, "w1", 30)
    assert not await repo.finish(stored.completed(1.0), REPORT, worker="w2")
    assert await repo.get_report(stored.id) is None and (await repo.get(stored.id)).status is AssemblyStatus.PROCESSING
    assert await repo.finish(stored.failed("late"), None, worker="w1")
    assert not await repo.finish(stored.completed(1.0), REPORT)  # finished: stays failed, no report
    assert await repo.get_report(stored.id) is None and (await repo.get(stored.id)).error == "late"


async def test_lists_page_newest_first_and_count_by_status(repo: Any) -> None:
    stored = [await added(repo) for _ in range(5)]
    await repo.save_state(stored[1].completed(1.0))
    await repo.save_state(stored[3].completed(1.0))
    ids = [a.id for a in reversed(stored)]
    assert [a.id for a in await repo.list()] == ids
    assert [a.id for a in await repo.list(limit=2, offset=1)] == ids[1:3]
    assert [a.id for a in await repo.list(offset=3)] == ids[3:]
    assert [a.id for a in await repo.list(status=AssemblyStatus.DONE)] == [stored[3].id, stored[1].id]
    assert [a.id for a in await repo.list(status=AssemblyStatus.PROCESSING, limit=1)] == [stored[4].id]
    assert (await repo.count(), await repo.count(status=AssemblyStatus.DONE)) == (5, 2)
    with pytest.raises(ValueError):
        await repo.add(stored[0])


# -- migrations ---------------------------------------------------------------------------------------------

FIRST_SCHEMA = """
CREATE TABLE sources (idx INTEGER PRIMARY KEY, filename TEXT NOT NULL UNIQUE, duration REAL NOT NULL,
    resolution TEXT NOT NULL, codec TEXT NOT NULL, file_size INTEGER NOT NULL, width INTEGER NOT NULL,
    height INTEGER NOT NULL, frame_rate TEXT NOT NULL, has_audio INTEGER NOT NULL, coding TEXT,
    keyframes TEXT NOT NULL DEFAULT '[]', frame_count INTEGER, copy_ends TEXT NOT NULL DEFAULT '[]', identity TEXT,
    audio TEXT);
CREATE TABLE assemblies (id TEXT PRIMARY KEY, name TEXT, status TEXT NOT NULL, error TEXT, preview INTEGER NOT NULL,
    output_url TEXT, duration REAL, created TEXT NOT NULL, progress REAL NOT NULL DEFAULT 0, eta_seconds REAL,
    callback_url TEXT, callback_status TEXT, callback_attempts INTEGER NOT NULL DEFAULT 0, callback_error TEXT);
CREATE TABLE clips (assembly_id TEXT NOT NULL REFERENCES assemblies(id), pos INTEGER NOT NULL,
    filename TEXT NOT NULL, start REAL NOT NULL, "end" REAL NOT NULL, duration REAL NOT NULL,
    video TEXT NOT NULL DEFAULT 'reencode', PRIMARY KEY (assembly_id, pos));
CREATE TABLE reports (assembly_id TEXT PRIMARY KEY REFERENCES assemblies(id), report TEXT NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

#: The first release's tables: no copy ends, identities, audio, callbacks or reports; clips without their video path.
FIRST_RELEASE = """
CREATE TABLE sources (idx INTEGER PRIMARY KEY, filename TEXT NOT NULL UNIQUE, duration REAL NOT NULL,
    resolution TEXT NOT NULL, codec TEXT NOT NULL, file_size INTEGER NOT NULL, width INTEGER NOT NULL,
    height INTEGER NOT NULL, frame_rate TEXT NOT NULL, has_audio INTEGER NOT NULL);
CREATE TABLE assemblies (id TEXT PRIMARY KEY, name TEXT, status TEXT NOT NULL, error TEXT, preview INTEGER NOT NULL,
    output_url TEXT, duration REAL, created TEXT NOT NULL, progress REAL NOT NULL DEFAULT 0);
CREATE TABLE clips (assembly_id TEXT NOT NULL REFERENCES assemblies(id), pos INTEGER NOT NULL,
    filename TEXT NOT NULL, start REAL NOT NULL, "end" REAL NOT NULL, duration REAL NOT NULL,
    PRIMARY KEY (assembly_id, pos));
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def old_database(path: Path, schema: str) -> None:
    """A database as an older Kalinsky left it: two assemblies (the newer one stored first, with a lower id: the
    order is the order of storing), one still processing, and an index."""
    with sqlite3.connect(path) as db:
        db.executescript(schema)
        db.execute("INSERT INTO sources (idx, filename, duration, resolution, codec, file_size, width, height, "
                   "frame_rate, has_audio) VALUES (1, 'a.mp4', 4.0, '320x240', 'h264', 1000, 320, 240, '30', 1)")
        for id_, status in (("asm_002", "done"), ("asm_001", "processing")):
            db.execute("INSERT INTO assemblies (id, name, status, preview, duration, created, progress) "
                       "VALUES (?, 'old', ?, 1, NULL, '2026-01-01T00:00:00.000Z', 0.25)", (id_, status))
            db.execute('INSERT INTO clips (assembly_id, pos, filename, start, "end", duration) '
                       "VALUES (?, 1, 'a.mp4', 0, 2, 2)", (id_,))
        db.executemany("INSERT INTO meta VALUES (?, ?)", [("indexed", 1), ("assembly_sequence", 2)])


@pytest.mark.parametrize("schema", [FIRST_SCHEMA, FIRST_RELEASE], ids=["first-schema", "first-release"])
async def test_an_unversioned_database_opens_with_its_data_and_the_new_columns_defaulted(
    tmp_path: Path, schema: str
) -> None:
    old_database(tmp_path / "k.db", schema)
    async with SqliteRepo(tmp_path / "k.db") as repo:
        listed = await repo.list()
        assert [a.id for a in listed] == ["asm_001", "asm_002"]  # newest first, as stored
        processing, done = listed
        assert (processing.status, processing.progress, processing.worker, processing.attempts, processing.phase) == (
            AssemblyStatus.PROCESSING, 0.25, None, 0, Phase.QUEUED)
        assert (done.status, done.phase, done.callback, done.clips[0].video.value) == (
            AssemblyStatus.DONE, None, None, "reencode")
        (source,) = await repo.list_sources()
        assert (source.filename, source.keyframes, source.copy_ends, source.identity) == ("a.mp4", (), (), None)
        assert await repo.claimable() == ["asm_001"]
        newest = await added(repo)
        assert newest.id == "asm_003" and [a.id for a in await repo.list()] == ["asm_003", "asm_001", "asm_002"]
        assert (await repo.changed_since(0))[1][-1].id == "asm_003"
    with sqlite3.connect(tmp_path / "k.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(migrate.head(),)]


async def test_a_database_of_the_release_before_migrations_opens(tmp_path: Path) -> None:
    """That release added the ownership columns and the workers table itself, without a version."""
    old_database(tmp_path / "k.db", FIRST_SCHEMA)
    with sqlite3.connect(tmp_path / "k.db") as db:
        for column in ("worker TEXT", "lease_until REAL", "attempts INTEGER NOT NULL DEFAULT 0", "phase TEXT",
                       "revision INTEGER NOT NULL DEFAULT 0"):
            db.execute(f"ALTER TABLE assemblies ADD COLUMN {column}")
        db.execute("CREATE TABLE workers (id TEXT PRIMARY KEY, seen REAL NOT NULL, renders INTEGER NOT NULL)")
        db.execute("UPDATE assemblies SET worker = 'host:1', lease_until = 1, attempts = 3, phase = 'rendering', "
                   "revision = 7 WHERE id = 'asm_001'")
        db.execute("INSERT INTO meta VALUES ('revision', 7)")
    async with SqliteRepo(tmp_path / "k.db", Clock()) as repo:
        processing = await repo.get("asm_001")
        assert (processing.worker, processing.attempts, processing.phase) == ("host:1", 3, Phase.RENDERING)
        assert await repo.claimable() == ["asm_001"]  # its lease ran out long ago
        assert (await repo.changed_since(-1))[0] == 7
        assert [a.id for a in await repo.list()] == ["asm_001", "asm_002"]


async def test_the_schema_is_the_latest_revision_and_opening_again_changes_nothing(url: str) -> None:
    async with SqlRepo(url) as repo:
        await added(repo)
    async with SqlRepo(url) as repo, repo.engine.connect() as connection:
        assert await connection.run_sync(migrate.current) == migrate.head()
        tables = set(await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names()))
        assert {"sources", "assemblies", "clips", "reports", "meta", "workers", "alembic_version"} <= tables
        assert await connection.run_sync(first_schema.is_unversioned) is False
    async with SqlRepo(url) as repo:
        assert len(await repo.list()) == 1


async def test_two_processes_starting_at_once_on_a_fresh_database_both_open_it(url: str) -> None:
    command = [sys.executable, "-m", "kalinsky_adapters.store", url]
    started = [await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for _ in range(2)]
    results = [await process.communicate() for process in started]
    assert [process.returncode for process in started] == [0, 0], [error.decode() for _, error in results]
    async with SqlRepo(url) as one, SqlRepo(url) as other:
        await asyncio.gather(one.list(), other.list())
        assert await scalar(url, "SELECT count(*) FROM alembic_version") == 1


async def test_a_database_that_cannot_be_reached_is_unavailable_storage() -> None:
    from server import free_port

    with pytest.raises(StorageUnavailable) as raised:
        await SqlRepo(f"postgresql://postgres@127.0.0.1:{free_port()}/kalinsky").open()
    assert raised.value.message.startswith("The database cannot be used now (")
    assert raised.value.message.endswith("); nothing was changed, try again later")


def test_urls_are_normalised_to_the_async_drivers() -> None:
    assert SqlRepo("postgres://u:p@h:5433/db").url == "postgresql+psycopg://u:p@h:5433/db"
    assert SqlRepo("postgresql://u@h/db").url == "postgresql+psycopg://u@h/db"
    assert SqlRepo("postgresql+psycopg://u@h/db").url == "postgresql+psycopg://u@h/db"
    assert SqlRepo("sqlite:////srv/k.db").url == "sqlite+aiosqlite:////srv/k.db"
    for bad in ("mysql://u@h/db", "/srv/k.db", "postgresql://u@h"):
        with pytest.raises(ValueError):
            SqlRepo(bad)


