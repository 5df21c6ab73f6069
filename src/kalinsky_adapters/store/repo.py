"""AssemblyRepo on SQLAlchemy Core (async): one implementation for SQLite (aiosqlite) and PostgreSQL (psycopg 3).

Every change is one transaction, and every change of an assembly raises the store's revision in it. Conditional
changes (a claim, a fenced state, a finished record that stays) are single conditional UPDATEs, so that they hold
across processes. On SQLite the repository keeps one connection (WAL mode, `busy_timeout`, foreign keys on) and
runs one transaction at a time on it; writes start with `BEGIN IMMEDIATE`, so that they wait for another process's
write rather than fail half-way. On PostgreSQL it keeps a small pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from kalinsky_adapters.store import migrate
from kalinsky_adapters.store.tables import assemblies, clips, deletions, meta, reports, sources, workers
from kalinsky_adapters.store.urls import normalise, shown, sqlite_url
from kalinsky_core.errors import StorageUnavailable
from kalinsky_core.model import (
    Assembly,
    AssemblyStatus,
    Callback,
    CallbackStatus,
    Clip,
    FileIdentity,
    Phase,
    Source,
    VideoCoding,
)
from kalinsky_core.ports import Changes
from kalinsky_core.report import ClipReport, JoinReport, RenderReport, RenderTimings

#: How long a SQLite connection waits for another process's write lock, milliseconds.
SQLITE_BUSY_MS = 5000
#: How many times opening a SQLite file tries its migrations while another process holds the file.
_OPEN_ATTEMPTS = 5
_PROCESSING = AssemblyStatus.PROCESSING.value
#: The callback states whose notice is still to be delivered (NULL: stored before states were).
_UNDELIVERED = (CallbackStatus.PENDING.value, CallbackStatus.RETRYING.value)
#: Seconds a deleted assembly stays in `deletions`, for change feeds that read it late.
DELETIONS_KEPT_S = 3600.0
#: The execution option that makes a SQLite transaction a write one (`BEGIN IMMEDIATE`).
_WRITE = "kalinsky_write"

_ASSEMBLY_COLUMNS = (
    assemblies.c.id, assemblies.c.name, assemblies.c.status, assemblies.c.error, assemblies.c.preview,
    assemblies.c.duration, assemblies.c.created, assemblies.c.progress, assemblies.c.eta_seconds,
    assemblies.c.callback_url, assemblies.c.callback_status, assemblies.c.callback_attempts,
    assemblies.c.callback_error, assemblies.c.worker, assemblies.c.attempts, assemblies.c.phase,
)
_SOURCE_COLUMNS = tuple(sources.c)


P = ParamSpec("P")
T = TypeVar("T")


def _whole(
    method: Callable[Concatenate[SqlRepo, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[SqlRepo, P], Coroutine[Any, Any, T]]:
    """Run the operation to its end even if its caller is cancelled (a render stopped at shutdown): a database
    call cut off half-way costs the connection (the driver's close then waits on a call that never answers), and
    a transaction either happens or it does not anyway. `close` waits for those still running."""

    async def run(self: SqlRepo, /, *args: P.args, **kwargs: P.kwargs) -> T:
        task = asyncio.ensure_future(method(self, *args, **kwargs))
        self._in_flight.add(task)
        task.add_done_callback(self._finished)
        return await asyncio.shield(task)

    functools.update_wrapper(run, method)
    return run


def _reason(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return lines[0].strip() if lines else type(cause).__name__


@contextlib.asynccontextmanager
async def _storage_errors() -> AsyncIterator[None]:
    """The database's errors as the core's StorageUnavailable: "database or disk is full", "database is locked",
    a PostgreSQL server that refuses connections... A broken constraint is the caller's mistake: ValueError."""
    try:
        yield
    except sa.exc.IntegrityError as error:
        raise ValueError(_reason(error)) from error
    except (sa.exc.DBAPIError, sa.exc.TimeoutError, OSError) as error:
        raise StorageUnavailable(
            f"The database cannot be used now ({_reason(error)}); nothing was changed, try again later"
        ) from error


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling off: transactions begin where `_on_sqlite_begin` says.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: sa.Connection) -> None:
    write = connection.get_execution_options().get(_WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _source_values(s: Source) -> dict[str, object]:
    return {
        "idx": s.index, "filename": s.filename, "duration": s.duration, "resolution": s.resolution, "codec": s.codec,
        "file_size": s.file_size, "width": s.width, "height": s.height, "frame_rate": s.frame_rate,
        "has_audio": int(s.has_audio),
        "coding": None if s.coding is None else json.dumps(attrs.asdict(s.coding)),
        "keyframes": json.dumps(list(s.keyframes)),
        "frame_count": s.frame_count,
        "copy_ends": json.dumps(list(s.copy_ends)),
        "identity": None if s.identity is None else json.dumps(attrs.asdict(s.identity)),
        "audio": json.dumps({"codec": s.audio_codec, "duration": s.audio_duration}),
    }


def _source(row: sa.Row[Any]) -> Source:
    audio = {} if row.audio is None else json.loads(row.audio)
    return Source(
        index=row.idx,
        filename=row.filename,
        duration=row.duration,
        resolution=row.resolution,
        codec=row.codec,
        file_size=row.file_size,
        width=row.width,
        height=row.height,
        frame_rate=row.frame_rate,
        has_audio=bool(row.has_audio),
        coding=None if row.coding is None else VideoCoding(**json.loads(row.coding)),
        keyframes=tuple(json.loads(row.keyframes)),
        frame_count=row.frame_count,
        copy_ends=tuple(json.loads(row.copy_ends)),
        identity=None if row.identity is None else FileIdentity(**json.loads(row.identity)),
        audio_codec=audio.get("codec", ""),
        audio_duration=audio.get("duration"),
    )


def _assembly(row: sa.Row[Any], its_clips: Iterable[Clip]) -> Assembly:
    return Assembly(
        id=row.id,
        name=row.name,
        status=AssemblyStatus(row.status),
        error=row.error,
        preview=bool(row.preview),
        duration=row.duration,
        created=row.created,
        progress=row.progress,
        eta_seconds=row.eta_seconds,
        clips=tuple(its_clips),
        callback=None if row.callback_url is None else Callback(
            url=row.callback_url, status=row.callback_status or "pending", attempts=row.callback_attempts,
            last_error=row.callback_error,
        ),
        worker=row.worker,
        attempts=row.attempts,
        phase=None if row.phase is None else Phase(row.phase),
    )


def _assembly_text(a: Assembly) -> str:
    """An assembly as JSON, to keep it once its rows are gone."""
    return json.dumps({
        "id": a.id, "name": a.name, "status": a.status.value, "error": a.error, "preview": a.preview,
        "duration": a.duration, "created": a.created, "progress": a.progress, "eta_seconds": a.eta_seconds,
        "clips": [{"pos": c.pos, "filename": c.filename, "start": c.start, "end": c.end, "video": c.video.value}
                  for c in a.clips],
        "callback": None if a.callback is None else {
            "url": a.callback.url, "status": a.callback.status.value, "attempts": a.callback.attempts,
            "last_error": a.callback.last_error,
        },
        "worker": a.worker, "attempts": a.attempts, "phase": None if a.phase is None else a.phase.value,
    })


def _assembly_of_text(text: str) -> Assembly:
    data = json.loads(text)
    callback = data.pop("callback")
    return Assembly(
        **{**data, "status": AssemblyStatus(data["status"]), "clips": tuple(Clip(**c) for c in data["clips"])},
        callback=None if callback is None else Callback(**callback),
    )


def _report(text: str) -> RenderReport:
    """A stored report; one stored before a field existed gets that field's default."""
    data = json.loads(text)
    timings = data.get("timings")
    return RenderReport(
        clips=tuple(ClipReport(**clip) for clip in data["clips"]),
        joins=tuple(JoinReport(**join) for join in data["joins"]),
        result_cached=data.get("result_cached"),
        timings=None if timings is None else RenderTimings(**timings),
    )



def _storable(key: str) -> bool:
    """Whether a key can name a stored row: PostgreSQL's text holds no NUL character, so no id with one exists."""
    return "\x00" not in key


class SqlRepo:
    """The AssemblyRepo on a database URL (`sqlite+aiosqlite:///PATH`, `postgresql+psycopg://...`, or the forms
    `kalinsky_adapters.store.urls.normalise` accepts). Leases and heartbeats run on `clock` (seconds)."""

    def __init__(self, url: str, clock: Callable[[], float] = time.time) -> None:
        self.url = normalise(url)
        self.clock = clock
        self.sqlite = sa.make_url(self.url).get_backend_name() == "sqlite"
        self._engine: AsyncEngine | None = None
        self._serial = asyncio.Lock()  # SQLite only: one transaction at a time on its one connection
        # PostgreSQL: this process's writes one at a time, in the order they were asked (they queue on the revision
        # counter's row anyway), so that a write whose caller was cancelled cannot land after a later one, nor after
        # a later read
        self._writes = asyncio.Lock()
        self._in_flight: set[asyncio.Future[Any]] = set()

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a caller that was cancelled meanwhile no longer asks for it

    @classmethod
    def at_path(cls, db_path: Path, clock: Callable[[], float] = time.time) -> SqlRepo:
        """The repository in the SQLite file at `db_path`."""
        return cls(sqlite_url(Path(db_path)), clock)

    def __repr__(self) -> str:
        return f"SqlRepo({shown(self.url)!r})"

    # -- lifetime --------------------------------------------------------------------------------------

    async def open(self) -> SqlRepo:
        """Connect, and bring the schema to the latest revision."""
        if self.sqlite:
            database = sa.make_url(self.url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_async_engine(self.url, pool_size=1, max_overflow=0, pool_timeout=300)
            sa.event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
            sa.event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
        else:
            engine = create_async_engine(self.url, pool_size=4, max_overflow=4, pool_timeout=30, pool_pre_ping=True)
        self._engine = engine
        try:
            await self._upgrade()
        except BaseException:
            await self.close()
            raise
        return self

    async def _upgrade(self) -> None:
        """The migrations, in a write transaction: on PostgreSQL under an advisory lock, on SQLite under the file's
        write lock. Another process opening a fresh SQLite file at the same moment can hold it past the busy
        timeout's reach (while it switches the file to WAL mode): that is tried again."""
        for attempt in range(1, _OPEN_ATTEMPTS + 1):
            try:
                async with self._transaction(write=True) as connection:
                    await connection.run_sync(migrate.upgrade)
                return
            except StorageUnavailable as error:
                if not self.sqlite or attempt == _OPEN_ATTEMPTS or "locked" not in error.message:
                    raise
                await asyncio.sleep(0.1 * attempt)

    async def close(self) -> None:
        """Wait for the operations still running (their callers may have gone), then disconnect."""
        while self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def __aenter__(self) -> SqlRepo:
        return await self.open()

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("the repository is not open")
        return self._engine

    @contextlib.asynccontextmanager
    async def _transaction(self, write: bool = False) -> AsyncIterator[AsyncConnection]:
        """One transaction: committed when the block ends, unless the block rolled it back (nothing changed);
        rolled back on an error."""
        async with contextlib.AsyncExitStack() as stack:
            if self.sqlite:
                await stack.enter_async_context(self._serial)
            elif write:
                await stack.enter_async_context(self._writes)
            else:
                async with self._writes:  # a read sees the writes this process asked for before it
                    pass
            await stack.enter_async_context(_storage_errors())
            connection = await stack.enter_async_context(self.engine.connect())
            if write and self.sqlite:
                await connection.execution_options(**{_WRITE: True})
            await connection.begin()
            yield connection
            if connection.in_transaction():
                await connection.commit()

    def _upsert(self, table: sa.Table, values: dict[str, object], key: str, update: dict[str, Any]) -> Any:
        insert = postgresql.insert if not self.sqlite else sqlite.insert
        return insert(table).values(**values).on_conflict_do_update(index_elements=[key], set_=update)

    async def _bump(self, connection: AsyncConnection, key: str) -> int:
        """Raise the bookkeeping number `key` by one (from 0 when missing) and return it: one atomic statement."""
        statement = self._upsert(meta, {"key": key, "value": 1}, "key", {"value": meta.c.value + 1})
        return int((await connection.execute(statement.returning(meta.c.value))).scalar_one())

    async def _next_revision(self, connection: AsyncConnection) -> int:
        return await self._bump(connection, "revision")

    # -- sources ---------------------------------------------------------------------------------------

    @_whole
    async def replace_sources(self, sources_: Sequence[Source]) -> None:
        async with self._transaction(write=True) as connection:
            await connection.execute(sources.delete())
            if sources_:
                await connection.execute(sources.insert(), [_source_values(s) for s in sources_])
            await connection.execute(self._upsert(meta, {"key": "indexed", "value": 1}, "key", {"value": 1}))
            revision = await self._next_revision(connection)  # followers in every process learn of the new index
            await connection.execute(
                self._upsert(meta, {"key": "index_revision", "value": revision}, "key", {"value": revision})
            )

    @_whole
    async def list_sources(self) -> tuple[Source, ...] | None:
        async with self._transaction() as connection:
            indexed = await connection.scalar(sa.select(meta.c.value).where(meta.c.key == "indexed"))
            if indexed is None:
                return None
            rows = await connection.execute(sa.select(*_SOURCE_COLUMNS).order_by(sources.c.idx))
            return tuple(_source(row) for row in rows)

    # -- assemblies ------------------------------------------------------------------------------------

    @_whole
    async def next_sequence(self) -> int:
        async with self._transaction(write=True) as connection:
            return await self._bump(connection, "assembly_sequence")

    @_whole
    async def add(self, assembly: Assembly) -> None:
        async with self._transaction(write=True) as connection:
            revision = await self._next_revision(connection)
            callback = assembly.callback
            await connection.execute(assemblies.insert().values(
                id=assembly.id, name=assembly.name, status=assembly.status.value, error=assembly.error,
                preview=int(assembly.preview), duration=assembly.duration, created=assembly.created,
                progress=assembly.progress, eta_seconds=assembly.eta_seconds,
                callback_url=None if callback is None else callback.url,
                callback_status=None if callback is None else callback.status.value,
                callback_attempts=0 if callback is None else callback.attempts,
                callback_error=None if callback is None else callback.last_error,
                worker=assembly.worker, attempts=assembly.attempts,
                phase=None if assembly.phase is None else assembly.phase.value,
                revision=revision, seq=revision,
            ))
            await connection.execute(clips.insert(), [
                {"assembly_id": assembly.id, "pos": c.pos, "filename": c.filename, "start": c.start, "end": c.end,
                 "duration": c.duration, "video": c.video.value}
                for c in assembly.clips
            ])

    async def _select(
        self,
        connection: AsyncConnection,
        *where: sa.ColumnElement[bool],
        by: str = "seq",
        descending: bool = True,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Assembly]:
        """The assemblies `where` says, ordered `by` a column, with their clips: one statement, so one snapshot."""
        inner = assemblies.c[by].desc() if descending else assemblies.c[by]
        page = (
            sa.select(*_ASSEMBLY_COLUMNS, assemblies.c.seq, assemblies.c.revision)
            .where(*where).order_by(inner).limit(limit).offset(offset).subquery("page")
        )
        rows = await connection.execute(
            sa.select(page, clips.c.pos.label("clip_pos"), clips.c.filename.label("clip_filename"),
                      clips.c.start.label("clip_start"), clips.c.end.label("clip_end"),
                      clips.c.video.label("clip_video"))
            .join(clips, clips.c.assembly_id == page.c.id)
            .order_by(page.c[by].desc() if descending else page.c[by], clips.c.pos)
        )
        found: dict[str, tuple[sa.Row[Any], list[Clip]]] = {}
        for row in rows:
            _, its_clips = found.setdefault(row.id, (row, []))
            its_clips.append(Clip(pos=row.clip_pos, filename=row.clip_filename, start=row.clip_start,
                                  end=row.clip_end, video=row.clip_video))
        return [_assembly(row, its_clips) for row, its_clips in found.values()]

    @_whole
    async def get(self, assembly_id: str) -> Assembly | None:
        if not _storable(assembly_id):
            return None
        async with self._transaction() as connection:
            return await self._get(connection, assembly_id)

    async def _get(self, connection: AsyncConnection, assembly_id: str) -> Assembly | None:
        found = await self._select(connection, assemblies.c.id == assembly_id)
        return found[0] if found else None

    async def _save_state(self, connection: AsyncConnection, assembly: Assembly, worker: str | None) -> bool:
        final = assembly.status.is_final
        values: dict[str, object] = {
            "status": assembly.status.value, "progress": assembly.progress, "eta_seconds": assembly.eta_seconds,
            "error": assembly.error, "duration": assembly.duration,
            "phase": None if final or assembly.phase is None else assembly.phase.value,
            "revision": await self._next_revision(connection),
        }
        if final:
            values.update(worker=None, lease_until=None)
        statement = assemblies.update().where(assemblies.c.id == assembly.id, assemblies.c.status == _PROCESSING)
        if worker is not None:
            statement = statement.where(assemblies.c.worker == worker)
        return (await connection.execute(statement.values(**values))).rowcount > 0

    @_whole
    async def save_state(self, assembly: Assembly, *, worker: str | None = None) -> bool:
        async with self._transaction(write=True) as connection:
            if await self._save_state(connection, assembly, worker):
                return True
            await connection.rollback()  # nor is the revision raised
            return False

    @_whole
    async def finish(self, assembly: Assembly, report: RenderReport | None, *, worker: str | None = None) -> bool:
        async with self._transaction(write=True) as connection:
            if not await self._save_state(connection, assembly, worker):
                await connection.rollback()
                return False
            if report is not None:
                text = json.dumps(attrs.asdict(report))
                await connection.execute(
                    self._upsert(reports, {"assembly_id": assembly.id, "report": text}, "assembly_id",
                                 {"report": text})
                )
            return True

    # -- who renders what ------------------------------------------------------------------------------

    @_whole
    async def claim(self, assembly_id: str, worker: str, lease_s: float) -> Assembly | None:
        if not _storable(assembly_id):
            return None
        now = self.clock()
        async with self._transaction(write=True) as connection:
            # The revision first, as every change takes it: on PostgreSQL its row lock is then always taken before
            # an assembly's, and two claims of one assembly queue behind each other.
            revision = await self._next_revision(connection)
            claimed = await connection.execute(
                assemblies.update()
                .where(
                    assemblies.c.id == assembly_id,
                    assemblies.c.status == _PROCESSING,
                    sa.or_(assemblies.c.worker.is_(None), assemblies.c.worker == worker,
                           assemblies.c.lease_until.is_(None), assemblies.c.lease_until <= now),
                )
                .values(worker=worker, lease_until=now + lease_s, attempts=assemblies.c.attempts + 1,
                        phase=Phase.RENDERING.value, progress=0.0, eta_seconds=None, revision=revision)
            )
            if claimed.rowcount == 0:
                await connection.rollback()
                return None
            return await self._get(connection, assembly_id)

    @_whole
    async def renew(self, assembly_id: str, worker: str, lease_s: float) -> bool:
        if not _storable(assembly_id):
            return False
        async with self._transaction(write=True) as connection:
            renewed = await connection.execute(
                assemblies.update()
                .where(assemblies.c.id == assembly_id, assemblies.c.status == _PROCESSING,
                       assemblies.c.worker == worker)
                .values(lease_until=self.clock() + lease_s)
            )
            return renewed.rowcount > 0

    @_whole
    async def release(self, assembly_id: str, worker: str) -> bool:
        if not _storable(assembly_id):
            return False
        async with self._transaction(write=True) as connection:
            released = await connection.execute(
                assemblies.update()
                .where(assemblies.c.id == assembly_id, assemblies.c.status == _PROCESSING,
                       assemblies.c.worker == worker)
                .values(worker=None, lease_until=None, phase=Phase.QUEUED.value, progress=0.0, eta_seconds=None,
                        revision=await self._next_revision(connection))
            )
            if released.rowcount == 0:
                await connection.rollback()
                return False
            return True

    @_whole
    async def claimable(self, limit: int | None = None) -> list[str]:
        async with self._transaction() as connection:
            rows = await connection.execute(
                sa.select(assemblies.c.id)
                .where(assemblies.c.status == _PROCESSING,
                       sa.or_(assemblies.c.worker.is_(None), assemblies.c.lease_until.is_(None),
                              assemblies.c.lease_until <= self.clock()))
                .order_by(assemblies.c.seq).limit(limit)
            )
            return list(rows.scalars())

    @_whole
    async def beat_worker(self, worker: str, renders: int) -> None:
        seen = self.clock()
        async with self._transaction(write=True) as connection:
            await connection.execute(self._upsert(
                workers, {"id": worker, "seen": seen, "renders": renders}, "id", {"seen": seen, "renders": renders}
            ))

    @_whole
    async def drop_worker(self, worker: str) -> None:
        async with self._transaction(write=True) as connection:
            await connection.execute(workers.delete().where(workers.c.id == worker))

    @_whole
    async def live_workers(self, within_s: float) -> list[str]:
        async with self._transaction() as connection:
            rows = await connection.execute(
                sa.select(workers.c.id).where(workers.c.seen > self.clock() - within_s).order_by(workers.c.id)
            )
            return list(rows.scalars())

    @_whole
    async def changed_since(self, revision: int) -> tuple[int, list[Assembly]]:
        async with self._transaction() as connection:
            now = int(await connection.scalar(sa.select(meta.c.value).where(meta.c.key == "revision")) or 0)
            if revision < 0:
                return now, []
            changed = await self._select(
                connection, assemblies.c.revision > revision, assemblies.c.revision <= now,
                by="revision", descending=False,
            )
            return now, changed

    @_whole
    async def changes_since(self, revision: int) -> Changes:
        async with self._transaction() as connection:
            numbers = {row.key: row.value for row in await connection.execute(
                sa.select(meta.c.key, meta.c.value).where(meta.c.key.in_(("revision", "index_revision")))
            )}
            now = int(numbers.get("revision") or 0)
            if revision < 0:
                return Changes(now)
            # Each statement bounded by `now`: what they read was stored by then, whatever is stored meanwhile.
            changed = await self._select(
                connection, assemblies.c.revision > revision, assemblies.c.revision <= now,
                by="revision", descending=False,
            )
            gone = await connection.execute(
                sa.select(deletions.c.assembly)
                .where(deletions.c.revision > revision, deletions.c.revision <= now)
                .order_by(deletions.c.revision)
            )
            index = None
            if revision < int(numbers.get("index_revision") or 0) <= now:
                index = int(await connection.scalar(sa.select(sa.func.count()).select_from(sources)) or 0)
            return Changes(now, tuple(changed), tuple(_assembly_of_text(text) for text in gone.scalars()), index)

    @_whole
    async def save_callback(self, assembly_id: str, callback: Callback, *, deliverer: str | None = None) -> bool:
        if not _storable(assembly_id):
            return False
        values: dict[str, object] = {
            "callback_status": callback.status.value, "callback_attempts": callback.attempts,
            "callback_error": callback.last_error,
        }
        if callback.status.value not in _UNDELIVERED:
            values.update(callback_deliverer=None, callback_lease_until=None)
        async with self._transaction(write=True) as connection:
            statement = assemblies.update().where(
                assemblies.c.id == assembly_id, assemblies.c.callback_url.is_not(None)
            )
            if deliverer is not None:
                statement = statement.where(assemblies.c.callback_deliverer == deliverer)
            saved = await connection.execute(statement.values(**values,
                                                              revision=await self._next_revision(connection)))
            if saved.rowcount == 0:
                await connection.rollback()
                return False
            return True

    def _deliverable(self, now: float, deliverer: str | None = None) -> tuple[sa.ColumnElement[bool], ...]:
        """A finished assembly whose notice is still to be delivered and that no live lease holds (but
        `deliverer`'s own)."""
        free = [assemblies.c.callback_deliverer.is_(None), assemblies.c.callback_lease_until.is_(None),
                assemblies.c.callback_lease_until <= now]
        if deliverer is not None:
            free.append(assemblies.c.callback_deliverer == deliverer)
        return (
            assemblies.c.status != _PROCESSING,
            assemblies.c.callback_url.is_not(None),
            sa.or_(assemblies.c.callback_status.is_(None), assemblies.c.callback_status.in_(_UNDELIVERED)),
            sa.or_(*free),
        )

    @_whole
    async def claim_callback(self, assembly_id: str, deliverer: str, lease_s: float) -> Assembly | None:
        if not _storable(assembly_id):
            return None
        now = self.clock()
        async with self._transaction(write=True) as connection:
            # One conditional UPDATE (of one row: no lock taken before it), so two claims of one notice, from any
            # processes, cannot both win. Nothing the API shows changes: the revision stays.
            claimed = await connection.execute(
                assemblies.update().where(assemblies.c.id == assembly_id, *self._deliverable(now, deliverer))
                .values(callback_deliverer=deliverer, callback_lease_until=now + lease_s)
            )
            if claimed.rowcount == 0:
                await connection.rollback()
                return None
            return await self._get(connection, assembly_id)

    @_whole
    async def renew_callback(self, assembly_id: str, deliverer: str, lease_s: float) -> bool:
        if not _storable(assembly_id):
            return False
        async with self._transaction(write=True) as connection:
            renewed = await connection.execute(
                assemblies.update()
                .where(assemblies.c.id == assembly_id, assemblies.c.callback_deliverer == deliverer)
                .values(callback_lease_until=self.clock() + lease_s)
            )
            return renewed.rowcount > 0

    @_whole
    async def release_callback(self, assembly_id: str, deliverer: str) -> bool:
        if not _storable(assembly_id):
            return False
        async with self._transaction(write=True) as connection:
            released = await connection.execute(
                assemblies.update()
                .where(assemblies.c.id == assembly_id, assemblies.c.callback_deliverer == deliverer)
                .values(callback_deliverer=None, callback_lease_until=None)
            )
            return released.rowcount > 0

    @_whole
    async def deliverable_callbacks(self, limit: int | None = None) -> list[str]:
        async with self._transaction() as connection:
            rows = await connection.execute(
                sa.select(assemblies.c.id).where(*self._deliverable(self.clock()))
                .order_by(assemblies.c.seq).limit(limit)
            )
            return list(rows.scalars())

    @_whole
    async def get_report(self, assembly_id: str) -> RenderReport | None:
        if not _storable(assembly_id):
            return None
        async with self._transaction() as connection:
            text = await connection.scalar(sa.select(reports.c.report).where(reports.c.assembly_id == assembly_id))
        return None if text is None else _report(text)

    @_whole
    async def delete(self, assembly_id: str) -> bool:
        if not _storable(assembly_id):
            return False
        now = self.clock()
        async with self._transaction(write=True) as connection:
            revision = await self._next_revision(connection)  # first, as every change takes it (lock order)
            finished = await connection.scalar(
                sa.select(assemblies.c.id)
                .where(assemblies.c.id == assembly_id, assemblies.c.status != _PROCESSING)
                .with_for_update()
            )
            if finished is None:
                await connection.rollback()
                return False
            gone = await self._get(connection, assembly_id)
            await connection.execute(reports.delete().where(reports.c.assembly_id == assembly_id))
            await connection.execute(clips.delete().where(clips.c.assembly_id == assembly_id))
            await connection.execute(assemblies.delete().where(assemblies.c.id == assembly_id))
            # What the change feeds of every process tell their followers; the oldest go.
            await connection.execute(deletions.delete().where(deletions.c.deleted < now - DELETIONS_KEPT_S))
            if gone is not None:
                await connection.execute(deletions.insert().values(
                    revision=revision, assembly_id=assembly_id, deleted=now, assembly=_assembly_text(gone)
                ))
            return True

    @_whole
    async def list(
        self, *, status: AssemblyStatus | None = None, limit: int | None = None, offset: int = 0
    ) -> list[Assembly]:
        where = () if status is None else (assemblies.c.status == status.value,)
        async with self._transaction() as connection:
            return await self._select(connection, *where, limit=limit, offset=offset)

    @_whole
    async def count(self, *, status: AssemblyStatus | None = None) -> int:
        where = () if status is None else (assemblies.c.status == status.value,)
        async with self._transaction() as connection:
            return int(await connection.scalar(sa.select(sa.func.count()).select_from(assemblies).where(*where)) or 0)


async def upgrade_schema(url: str) -> None:
    """Create the schema of the database at `url`, or bring it to the latest revision (as opening a repository
    does)."""
    repo = SqlRepo(url)
    await repo.open()
    await repo.close()
