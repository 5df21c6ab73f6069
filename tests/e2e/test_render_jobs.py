"""Render jobs with owners, with real processes sharing one database: an API that renders nothing, `kalinsky worker`s,
kill -9 of the process holding a render, a cancel that reaches another process, and `kalinsky assemble` beside a
server. Every render is checked frame by frame."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from media import frame_indices
from server import KALINSKY, Server, http_json, until, wait_for_assembly


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> dict[str, str]:
    """The processes' environment for their records: the SQLite file (the records are the queue), or PostgreSQL
    (records and SAQ's job queue in it)."""
    if request.param == "sqlite":
        return {}
    return {"KALINSKY_DATABASE_URL": request.getfixturevalue("postgres_url")}


#: 23 clips of a.mp4 (120 frames, keyframe every 30): some seconds of clean rendering here.
CLIPS = [{"source": "a.mp4", "start": 0.5, "end": 3.5}] * 3 + [{"source": "a.mp4"}] * 20
FRAMES = list(range(15, 105)) * 3 + list(range(120)) * 20
#: 8 clips, cut and whole alike: where a test needs a render but not a long one (a second or two here).
SHORT = CLIPS[:8]
SHORT_FRAMES = list(range(15, 105)) * 3 + list(range(120)) * 5
#: Leases renewed twice a second (the beat is a tenth of the lease): a takeover and a cancel go quicker.
QUICK_LEASES = {"KALINSKY_LEASE_SECONDS": "5"}


class Worker:
    """A `kalinsky worker` process in `workdir` (its own process group, so kill -9 takes its ffmpegs too)."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None, *args: str) -> None:
        self.log_path = workdir / f"worker-{time.monotonic_ns()}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [KALINSKY, "worker", *args], cwd=workdir, env={**os.environ, **(env or {})},
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.name = f"{socket.gethostname()}:{self.process.pid}"

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 20) -> float:
        started = time.monotonic()
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        return time.monotonic() - started

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def workers(workdir: Path, count: int, env: dict[str, str] | None = None) -> Iterator[list[Worker]]:
    started = [Worker(workdir, env) for _ in range(count)]
    try:
        yield started
    finally:
        for worker in started:
            if worker.process.poll() is None:
                worker.kill()


def create(base: str, clips: list[dict] = CLIPS) -> dict:
    status, created = http_json("POST", f"{base}/api/v1/assemblies", {"preview": False, "clips": clips})
    assert status == 202, created
    return created


def assembly(base: str, assembly_id: str) -> dict:
    return http_json("GET", f"{base}/api/v1/assemblies/{assembly_id}")[1]


def ffmpegs_of(pid: int) -> list[int]:
    """The ffmpeg processes in the process group of `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if "(ffmpeg)" in stat and int(stat.rsplit(")", 1)[1].split()[2]) == pid:
                    found.append(int(entry.name))
    return found


def test_an_api_without_workers_queues_and_a_worker_process_renders(
    tmp_path: Path, sources_dir: Path, database: dict[str, str]
) -> None:
    server = Server(tmp_path, env={"KALINSKY_WORKERS": "0", **database})
    try:
        created = create(server.url, SHORT)
        assert (created["phase"], created["worker"], created["attempts"]) == ("queued", None, 0)
        time.sleep(3)  # more than a look of any worker: nobody renders it
        queued = assembly(server.url, created["id"])
        assert (queued["status"], queued["phase"], queued["progress"], queued["worker"]) == (
            "processing", "queued", 0, None)
        check = [KALINSKY, "worker", "--check"]
        env = {**os.environ, **database}
        assert subprocess.run(check, cwd=tmp_path, env=env, capture_output=True).returncode == 1  # no worker alive
        with workers(tmp_path, 1, database) as [worker]:
            rendering = until(lambda: (a := assembly(server.url, created["id"]))["worker"] and a)
            assert subprocess.run(check, cwd=tmp_path, env=env, capture_output=True).returncode == 0
            assert rendering["worker"] == worker.name and rendering["phase"] in {"rendering", "joining"}
            done = wait_for_assembly(server.url, created["id"])
            assert (done["status"], done["attempts"], done["worker"], done["phase"]) == ("done", 1, None, None)
            assert frame_indices(tmp_path / "output" / created["id"] / "result.mp4") == SHORT_FRAMES
            assert worker.stop() < 10
    finally:
        server.stop()


def test_two_workers_render_six_assemblies_and_one_killed_midway_is_taken_over(
    tmp_path: Path, sources_dir: Path, database: dict[str, str]
) -> None:
    database = {**database, **QUICK_LEASES}  # a quicker takeover
    server = Server(tmp_path, env={"KALINSKY_WORKERS": "0", **database})
    try:
        with workers(tmp_path, 2, database) as pair:
            # the two oldest long enough to be killed midway, the others short: all six must end done
            jobs = [(create(server.url, clips)["id"], clips) for clips in [CLIPS] * 2 + [SHORT] * 4]
            long_ones = [assembly_id for assembly_id, clips in jobs if clips is CLIPS]
            names = {worker.name: worker for worker in pair}

            def held_by_a_worker() -> dict | None:
                return next((a for a in (assembly(server.url, i) for i in long_ones)
                             if a["worker"] in names and 0 < a["progress"] < 0.5), None)

            held = until(held_by_a_worker, timeout=120)
            victim = names[held["worker"]]
            survivor = next(worker for worker in pair if worker is not victim)
            victim.kill()  # with its ffmpegs, mid-render
            # the survivor takes it over once its lease ran out and a slot is free
            taken = until(lambda: (a := assembly(server.url, held["id"]))["worker"] == survivor.name
                          or a["status"] != "processing", timeout=240, every=0.1)
            assert taken
            assert assembly(server.url, held["id"])["attempts"] == 2
            for assembly_id, clips in jobs:
                done = wait_for_assembly(server.url, assembly_id, timeout=180)
                assert done["status"] == "done", done["error"]
                expected = FRAMES if clips is CLIPS else SHORT_FRAMES
                assert frame_indices(tmp_path / "output" / assembly_id / "result.mp4") == expected, assembly_id
    finally:
        server.stop()


def test_a_cancel_reaches_the_worker_process_that_renders(
    tmp_path: Path, sources_dir: Path, database: dict[str, str]
) -> None:
    database = {**database, **QUICK_LEASES}
    server = Server(tmp_path, env={"KALINSKY_WORKERS": "0", **database})
    try:
        with workers(tmp_path, 1, database) as [worker]:
            created = create(server.url, CLIPS * 3)
            until(lambda: assembly(server.url, created["id"])["progress"] > 0 and ffmpegs_of(worker.process.pid))
            status, cancelled = http_json("POST", f"{server.url}/api/v1/assemblies/{created['id']}/cancel")
            asked = time.monotonic()
            assert (status, cancelled["status"]) == (200, "cancelled")
            until(lambda: not ffmpegs_of(worker.process.pid), timeout=5)
            until(lambda: not (tmp_path / "output" / created["id"]).exists(), timeout=5)
            assert time.monotonic() - asked < 5
            time.sleep(1.2)  # the worker's next renewals (every 0.5 s) change nothing
            after = assembly(server.url, created["id"])
            assert (after["status"], after["worker"], after["phase"]) == ("cancelled", None, None)
            assert not (tmp_path / "output" / created["id"]).exists()
            assert worker.process.poll() is None  # it goes on serving other jobs
    finally:
        server.stop()


def cli(workdir: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([KALINSKY, *args], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def first_line(process: subprocess.Popen[bytes]) -> str:
    assert process.stdout is not None
    return process.stdout.readline().decode().strip()


def record(workdir: Path, assembly_id: str) -> dict:
    """The assembly's render state, read straight from the SQLite file (quicker than a `kalinsky show`)."""
    with contextlib.closing(sqlite3.connect(workdir / "data" / "kalinsky.db", timeout=10)) as db:
        row = db.execute("SELECT status, progress, worker, attempts FROM assemblies WHERE id = ?",
                         (assembly_id,)).fetchone()
    return dict(zip(("status", "progress", "worker", "attempts"), row))


def test_a_cli_render_and_a_server_started_meanwhile_render_the_assembly_once(
    tmp_path: Path, sources_dir: Path
) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"preview": False, "clips": CLIPS * 3}))
    subprocess.run([KALINSKY, "reindex"], cwd=tmp_path, check=True, capture_output=True)
    process = cli(tmp_path, "assemble", str(spec), "--wait")  # no server or worker: it renders here
    assembly_id = first_line(process)
    until(lambda: record(tmp_path, assembly_id)["worker"], every=0.02)
    assert record(tmp_path, assembly_id)["worker"] == f"{socket.gethostname()}:{process.pid}"
    server = Server(tmp_path)  # resumes what is unfinished, but this one has a live owner
    try:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        assert out.decode().strip() == str((tmp_path / "output" / assembly_id / "result.mp4").resolve())
        done = assembly(server.url, assembly_id)
        assert (done["status"], done["attempts"]) == ("done", 1)
        assert frame_indices(tmp_path / "output" / assembly_id / "result.mp4") == FRAMES * 3
        assert f"renders {assembly_id}" not in server.log()
    finally:
        server.stop()


def test_a_killed_cli_render_is_taken_over_by_the_server(tmp_path: Path, sources_dir: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"preview": False, "clips": CLIPS}))  # killed as it claims it: the length proves nothing
    subprocess.run([KALINSKY, "reindex"], cwd=tmp_path, check=True, capture_output=True)
    process = cli(tmp_path, "assemble", str(spec), "--wait")
    assembly_id = first_line(process)
    until(lambda: record(tmp_path, assembly_id)["worker"], every=0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    left = record(tmp_path, assembly_id)
    assert (left["status"], left["attempts"]) == ("processing", 1) and left["worker"]
    server = Server(tmp_path)
    try:
        started = time.monotonic()
        done = wait_for_assembly(server.url, assembly_id, timeout=90)
        assert (done["status"], done["attempts"]) == ("done", 2), done["error"]
        assert time.monotonic() - started < 60
        assert frame_indices(tmp_path / "output" / assembly_id / "result.mp4") == FRAMES
    finally:
        server.stop()


def test_a_stopped_worker_hands_its_renders_back_at_once(
    tmp_path: Path, sources_dir: Path, database: dict[str, str]
) -> None:
    server = Server(tmp_path, env={"KALINSKY_WORKERS": "0", **database})
    try:
        with workers(tmp_path, 1, database) as [first]:
            created = create(server.url, SHORT)
            until(lambda: assembly(server.url, created["id"])["progress"] > 0)
            assert first.stop() < 10
            handed = assembly(server.url, created["id"])
            assert (handed["status"], handed["phase"], handed["worker"], handed["progress"]) == (
                "processing", "queued", None, 0)
        with workers(tmp_path, 1, database) as [second]:
            done = wait_for_assembly(server.url, created["id"])
            assert (done["status"], done["attempts"]) == ("done", 2)
            assert frame_indices(tmp_path / "output" / created["id"] / "result.mp4") == SHORT_FRAMES
            second.stop()
    finally:
        server.stop()


def test_two_api_processes_share_the_records_and_each_streams_what_a_worker_renders(
    tmp_path: Path, sources_dir: Path, postgres_url: str
) -> None:
    from test_events import Follower

    env = {"KALINSKY_WORKERS": "0", "KALINSKY_DATABASE_URL": postgres_url}
    first, second = Server(tmp_path, env=env), Server(tmp_path, env={**env, "KALINSKY_AUTO_REINDEX": "false"})
    try:
        following = Follower(second.url, until="finished")  # on the API that is not asked anything
        with workers(tmp_path, 1, {"KALINSKY_DATABASE_URL": postgres_url}) as [worker]:
            created = create(first.url, SHORT)
            assert assembly(second.url, created["id"])["status"] == "processing"
            seen = following.wait()
            kinds = [kind for kind, _ in seen]
            assert kinds[0] == "ready" and kinds[-1] == "finished" and "progress" in kinds, kinds
            workers_seen = {data["worker"] for kind, data in seen if kind == "progress"}
            assert worker.name in workers_seen, workers_seen
            assert seen[-1][1]["status"] == "done" and seen[-1][1]["id"] == created["id"]
            assert assembly(first.url, created["id"]) == assembly(second.url, created["id"])
            worker.stop()
    finally:
        first.stop()
        second.stop()
