"""`GET /api/v1/events` on the real server: a render's changes arrive as Server-Sent Events, in order."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
from server import http_json, running_server


class Follower:
    """Reads the event stream in a thread until an event of kind `until` arrives."""

    def __init__(self, base: str, until: str) -> None:
        self.base, self.until = base, until
        self.seen: list[tuple[str, dict]] = []
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def _read(self) -> None:
        with httpx.stream("GET", f"{self.base}/api/v1/events", timeout=60) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            kind = None
            for line in response.iter_lines():
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: ") and kind is not None:
                    self.seen.append((kind, json.loads(line.removeprefix("data: "))))
                    if kind == "ready":
                        self.ready.set()
                    if kind == self.until:
                        return

    def wait(self) -> list[tuple[str, dict]]:
        self.thread.join(60)
        assert not self.thread.is_alive()
        return self.seen


def test_a_render_arrives_created_then_progress_then_finished(tmp_path: Path, sources_dir: Path) -> None:
    with running_server(tmp_path) as base:
        follower = Follower(base, until="finished")
        status, created = http_json("POST", f"{base}/api/v1/assemblies",
                                    {"preview": False, "clips": [{"source": 1, "end": 2}]})
        assert status == 202
        seen = follower.wait()
        kinds = [kind for kind, _data in seen]
        assert kinds[:2] == ["ready", "created"] and kinds[-1] == "finished"
        assert set(kinds[2:-1]) <= {"progress"}
        assert all(data["id"] == created["id"] for _kind, data in seen[1:])
        progress = [data["progress"] for kind, data in seen if kind == "progress"]
        assert progress == sorted(progress)
        _, stored = http_json("GET", f"{base}/api/v1/assemblies/{created['id']}")
        assert seen[-1][1] == stored and stored["status"] == "done"


def test_a_reindex_is_an_event(tmp_path: Path, sources_dir: Path) -> None:
    with running_server(tmp_path) as base:
        follower = Follower(base, until="index")
        http_json("POST", f"{base}/api/v1/sources/reindex")
        assert follower.wait()[-1] == ("index", {"count": 2})
