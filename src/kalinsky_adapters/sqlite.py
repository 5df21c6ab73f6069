"""AssemblyRepo on SQLite (aiosqlite): WAL mode, one transaction per change, writes serialized.

`python -m kalinsky_adapters.sqlite [DB_PATH]` creates the schema (for deployment entrypoints).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import aiosqlite
import attrs

from kalinsky_core.errors import StorageUnavailable
from kalinsky_core.model import Assembly, AssemblyStatus, Callback, Clip, FileIdentity, Phase, Source, VideoCoding
from kalinsky_core.report import ClipReport, JoinReport, RenderReport

SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    idx         INTEGER PRIMARY KEY,
    filename    TEXT NOT NULL UNIQUE,
    duration    REAL NOT NULL,
    resolution  TEXT NOT NULL,
    codec       TEXT NOT NULL,
    file_size   INTEGER NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    frame_rate  TEXT NOT NULL,
    has_audio   INTEGER NOT NULL,
    coding      TEXT,              -- JSON of VideoCoding, NULL when unknown
    keyframes   TEXT NOT NULL DEFAULT '[]',  -- JSON array of frame indices
    frame_count INTEGER,
    copy_ends   TEXT NOT NULL DEFAULT '[]',  -- JSON array of frame indices
    identity    TEXT,              -- JSON of FileIdentity, NULL when indexed without one
    audio       TEXT               -- JSON {codec, duration} of the first audio stream, NULL when unrecorded
);
CREATE TABLE IF NOT EXISTS assemblies (
    id          TEXT PRIMARY KEY,
    name        TEXT,
    status      TEXT NOT NULL,
    error       TEXT,
    preview     INTEGER NOT NULL,
    output_url  TEXT,
    duration    REAL,
    created     TEXT NOT NULL,
    progress    REAL NOT NULL DEFAULT 0,
    eta_seconds REAL,
    callback_url      TEXT,       -- told when the assembly finishes; NULL when none was asked for
    callback_status   TEXT,
    callback_attempts INTEGER NOT NULL DEFAULT 0,
    callback_error    TEXT,
    worker      TEXT,              -- host:pid of the process rendering it, NULL while queued and once finished
    lease_until REAL,              -- unix time at which the worker's lease runs out
    attempts    INTEGER NOT NULL DEFAULT 0,
    phase       TEXT,              -- queued, rendering, joining; NULL once finished
    revision    INTEGER NOT NULL DEFAULT 0  -- the store's revision at its last change
);
CREATE TABLE IF NOT EXISTS workers (
    id          TEXT PRIMARY KEY,
    seen        REAL NOT NULL,
    renders     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS clips (
    assembly_id TEXT NOT NULL REFERENCES assemblies(id),
    pos         INTEGER NOT NULL,
    filename    TEXT NOT NULL,
    start       REAL NOT NULL,
    "end"       REAL NOT NULL,
    duration    REAL NOT NULL,
    video       TEXT NOT NULL DEFAULT 'reencode',
    PRIMARY KEY (assembly_id, pos)
);
CREATE TABLE IF NOT EXISTS reports (
    assembly_id TEXT PRIMARY KEY REFERENCES assemblies(id),
    report      TEXT NOT NULL      -- JSON of RenderReport
);
-- kalinsky's own bookkeeping: whether an index was ever made, the last assembly number handed out
CREATE TABLE IF NOT EXISTS meta (
    key         TEXT PRIMARY KEY,
    value       INTEGER NOT NULL
);
"""

_SOURCE_COLUMNS = (
    "idx, filename, duration, resolution, codec, file_size, width, height, frame_rate, has_audio, coding, keyframes, "
    "frame_count, copy_ends, identity, audio"
)
# `output_url` (a column of the first schema) is no longer written: where results live is the outputs' business.
_ASSEMBLY_COLUMNS = (
    "id, name, status, error, preview, duration, created, progress, eta_seconds, callback_url, callback_status, "
    "callback_attempts, callback_error, worker, attempts, phase"
)


