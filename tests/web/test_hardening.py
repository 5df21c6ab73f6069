"""Cancelling renders, limits and refusals: what happens when things go wrong or input is hostile."""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

from litestar.testing import TestClient
from webapp import wait_done

from kalinsky_web.app import MAX_BODY_BYTES

LONG = {"preview": True, "clips": [{"source": "a.mp4"}] * 60}  # a few seconds of rendering here


def wait_running(client: TestClient, assembly_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while client.get(f"/api/v1/assemblies/{assembly_id}").json()["progress"] <= 0:
        assert time.monotonic() < deadline, "render did not start"
        time.sleep(0.05)


def test_cancel_stops_running_and_queued_renders_and_removes_their_files(
    client: TestClient, tmp_path: Path
) -> None:
    running = client.post("/api/v1/assemblies", json=LONG).json()
    queued = client.post("/api/v1/assemblies", json=LONG).json()
    wait_running(client, running["id"])
    assert client.get(f"/api/v1/assemblies/{queued['id']}").json()["progress"] == 0  # one render at a time

    for assembly in (queued, running):
        response = client.post(f"/api/v1/assemblies/{assembly['id']}/cancel")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "cancelled"
        assert not (tmp_path / "output" / assembly["id"]).exists()
    assert [a["status"] for a in client.get("/api/v1/assemblies").json()] == ["cancelled", "cancelled"]

    again = client.post(f"/api/v1/assemblies/{running['id']}/cancel")
    assert again.status_code == 409
    assert again.json() == {"status_code": 409, "detail": f"Assembly {running['id']} is already cancelled"}
    assert client.post("/api/v1/assemblies/asm_404/cancel").status_code == 404


def test_cancelling_a_finished_render_is_409_and_keeps_it(client: TestClient) -> None:
    done = wait_done(client, client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": 1}]}).json()["id"])
    response = client.post(f"/api/v1/assemblies/{done['id']}/cancel")
    assert response.status_code == 409 and response.json()["detail"] == f"Assembly {done['id']} is already done"
    assert client.get(done["output_url"]).status_code == 200


def test_work_files_of_a_render_are_never_served(client: TestClient, tmp_path: Path) -> None:
    segments = tmp_path / "output" / "asm_001" / "segments"
    segments.mkdir(parents=True)
    (segments / "result.mp4").write_bytes(b"partial")
    (tmp_path / "output" / ".hidden").write_text("no")
    for path in ("/output/asm_001/segments/result.mp4", "/output/.hidden"):
        assert client.get(path).status_code == 404, path


def test_oversized_bodies_and_clip_lists_are_refused(client: TestClient) -> None:
    huge = b'{"clips": [' + b'{"source": 1},' * (MAX_BODY_BYTES // 10) + b'{"source": 1}]}'
    assert client.post("/api/v1/assemblies", content=huge, headers={"Content-Type": "application/json"}
                       ).status_code == 413
    many = client.post("/api/v1/assemblies", json={"clips": [{"source": 1}] * 1001})
    assert many.status_code == 400 and "1000" in many.json()["extra"][0]["message"]
    assert client.get("/api/v1/assemblies").json() == []


def test_concurrent_reindexes_wait_for_each_other(client: TestClient) -> None:
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: client.post("/api/v1/sources/reindex"), range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    assert {r.json()["count"] for r in responses} == {2}
    assert [s["index"] for s in client.get("/api/v1/sources").json()] == [1, 2]
