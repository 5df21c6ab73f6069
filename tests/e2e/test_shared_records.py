"""Several `kalinsky serve` processes on one database (the SQLite file, or PostgreSQL): each webhook notice is
delivered by exactly one of them, also when one starts while notices are being retried and when the one delivering
is killed mid-retry; and deletes and reindexes made through one process reach the event streams of the others."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from media import frame_indices
from server import Server, http_json, until, wait_for_assembly
from test_events import Follower

#: Leases (of renders and of deliveries) of 5 s, renewed every 0.5 s (renders) and 1.25 s (deliveries).
QUICK_LEASES = {"KALINSKY_LEASE_SECONDS": "5", "KALINSKY_WEBHOOK_ALLOW_PRIVATE": "true"}
SHORT = [{"source": "a.mp4", "start": 0.5, "end": 3.5}, {"source": "a.mp4"}]
SHORT_FRAMES = list(range(15, 105)) + list(range(120))


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {**QUICK_LEASES}
    return {**QUICK_LEASES, "KALINSKY_DATABASE_URL": request.getfixturevalue("postgres_url")}


class Receiver:
    """An HTTP server recording every POST (the notice's assembly id, the answer, when); it answers 500 to the first
    `refuse` POSTs of each assembly, and to every one while `refusing` is set, else 204."""

    def __init__(self, refuse: int = 0) -> None:
        self.refuse, self.refusing = refuse, False
        self.posts: list[tuple[str, int, float]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                notice = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    earlier = sum(1 for assembly_id, _, _ in receiver.posts if assembly_id == notice["id"])
                    status = 500 if receiver.refusing or earlier < receiver.refuse else 204
                    receiver.posts.append((notice["id"], status, time.monotonic()))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answers(self, assembly_id: str) -> list[int]:
        with self.lock:
            return [status for posted, status, _ in self.posts if posted == assembly_id]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver()
    yield started
    started.close()


def create(base: str, **body: object) -> dict:
    status, created = http_json("POST", f"{base}/api/v1/assemblies", {"preview": False, "clips": SHORT, **body})
    assert status == 202, created
    return created


def callback(base: str, assembly_id: str) -> dict:
    return http_json("GET", f"{base}/api/v1/assemblies/{assembly_id}")[1]["callback"]


def test_each_notice_is_delivered_once_by_one_of_the_api_processes(
    tmp_path: Path, sources_dir: Path, database: dict[str, str], receiver: Receiver
) -> None:
    receiver.refuse = 2  # the first two attempts fail: the notices are retried 5 and 15 s later
    first = Server(tmp_path, env=database)
    second = Server(tmp_path, env={**database, "KALINSKY_AUTO_REINDEX": "false"})
    servers = [first, second]
    try:
        # each process renders what its worker takes first and tells of the renders it finishes
        created = [create(server.url, callback_url=receiver.url)["id"] for server in servers * 3]
        for assembly_id in created:
            done = wait_for_assembly(first.url, assembly_id)
            assert done["status"] == "done", done["error"]
            assert frame_indices(tmp_path / "output" / assembly_id / "result.mp4") == SHORT_FRAMES
        until(lambda: all(callback(first.url, i)["status"] == "retrying" for i in created), timeout=30)
        # a third process starting now looks for undelivered notices: these are all held by the first two
        servers.append(Server(tmp_path, env={**database, "KALINSKY_AUTO_REINDEX": "false"}))
        for assembly_id in created:
            until(lambda: callback(servers[2].url, assembly_id)["status"] == "delivered", timeout=30)  # noqa: B023
        time.sleep(4)  # longer than a look of every process: nobody delivers any again
        for assembly_id in created:
            assert receiver.answers(assembly_id) == [500, 500, 204], assembly_id
            told = callback(second.url, assembly_id)
            assert (told["status"], told["attempts"], told["last_error"]) == ("delivered", 3, None)
    finally:
        for server in servers:
            server.stop()


def test_a_notice_whose_deliverer_was_killed_mid_retry_is_delivered_by_another_process(
    tmp_path: Path, sources_dir: Path, database: dict[str, str], receiver: Receiver
) -> None:
    receiver.refusing = True
    first = Server(tmp_path, env=database)
    second = None
    try:
        created = create(first.url, callback_url=receiver.url)["id"]
        assert wait_for_assembly(first.url, created)["status"] == "done"
        until(lambda: callback(first.url, created)["status"] == "retrying")  # refused once; the next try in 5 s
        second = Server(tmp_path, env={**database, "KALINSKY_AUTO_REINDEX": "false"})
        time.sleep(1.5)  # more than a look: the first still holds the notice, the second leaves it
        assert receiver.answers(created) == [500]
        first.kill()
        killed = time.monotonic()
        receiver.refusing = False
        told = until(lambda: (c := callback(second.url, created))["status"] == "delivered" and c, timeout=30)
        assert (told["attempts"], told["last_error"]) == (2, None)
        assert receiver.answers(created) == [500, 204]
        _, _, delivered_at = receiver.posts[-1]
        # once the killed one's lease (5 s from its last renewal) ran out, within a look of the second
        assert 2.0 < delivered_at - killed < 5 + 1.25 + 3, delivered_at - killed
        time.sleep(2)
        assert receiver.answers(created) == [500, 204]
    finally:
        for server in (first, second):
            if server is not None and server.process.poll() is None:
                server.stop()


def test_a_delete_and_a_reindex_through_one_process_reach_the_stream_of_another(
    tmp_path: Path, sources_dir: Path, database: dict[str, str]
) -> None:
    first = Server(tmp_path, env=database)
    second = Server(tmp_path, env={**database, "KALINSKY_AUTO_REINDEX": "false"})
    try:
        created = create(first.url)["id"]
        assert wait_for_assembly(first.url, created)["status"] == "done"
        following = Follower(second.url, until="deleted")  # on the process that is not asked anything
        assert http_json("POST", f"{first.url}/api/v1/sources/reindex")[0] == 200
        status, _ = http_json("DELETE", f"{first.url}/api/v1/assemblies/{created}")
        asked = time.monotonic()
        assert status == 204
        seen = following.wait()
        assert time.monotonic() - asked < 3
        assert [(kind, data) for kind, data in seen if kind == "index"] == [("index", {"count": 2})]
        kind, gone = seen[-1]
        assert (kind, gone["id"], gone["status"]) == ("deleted", created, "done")
        assert http_json("GET", f"{second.url}/api/v1/assemblies/{created}")[0] == 404
    finally:
        first.stop()
        second.stop()