async def init_db(db_path: Path) -> None:
    """Create the database file and its schema if missing; switch it to WAL mode."""
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(db_path) as db:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.executescript(SCHEMA)
        await _add_missing_columns(db)
        await db.execute("UPDATE assemblies SET phase = 'queued' WHERE status = 'processing' AND phase IS NULL")
        await db.commit()


#: Columns added since the first schema: (table, column, definition). Older databases get them on opening.
_ADDED_COLUMNS = (
    ("sources", "copy_ends", "TEXT NOT NULL DEFAULT '[]'"),
    ("sources", "identity", "TEXT"),
    ("sources", "audio", "TEXT"),
    ("assemblies", "callback_url", "TEXT"),
    ("assemblies", "callback_status", "TEXT"),
    ("assemblies", "callback_attempts", "INTEGER NOT NULL DEFAULT 0"),
    ("assemblies", "callback_error", "TEXT"),
    ("assemblies", "worker", "TEXT"),
    ("assemblies", "lease_until", "REAL"),
    ("assemblies", "attempts", "INTEGER NOT NULL DEFAULT 0"),
    ("assemblies", "phase", "TEXT"),
    ("assemblies", "revision", "INTEGER NOT NULL DEFAULT 0"),
)


async def _add_missing_columns(db: aiosqlite.Connection) -> None:
    for table, column, definition in _ADDED_COLUMNS:
        async with db.execute(f"PRAGMA table_info({table})") as cursor:
            present = {row[1] for row in await cursor.fetchall()}
        if column not in present:
            await db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


def _source_row(s: Source) -> tuple[object, ...]:
    coding = None if s.coding is None else json.dumps(attrs.asdict(s.coding))
    identity = None if s.identity is None else json.dumps(attrs.asdict(s.identity))
    return (s.index, s.filename, s.duration, s.resolution, s.codec, s.file_size, s.width, s.height, s.frame_rate,
            int(s.has_audio), coding, json.dumps(list(s.keyframes)), s.frame_count, json.dumps(list(s.copy_ends)),
            identity, json.dumps({"codec": s.audio_codec, "duration": s.audio_duration}))


def _source(row: aiosqlite.Row) -> Source:
    audio = {} if row[15] is None else json.loads(row[15])
    return Source(
        index=row[0],
        filename=row[1],
        duration=row[2],
        resolution=row[3],
        codec=row[4],
        file_size=row[5],
        width=row[6],
        height=row[7],
        frame_rate=row[8],
        has_audio=bool(row[9]),
        coding=None if row[10] is None else VideoCoding(**json.loads(row[10])),
        keyframes=tuple(json.loads(row[11])),
        frame_count=row[12],
        copy_ends=tuple(json.loads(row[13])),
        identity=None if row[14] is None else FileIdentity(**json.loads(row[14])),
        audio_codec=audio.get("codec", ""),
        audio_duration=audio.get("duration"),
    )


def _callback_row(callback: Callback | None) -> tuple[object, ...]:
    if callback is None:
        return (None, None, 0, None)
    return (callback.url, callback.status.value, callback.attempts, callback.last_error)


@contextlib.asynccontextmanager
async def _storage_errors() -> AsyncIterator[None]:
    """SQLite's errors as the core's StorageUnavailable: "database or disk is full", "database is locked"..."""
    try:
        yield
    except sqlite3.Error as error:
        raise StorageUnavailable(
            f"The database cannot be used now ({error}); nothing was changed, try again later"
        ) from error


