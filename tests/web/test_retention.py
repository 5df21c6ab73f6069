"""Deleting renders: DELETE /api/v1/assemblies/{id}, and KALINSKY_KEEP_DAYS at startup."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from litestar.testing import TestClient
from webapp import settings_for, wait_done

from kalinsky_web.app import create_app


def test_delete_removes_a_finished_render_and_its_files_and_the_id_is_never_reused(
    client: TestClient, tmp_path: Path
) -> None:
    created = client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": 0.5}]}).json()
    done = wait_done(client, created["id"])
    assert done["status"] == "done" and (tmp_path / "output" / "asm_001" / "result.mp4").is_file()

    response = client.delete("/api/v1/assemblies/asm_001")
    assert response.status_code == 204 and response.content == b""
    assert not (tmp_path / "output" / "asm_001").exists()
    assert client.get(done["output_url"]).status_code == 404
    gone = client.get("/api/v1/assemblies/asm_001")
    assert gone.status_code == 404 and gone.json()["detail"] == "Assembly not found"
    again = client.delete("/api/v1/assemblies/asm_001")
    assert again.status_code == 404 and again.json() == {"status_code": 404, "detail": "Assembly not found"}
    assert client.get("/api/v1/assemblies").json() == []

    assert client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": 0.5}]}).json()["id"] == "asm_002"
    wait_done(client, "asm_002")


def test_delete_while_rendering_is_409_then_allowed_once_cancelled(client: TestClient, tmp_path: Path) -> None:
    created = client.post("/api/v1/assemblies", json={"preview": False, "clips": [{"source": 1}]}).json()
    refused = client.delete(f"/api/v1/assemblies/{created['id']}")
    assert refused.status_code == 409
    assert refused.json() == {"status_code": 409, "detail": f"Assembly {created['id']} is still processing"}
    assert client.get(f"/api/v1/assemblies/{created['id']}").json()["status"] == "processing"

    assert client.post(f"/api/v1/assemblies/{created['id']}/cancel").json()["status"] == "cancelled"
    assert client.delete(f"/api/v1/assemblies/{created['id']}").status_code == 204
    assert client.get(f"/api/v1/assemblies/{created['id']}").status_code == 404


def test_delete_of_a_failed_render_and_of_an_unknown_id(client: TestClient, tmp_path: Path) -> None:
    created = client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": 0.5}]}).json()
    (tmp_path / "sources" / "a.mp4").write_bytes(b"gone bad")  # the render fails on the damaged file
    failed = wait_done(client, created["id"])
    assert failed["status"] == "failed"
    assert client.delete(f"/api/v1/assemblies/{created['id']}").status_code == 204
    unknown = client.delete("/api/v1/assemblies/asm_999")
    assert unknown.status_code == 404 and unknown.json()["detail"] == "Assembly not found"


def test_keep_days_deletes_finished_renders_older_than_that_at_startup(tmp_path: Path, sources_dir: Path) -> None:
    with TestClient(app=create_app(settings_for(tmp_path))) as client:
        for end in (0.5, 0.6):
            created = client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": end}]}).json()
            wait_done(client, created["id"])
    with sqlite3.connect(tmp_path / "data" / "kalinsky.db") as db:
        db.execute("UPDATE assemblies SET created = '2020-01-01T00:00:00.000Z' WHERE id = 'asm_001'")
        db.execute("UPDATE assemblies SET created = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-2 days') "
                   "WHERE id = 'asm_002'")

    with TestClient(app=create_app(settings_for(tmp_path, keep_days=3.0))) as client:
        assert [a["id"] for a in client.get("/api/v1/assemblies").json()] == ["asm_002"]
        assert not (tmp_path / "output" / "asm_001").exists()
        assert (tmp_path / "output" / "asm_002" / "result.mp4").is_file()
    with TestClient(app=create_app(settings_for(tmp_path, keep_days=1.5))) as client:
        assert client.get("/api/v1/assemblies").json() == []
        assert client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": 0.5}]}).json()["id"] == "asm_003"
        wait_done(client, "asm_003")
