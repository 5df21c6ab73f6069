"""Liveness, readiness and metrics, for the compose stack and a monitoring system."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families
from webapp import settings_for, wait_done

from kalinsky_web.app import create_app


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by (name, labels), read with Prometheus' own parser."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=1.0.0; charset=utf-8"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_healthz_answers_while_the_process_is_up(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_reports_every_check_and_is_200_when_all_pass(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "ffmpeg", "ffprobe", "output_dir", "data_dir"}
    assert all(check["ok"] for check in body["checks"].values()), body
    assert body["checks"]["database"]["detail"] == "2 sources indexed"
    assert body["checks"]["ffmpeg"]["detail"].startswith("ffmpeg version")
    assert not list((client.app.state.container.settings().output_dir).iterdir())  # the probe file is gone


def test_readyz_is_503_naming_the_check_that_fails(client: TestClient, tmp_path: Path) -> None:
    output = tmp_path / "output"
    shutil.rmtree(output)
    output.write_text("a file where the output folder should be")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["output_dir"]["ok"] is False and body["checks"]["output_dir"]["detail"]
    assert body["checks"]["data_dir"]["ok"] is True and body["checks"]["database"]["ok"] is True
    assert client.get("/healthz").status_code == 200  # still alive: only not ready


def test_metrics_count_reindexes_and_renders_by_status(client: TestClient, tmp_path: Path) -> None:
    before = samples(client)
    assert before[("kalinsky_reindexes_total", ())] == 1  # the reindex at startup
    assert before[("kalinsky_sources_indexed", ())] == 2
    assert before[("kalinsky_reindex_duration_seconds_count", ())] == 1
    assert before[("kalinsky_renders_total", (("status", "done"),))] == 0
    assert before[("kalinsky_render_duration_seconds_count", ())] == 0
    assert before[("kalinsky_render_queue_depth", ())] == 0
    assert before[("kalinsky_ffmpeg_processes", ())] == 0

    created = client.post("/api/v1/assemblies", json={"preview": False, "clips": [{"source": 1, "end": 1}]}).json()
    depths = set()
    for _ in range(100):  # the worker takes it at once: it shows as queued or running while it renders
        depths.add(samples(client)[("kalinsky_render_queue_depth", ())])
        if 1 in depths:
            break
        time.sleep(0.02)
    assert 1 in depths, depths
    assert wait_done(client, created["id"])["status"] == "done"
    stopped = client.post("/api/v1/assemblies", json={"preview": False, "clips": [{"source": 2, "end": 1}]}).json()
    assert client.post(f"/api/v1/assemblies/{stopped['id']}/cancel").status_code == 200
    (tmp_path / "sources" / "b.mov").write_bytes(b"damaged since it was indexed")
    failing = client.post("/api/v1/assemblies", json={"clips": [{"source": 2, "end": 1}]}).json()
    assert wait_done(client, failing["id"])["status"] == "failed"
    client.post("/api/v1/sources/reindex")

    after = samples(client)
    assert after[("kalinsky_renders_total", (("status", "done"),))] == 1
    assert after[("kalinsky_renders_total", (("status", "failed"),))] == 1
    assert after[("kalinsky_renders_total", (("status", "cancelled"),))] == 1  # counted once, started or not
    assert after[("kalinsky_render_duration_seconds_count", ())] in {2, 3}  # the cancel may come before its start
    assert 0 < after[("kalinsky_render_duration_seconds_sum", ())] < 60
    assert after[("kalinsky_renders_processing", ())] == 0
    assert after[("kalinsky_render_queue_depth", ())] == 0
    assert after[("kalinsky_reindexes_total", ())] == 2
    assert after[("kalinsky_sources_indexed", ())] == 1  # b.mov no longer reads


def test_each_app_has_metrics_of_its_own(client: TestClient, tmp_path: Path, sources_dir: Path) -> None:
    other_root = tmp_path / "other"
    shutil.copytree(sources_dir, other_root / "sources")
    with TestClient(app=create_app(settings_for(other_root))) as other:
        created = client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": 0.5}]}).json()
        wait_done(client, created["id"])
        assert samples(client)[("kalinsky_renders_total", (("status", "done"),))] == 1
        assert samples(other)[("kalinsky_renders_total", (("status", "done"),))] == 0


def test_a_render_logs_one_line_at_its_start_and_one_at_its_end(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="kalinsky.renders"):
        created = client.post("/api/v1/assemblies", json={"clips": [{"source": 1, "end": 0.5}]}).json()
        done = wait_done(client, created["id"])
    records = [record for record in caplog.records if record.name == "kalinsky.renders"]
    assert [record.event for record in records] == ["render_started", "render_finished"]  # type: ignore[attr-defined]
    start, end = records
    assert start.assembly_id == end.assembly_id == created["id"]  # type: ignore[attr-defined]
    assert start.clips == 1 and start.queued_seconds >= 0  # type: ignore[attr-defined]
    assert end.status == "done" and end.error is None  # type: ignore[attr-defined]
    assert 0 < end.render_seconds <= end.total_seconds + 0.01  # type: ignore[attr-defined]
    assert end.output_seconds == done["duration"]  # type: ignore[attr-defined]
    assert f"render {created['id']} ended done in" in end.getMessage()
