"""The `kalinsky` commands on real sources, real ffmpeg and the server's SQLite database."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import opentimelineio as otio
import pytest
from click.testing import CliRunner, Result
from litestar.testing import TestClient
from media import frame_indices, probe, stream

from kalinsky_adapters.otio import read_timeline
from kalinsky_adapters.settings import Settings
from kalinsky_cli.main import main
from kalinsky_web.app import create_app

CLIPS = [{"source": "a.mp4", "start": 1.0, "end": 2.5}, {"source": 2, "start": 0.4, "end": 1.2}]


@pytest.fixture
def env(tmp_path: Path, sources_dir: Path) -> dict[str, str]:
    return {
        "KALINSKY_SOURCES_DIR": str(sources_dir),
        "KALINSKY_OUTPUT_DIR": str(tmp_path / "output"),
        "KALINSKY_DATA_DIR": str(tmp_path / "data"),
        "KALINSKY_DB_PATH": str(tmp_path / "data" / "kalinsky.db"),
        "KALINSKY_FFMPEG_BIN": "",
        "KALINSKY_FFPROBE_BIN": "",
        "COLUMNS": "200",  # rich wraps long paths at the default 80 columns
    }


def kalinsky(env: dict[str, str], *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


def write_spec(tmp_path: Path, **body) -> str:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(body))
    return str(spec)


def shown(env: dict[str, str], assembly_id: str) -> dict:
    result = kalinsky(env, "show", assembly_id, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_sources_needs_an_index_first(env: dict[str, str]) -> None:
    result = kalinsky(env, "sources")
    assert result.exit_code == 1
    assert "No index. Call POST /sources/reindex first (or run `kalinsky reindex`)." in result.stderr


def test_reindex_then_sources_lists_them_in_a_table(env: dict[str, str]) -> None:
    result = kalinsky(env, "reindex")
    assert result.exit_code == 0
    assert "indexed 2 sources" in result.stdout
    assert "skipped broken.mp4:" in result.stderr

    table = kalinsky(env, "sources")
    assert table.exit_code == 0
    rows = [line for line in table.stdout.splitlines() if "a.mp4" in line or "b.mov" in line]
    assert [row.split("│")[1:8] for row in rows] == [
        [" 1 ", " a.mp4 ", " 4.000 s  ", " 320x240    ", " h264  ", " 30  ", " yes   "],
        [" 2 ", " b.mov ", " 3.000 s  ", " 160x120    ", " h264  ", " 25  ", " no    "],
    ]


def test_assemble_wait_renders_here_and_the_server_sees_it(env: dict[str, str], tmp_path: Path) -> None:
    kalinsky(env, "reindex")
    result = kalinsky(env, "assemble", write_spec(tmp_path, name="cli", clips=CLIPS), "--clean", "--wait")

    assert result.exit_code == 0, result.output
    assembly_id, output = result.stdout.splitlines()
    assert assembly_id == "asm_001"
    assert Path(output) == (tmp_path / "output" / "asm_001" / "result.mp4").resolve()
    assert "100%" in result.stderr and "asm_001 done: 2.300 s" in result.stderr
    video = stream(probe(Path(output)), "video")
    assert (video["width"], video["height"], int(video["nb_frames"])) == (320, 240, 45 + 24)
    assert frame_indices(Path(output))[:45] == list(range(30, 75))
    assert stream(probe(Path(output)), "audio") is not None

    settings = Settings(sources_dir=Path(env["KALINSKY_SOURCES_DIR"]), output_dir=tmp_path / "output",
                        data_dir=tmp_path / "data", db_path=tmp_path / "data" / "kalinsky.db", auto_reindex=False)
    with TestClient(app=create_app(settings), base_url="http://kalinsky.localhost") as client:
        served = client.get("/api/v1/assemblies/asm_001").json()
    assert (served["status"], served["name"], served["preview"]) == ("done", "cli", False)
    assert served["output_url"] == "/output/asm_001/result.mp4"
    assert served == shown(env, "asm_001")


def test_assemble_without_wait_renders_in_a_background_process(env: dict[str, str], tmp_path: Path) -> None:
    kalinsky(env, "reindex")
    started = time.monotonic()
    result = kalinsky(env, "assemble", write_spec(tmp_path, preview=False, clips=CLIPS), "--preview")
    assert result.exit_code == 0, result.output
    assert result.stdout == "asm_001\n"
    assert "kalinsky show asm_001" in result.stderr

    assembly = shown(env, "asm_001")
    assert assembly["preview"] is True  # --preview wins over the spec
    while assembly["status"] == "processing" and time.monotonic() - started < 60:
        time.sleep(0.2)
        assembly = shown(env, "asm_001")
    assert assembly["status"] == "done", assembly["error"]
    assert abs(float(stream(probe(tmp_path / "output" / "asm_001" / "result.mp4"), "video")["duration"]) - 2.3) < 1e-3


def test_a_failed_render_exits_non_zero(env: dict[str, str], tmp_path: Path) -> None:
    kalinsky(env, "reindex")
    broken = {**env, "KALINSKY_FFMPEG_BIN": shutil.which("false") or "/bin/false"}
    result = kalinsky(broken, "assemble", write_spec(tmp_path, clips=CLIPS), "--wait")
    assert result.exit_code == 1
    # clips are cut at once: whichever fails first is reported
    assert re.search(r"Error: asm_001 failed: ffmpeg failed on clip [12] \((a\.mp4|b\.mov)\), exit 1", result.stderr)
    assert shown(env, "asm_001")["status"] == "failed"


def test_refused_specs_say_why(env: dict[str, str], tmp_path: Path) -> None:
    kalinsky(env, "reindex")
    malformed = kalinsky(env, "assemble", "-", input='{"clips": [{"source": 1, "stat": 3}]}')
    assert malformed.exit_code == 2
    assert "Invalid value for SPEC: Object contains unknown field `stat`" in malformed.stderr

    reversed_trim = kalinsky(env, "assemble", write_spec(tmp_path, clips=[{"source": 1, "start": 3, "end": 2}]))
    assert reversed_trim.exit_code == 1 and "Error: start >= end for clip 1" in reversed_trim.stderr

    unknown = kalinsky(env, "assemble", "-", "--wait", input='{"clips": [{"source": 99}]}')
    assert unknown.exit_code == 1 and "Error: Source 99 not found" in unknown.stderr

    assert kalinsky(env, "show", "asm_001").exit_code == 1  # nothing was created
    assert "Error: Assembly not found" in kalinsky(env, "show", "asm_001").stderr


def test_show_prints_state_and_clips(env: dict[str, str], tmp_path: Path) -> None:
    kalinsky(env, "reindex")
    kalinsky(env, "assemble", write_spec(tmp_path, name="two", preview=False, clips=CLIPS), "--wait")
    text = kalinsky(env, "show", "asm_001").stdout
    assert "status    done" in text and "mode      clean" in text
    assert str((tmp_path / "output" / "asm_001" / "result.mp4").resolve()) in text
    assert "│ 2   │ b.mov  │ 0.400 s │ 1.200 s │ 0.800 s  │" in text


def test_export_round_trips_to_a_file_and_stdout(env: dict[str, str], tmp_path: Path) -> None:
    kalinsky(env, "reindex")
    result = kalinsky(env, "assemble", write_spec(tmp_path, name="otio", clips=CLIPS))  # rendered in the background
    assert result.exit_code == 0

    target = tmp_path / "cut.otio"
    assert kalinsky(env, "export", "asm_001", "-o", str(target)).exit_code == 0
    timeline = otio.adapters.read_from_file(str(target))
    video = timeline.video_tracks()[0]
    assert timeline.name == "otio"
    assert [(clip.name, clip.source_range) for clip in video] == [
        ("a.mp4", otio.opentime.TimeRange(otio.opentime.RationalTime(30, 30), otio.opentime.RationalTime(45, 30))),
        ("b.mov", otio.opentime.TimeRange(otio.opentime.RationalTime(10, 25), otio.opentime.RationalTime(20, 25))),
    ]
    sources = Path(env["KALINSKY_SOURCES_DIR"]).resolve()
    assert [clip.media_reference.target_url for clip in video] == [(sources / "a.mp4").as_uri(),
                                                                   (sources / "b.mov").as_uri()]
    printed = kalinsky(env, "export", "asm_001")
    assert read_timeline(printed.stdout).to_json_string() == timeline.to_json_string()

    missing = kalinsky(env, "export", "asm_404", "-o", str(tmp_path / "none.otio"))
    assert missing.exit_code == 1 and "Assembly not found" in missing.stderr
    assert not (tmp_path / "none.otio").exists()
    wait_until_final(env, "asm_001")


def wait_until_final(env: dict[str, str], assembly_id: str, timeout: float = 60) -> None:
    """Let a background render end before the test's folders go away."""
    deadline = time.monotonic() + timeout
    while shown(env, assembly_id)["status"] == "processing" and time.monotonic() < deadline:
        time.sleep(0.2)