class SqliteRepo:
    """One connection per repo; an asyncio lock keeps transactions from interleaving on it."""

    def __init__(self, db_path: Path, clock: Callable[[], float] = time.time) -> None:
        self.db_path = Path(db_path)
        self.clock = clock
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> SqliteRepo:
        await init_db(self.db_path)
        self._db = await aiosqlite.connect(self.db_path)
        await self._db.execute("PRAGMA foreign_keys=ON")
        await self._db.execute("PRAGMA busy_timeout=5000")
        return self

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def __aenter__(self) -> SqliteRepo:
        return await self.open()

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the repository is not open")
        return self._db

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock, _storage_errors():
            try:
                yield self.db
                await self.db.commit()
            except BaseException:
                await self.db.rollback()
                raise

    # -- sources ---------------------------------------------------------------------------------------

    async def replace_sources(self, sources: Sequence[Source]) -> None:
        async with self._transaction() as db:
            await db.execute("DELETE FROM sources")
            await db.executemany(
                f"INSERT INTO sources ({_SOURCE_COLUMNS}) VALUES ({', '.join('?' * 16)})",
                [_source_row(s) for s in sources],
            )
            await db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('indexed', 1)")

    async def list_sources(self) -> tuple[Source, ...] | None:
        async with self._lock, _storage_errors():
            async with self.db.execute("SELECT value FROM meta WHERE key = 'indexed'") as cursor:
                if await cursor.fetchone() is None:
                    return None
            async with self.db.execute(f"SELECT {_SOURCE_COLUMNS} FROM sources ORDER BY idx") as cursor:
                return tuple(_source(row) for row in await cursor.fetchall())

    # -- assemblies ------------------------------------------------------------------------------------

    async def next_sequence(self) -> int:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO meta (key, value) VALUES ('assembly_sequence', 1) "
                "ON CONFLICT(key) DO UPDATE SET value = value + 1"
            )
            async with db.execute("SELECT value FROM meta WHERE key = 'assembly_sequence'") as cursor:
                row = await cursor.fetchone()
            assert row is not None  # the row was just written
            return int(row[0])

    async def add(self, assembly: Assembly) -> None:
        async with self._transaction() as db:
            await db.execute(
                f"INSERT INTO assemblies ({_ASSEMBLY_COLUMNS}, revision) VALUES ({', '.join('?' * 17)})",
                (assembly.id, assembly.name, assembly.status.value, assembly.error, int(assembly.preview),
                 assembly.duration, assembly.created, assembly.progress, assembly.eta_seconds,
                 *_callback_row(assembly.callback), assembly.worker, assembly.attempts,
                 None if assembly.phase is None else assembly.phase.value, await self._next_revision(db)),
            )
            await db.executemany(
                'INSERT INTO clips (assembly_id, pos, filename, start, "end", duration, video) '
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(assembly.id, c.pos, c.filename, c.start, c.end, c.duration, c.video.value) for c in assembly.clips],
            )

    async def _clips(self, assembly_ids: Sequence[str]) -> dict[str, list[Clip]]:
        clips: dict[str, list[Clip]] = {assembly_id: [] for assembly_id in assembly_ids}
        if not assembly_ids:
            return clips
        marks = ",".join("?" * len(assembly_ids))
        async with self.db.execute(
            f'SELECT assembly_id, pos, filename, start, "end", video FROM clips WHERE assembly_id IN ({marks}) '
            "ORDER BY assembly_id, pos",
            tuple(assembly_ids),
        ) as cursor:
            for assembly_id, pos, filename, start, end, video in await cursor.fetchall():
                clips[assembly_id].append(Clip(pos=pos, filename=filename, start=start, end=end, video=video))
        return clips

    async def _assemblies(
        self, where: str, params: Sequence[object], page: str = "", order: str = "rowid DESC"
    ) -> list[Assembly]:
        async with self._lock, _storage_errors():
            async with self.db.execute(
                f"SELECT {_ASSEMBLY_COLUMNS} FROM assemblies {where} ORDER BY {order} {page}", params
            ) as cursor:
                rows = await cursor.fetchall()
            clips = await self._clips([row[0] for row in rows])
        return [
            Assembly(
                id=row[0],
                name=row[1],
                status=AssemblyStatus(row[2]),
                error=row[3],
                preview=bool(row[4]),
                duration=row[5],
                created=row[6],
                progress=row[7],
                eta_seconds=row[8],
                clips=tuple(clips[row[0]]),
                callback=None if row[9] is None else Callback(
                    url=row[9], status=row[10] or "pending", attempts=row[11], last_error=row[12]
                ),
                worker=row[13],
                attempts=row[14],
                phase=None if row[15] is None else Phase(row[15]),
            )
            for row in rows
        ]

    async def get(self, assembly_id: str) -> Assembly | None:
        found = await self._assemblies("WHERE id = ?", (assembly_id,))
        return found[0] if found else None

    async def save_state(self, assembly: Assembly, *, worker: str | None = None) -> bool:
        async with self._transaction() as db:
            return await self._save_state(db, assembly, worker)

    async def _next_revision(self, db: aiosqlite.Connection) -> int:
        async with db.execute(
            "INSERT INTO meta (key, value) VALUES ('revision', 1) ON CONFLICT(key) DO UPDATE SET value = value + 1 "
            "RETURNING value"
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return int(row[0])

    async def _save_state(self, db: aiosqlite.Connection, assembly: Assembly, worker: str | None) -> bool:
        final = assembly.status.is_final
        phase = None if final or assembly.phase is None else assembly.phase.value
        cursor = await db.execute(
            "UPDATE assemblies SET status = ?, progress = ?, eta_seconds = ?, error = ?, duration = ?, phase = ?, "
            "worker = CASE WHEN ? THEN NULL ELSE worker END, "
            "lease_until = CASE WHEN ? THEN NULL ELSE lease_until END, revision = ? "
            "WHERE id = ? AND status = 'processing' AND (? IS NULL OR worker = ?)",
            (assembly.status.value, assembly.progress, assembly.eta_seconds, assembly.error, assembly.duration, phase,
             final, final, await self._next_revision(db), assembly.id, worker, worker),
        )
        return cursor.rowcount > 0

    async def claim(self, assembly_id: str, worker: str, lease_s: float) -> Assembly | None:
        now = self.clock()
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE assemblies SET worker = ?, lease_until = ?, attempts = attempts + 1, phase = 'rendering', "
                "progress = 0, eta_seconds = NULL, revision = ? "
                "WHERE id = ? AND status = 'processing' "
                "AND (worker IS NULL OR worker = ? OR lease_until IS NULL OR lease_until <= ?)",
                (worker, now + lease_s, await self._next_revision(db), assembly_id, worker, now),
            )
            claimed = cursor.rowcount > 0
        return await self.get(assembly_id) if claimed else None

    async def renew(self, assembly_id: str, worker: str, lease_s: float) -> bool:
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE assemblies SET lease_until = ? WHERE id = ? AND status = 'processing' AND worker = ?",
                (self.clock() + lease_s, assembly_id, worker),
            )
            return cursor.rowcount > 0

    async def release(self, assembly_id: str, worker: str) -> bool:
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE assemblies SET worker = NULL, lease_until = NULL, phase = 'queued', progress = 0, "
                "eta_seconds = NULL, revision = ? WHERE id = ? AND status = 'processing' AND worker = ?",
                (await self._next_revision(db), assembly_id, worker),
            )
            return cursor.rowcount > 0

    async def claimable(self, limit: int | None = None) -> list[str]:
        async with self._lock, _storage_errors():
            async with self.db.execute(
                "SELECT id FROM assemblies WHERE status = 'processing' "
                "AND (worker IS NULL OR lease_until IS NULL OR lease_until <= ?) ORDER BY rowid LIMIT ?",
                (self.clock(), -1 if limit is None else limit),
            ) as cursor:
                return [row[0] for row in await cursor.fetchall()]

    async def beat_worker(self, worker: str, renders: int) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO workers (id, seen, renders) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET seen = excluded.seen, renders = excluded.renders",
                (worker, self.clock(), renders),
            )

    async def drop_worker(self, worker: str) -> None:
        async with self._transaction() as db:
            await db.execute("DELETE FROM workers WHERE id = ?", (worker,))

    async def live_workers(self, within_s: float) -> list[str]:
        async with self._lock, _storage_errors():
            async with self.db.execute(
                "SELECT id FROM workers WHERE seen > ? ORDER BY id", (self.clock() - within_s,)
            ) as cursor:
                return [row[0] for row in await cursor.fetchall()]

    async def changed_since(self, revision: int) -> tuple[int, list[Assembly]]:
        async with self._lock, _storage_errors():
            async with self.db.execute("SELECT value FROM meta WHERE key = 'revision'") as cursor:
                row = await cursor.fetchone()
        now = 0 if row is None else int(row[0])
        if revision < 0:
            return now, []
        return now, await self._assemblies("WHERE revision > ? AND revision <= ?", (revision, now), order="revision")

    async def finish(self, assembly: Assembly, report: RenderReport | None, *, worker: str | None = None) -> bool:
        async with self._transaction() as db:
            stored = await self._save_state(db, assembly, worker)
            if stored and report is not None:
                await self._save_report(db, assembly.id, report)
            return stored

    async def save_callback(self, assembly_id: str, callback: Callback) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE assemblies SET callback_status = ?, callback_attempts = ?, callback_error = ?, revision = ? "
                "WHERE id = ? AND callback_url IS NOT NULL",
                (callback.status.value, callback.attempts, callback.last_error, await self._next_revision(db),
                 assembly_id),
            )

    async def _save_report(self, db: aiosqlite.Connection, assembly_id: str, report: RenderReport) -> None:
        await db.execute(
            "INSERT OR REPLACE INTO reports (assembly_id, report) VALUES (?, ?)",
            (assembly_id, json.dumps(attrs.asdict(report))),
        )

    async def get_report(self, assembly_id: str) -> RenderReport | None:
        async with self._lock:
            async with self.db.execute("SELECT report FROM reports WHERE assembly_id = ?", (assembly_id,)) as cursor:
                row = await cursor.fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        return RenderReport(
            clips=tuple(ClipReport(**clip) for clip in data["clips"]),
            joins=tuple(JoinReport(**join) for join in data["joins"]),
        )

    async def delete(self, assembly_id: str) -> bool:
        async with self._transaction() as db:
            async with db.execute(
                "SELECT 1 FROM assemblies WHERE id = ? AND status != 'processing'", (assembly_id,)
            ) as cursor:
                if await cursor.fetchone() is None:
                    return False
            await db.execute("DELETE FROM reports WHERE assembly_id = ?", (assembly_id,))
            await db.execute("DELETE FROM clips WHERE assembly_id = ?", (assembly_id,))
            await db.execute("DELETE FROM assemblies WHERE id = ?", (assembly_id,))
            return True

    async def list(
        self, *, status: AssemblyStatus | None = None, limit: int | None = None, offset: int = 0
    ) -> list[Assembly]:
        where, params = ("", ()) if status is None else ("WHERE status = ?", (status.value,))
        # SQLite's LIMIT -1 means no limit; OFFSET needs a LIMIT before it
        return await self._assemblies(where, (*params, -1 if limit is None else limit, offset), "LIMIT ? OFFSET ?")

    async def count(self, *, status: AssemblyStatus | None = None) -> int:
        where, params = ("", ()) if status is None else ("WHERE status = ?", (status.value,))
        async with self._lock, _storage_errors():
            async with self.db.execute(f"SELECT count(*) FROM assemblies {where}", params) as cursor:
                row = await cursor.fetchone()
        return int(row[0]) if row else 0


def main(argv: Sequence[str] = sys.argv[1:]) -> None:
    if len(argv) != 1:
        sys.exit("usage: python -m kalinsky_adapters.sqlite DB_PATH")
    db_path = Path(argv[0])
    asyncio.run(init_db(db_path))
    print(f"schema ready in {db_path}")


if __name__ == "__main__":
    main()
