"""SqliteRepo on a real database file."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import attrs
from samples import assembly, sources

from kalinsky_adapters.sqlite import SqliteRepo
from kalinsky_core.model import AssemblyStatus, Callback, CallbackStatus
from kalinsky_core.report import ClipReport, JoinReport, RenderReport


async def test_sources_round_trip_and_an_empty_index_differs_from_none(tmp_path: Path) -> None:
    async with SqliteRepo(tmp_path / "k.db") as repo:
        assert await repo.list_sources() is None
        await repo.replace_sources(sources())
        assert await repo.list_sources() == sources()
        await repo.replace_sources(())
        assert await repo.list_sources() == ()


async def test_the_audio_stream_of_a_source_round_trips(tmp_path: Path) -> None:
    heard = [attrs.evolve(source, audio_codec="opus", audio_duration=2.5) for source in sources()]
    async with SqliteRepo(tmp_path / "k.db") as repo:
        await repo.replace_sources(heard)
    async with SqliteRepo(tmp_path / "k.db") as repo:
        assert await repo.list_sources() == tuple(heard)


async def test_assemblies_survive_a_reopen_newest_first_with_their_clips(tmp_path: Path) -> None:
    async with SqliteRepo(tmp_path / "k.db") as repo:
        first, second = assembly(await repo.next_sequence()), assembly(await repo.next_sequence(), preview=False)
        await repo.add(first)
        await repo.add(second)
    async with SqliteRepo(tmp_path / "k.db") as repo:
        assert await repo.list() == [second, first]
        assert await repo.get(first.id) == first
        assert await repo.get("asm_999") is None


async def test_save_state_changes_only_the_render_state(tmp_path: Path) -> None:
    async with SqliteRepo(tmp_path / "k.db") as repo:
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


async def test_sequence_never_hands_out_a_number_twice(tmp_path: Path) -> None:
    async with SqliteRepo(tmp_path / "k.db") as repo:
        numbers = list(await asyncio.gather(*(repo.next_sequence() for _ in range(20))))
    async with SqliteRepo(tmp_path / "k.db") as repo:
        numbers.append(await repo.next_sequence())  # a number taken but never stored is not reused either
    assert numbers == sorted(set(numbers)) and numbers[-1] == 21


async def test_delete_removes_a_finished_assembly_and_its_number_stays_taken(tmp_path: Path) -> None:
    async with SqliteRepo(tmp_path / "k.db") as repo:
        first, second = assembly(await repo.next_sequence()), assembly(await repo.next_sequence())
        await repo.add(first)
        await repo.add(second)
        assert await repo.delete(second.id) is False  # still processing
        await repo.save_state(second.completed(1.0))
        assert await repo.delete(second.id) is True
        assert await repo.delete(second.id) is False and await repo.get(second.id) is None
    with sqlite3.connect(tmp_path / "k.db") as db:
        assert db.execute("SELECT count(*) FROM clips WHERE assembly_id = ?", (second.id,)).fetchone() == (0,)
    async with SqliteRepo(tmp_path / "k.db") as repo:
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


async def test_a_finished_assembly_keeps_its_state(tmp_path: Path) -> None:
    async with SqliteRepo(tmp_path / "k.db") as repo:
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


async def test_a_report_round_trips_and_goes_with_its_assembly(tmp_path: Path) -> None:
    report = RenderReport(
        clips=(ClipReport(pos=1, filename="a.mp4", video="smart", frames_planned=90, frames_written=90,
                          frames_copied=72, encoded_at_start=15, encoded_at_end=3),),
        joins=(JoinReport(pos=2, at=3.0, video_start=3.0, audio_start=3.001, av_offset_ms=1.0),),
    )
    async with SqliteRepo(tmp_path / "k.db") as repo:
        stored = assembly(await repo.next_sequence())
        await repo.add(stored)
        assert await repo.finish(stored.completed(3.0), report)
        assert not await repo.finish(stored.failed("late"), report)  # a finished record stays as it is
    async with SqliteRepo(tmp_path / "k.db") as repo:
        assert await repo.get_report(stored.id) == report and await repo.get_report("asm_999") is None
        assert (await repo.get(stored.id)).status is AssemblyStatus.DONE
        assert await repo.delete(stored.id)
        assert await repo.get_report(stored.id) is None