def test_reindex_can_make_the_preview_proxies_before_returning(env: dict[str, str], tmp_path: Path) -> None:
    result = kalinsky({**env, "KALINSKY_PREVIEW_HEIGHT": "120"}, "reindex", "--proxies")
    assert result.exit_code == 0, result.output
    assert f"preview proxies: 1 of 1 ready in {tmp_path / 'data' / 'proxies'}" in result.stdout
    (proxy,) = (tmp_path / "data" / "proxies").glob("*.mp4")
    assert stream(probe(proxy), "video")["height"] == 120
    off = kalinsky({**env, "KALINSKY_PREVIEW_PROXIES": "false"}, "reindex", "--proxies")
    assert off.exit_code == 0 and "preview proxies are turned off (KALINSKY_PREVIEW_PROXIES)" in off.stderr


def test_init_db_creates_the_configured_database_or_the_one_named(
    env: dict[str, str], tmp_path: Path, postgres_url: str
) -> None:
    created = kalinsky(env, "init-db")
    assert created.exit_code == 0 and created.output.strip() == f"schema ready in {tmp_path / 'data' / 'kalinsky.db'}"
    assert (tmp_path / "data" / "kalinsky.db").is_file()

    on_postgres = kalinsky({**env, "KALINSKY_DATABASE_URL": postgres_url}, "init-db")
    assert on_postgres.exit_code == 0, on_postgres.output
    assert on_postgres.output.startswith("schema ready in postgresql+psycopg://postgres@127.0.0.1:")
    again = kalinsky(env, "init-db", postgres_url)  # named on the command line: upgrading again changes nothing
    assert again.exit_code == 0, again.output

    other = kalinsky(env, "init-db", str(tmp_path / "elsewhere" / "k.db"))
    assert other.exit_code == 0 and (tmp_path / "elsewhere" / "k.db").is_file()
    refused = kalinsky({**env, "KALINSKY_DATABASE_URL": "mysql://kal@db/kalinsky"}, "init-db")
    assert refused.exit_code == 1 and "KALINSKY_DATABASE_URL must be a postgresql://" in refused.output
