"""The served process's log with KALINSKY_LOG_FORMAT=json: every line a JSON object, renders with their timings."""

from __future__ import annotations

import json
from pathlib import Path

from server import Server, http_json, wait_for_assembly


def test_json_log_lines_carry_each_render_start_and_end(tmp_path: Path, sources_dir: Path) -> None:
    server = Server(tmp_path, env={"KALINSKY_LOG_FORMAT": "json"})
    try:
        _, created = http_json("POST", f"{server.url}/api/v1/assemblies", {"clips": [{"source": 1, "end": 0.5}]})
        assert wait_for_assembly(server.url, created["id"])["status"] == "done"
    finally:
        server.stop(timeout=15)
    lines = [json.loads(line) for line in server.log().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # the server's own lines too
    renders = [line for line in lines if line.get("assembly_id") == created["id"]]
    assert [line["event"] for line in renders] == ["render_started", "render_finished"]
    assert renders[1]["status"] == "done" and renders[1]["render_seconds"] > 0
    assert renders[1]["output_seconds"] > 0.4
