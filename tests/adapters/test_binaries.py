"""Which ffmpeg Kalinsky runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kalinsky_adapters.binaries import ffmpeg_options, find_executable

VENV_BIN = Path(sys.executable).parent


def test_the_wheels_ffmpeg_script_is_passed_over_for_its_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    # `uv run` puts the virtual environment's bin/ first on PATH, where the wheel's `ffmpeg` script lives; that
    # script exits 0 even when ffmpeg fails, so a failed render would pass for a good one.
    assert (VENV_BIN / "ffmpeg").is_file()
    monkeypatch.setenv("PATH", f"{VENV_BIN}:/nonexistent")
    found = find_executable("ffmpeg")
    assert Path(found).parts[-3:] == ("ffmpeg", "binaries", "ffmpeg")
    failed = subprocess.run([found, "-v", "error", "-i", "/nonexistent.mp4"], capture_output=True)
    assert failed.returncode != 0


def test_a_configured_path_wins_then_the_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert find_executable("ffmpeg", "/opt/ffmpeg/bin/ffmpeg") == "/opt/ffmpeg/bin/ffmpeg"
    mine = tmp_path / "ffprobe"
    mine.write_text("#!/bin/sh\nexit 0\n")
    mine.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{VENV_BIN}")
    assert find_executable("ffprobe") == str(mine)


def test_what_an_ffmpeg_can_do_is_asked_of_it_once(tmp_path: Path) -> None:
    options = ffmpeg_options(find_executable("ffmpeg"))
    assert {"display_rotation", "fps_mode", "stats_period", "autorotate", "enc_time_base"} <= options
    assert "h" in options and "-h" not in options
    asked = tmp_path / "asked"
    fake = tmp_path / "ffmpeg"
    fake.write_text(f"#!/bin/sh\necho >> {asked}\necho '-fps_mode  set framerate mode'\necho 'Advanced options:'\n")
    fake.chmod(0o755)
    assert ffmpeg_options(str(fake)) == ffmpeg_options(str(fake)) == frozenset({"fps_mode"})
    assert asked.read_text() == "\n"  # once
    assert ffmpeg_options(str(tmp_path / "missing")) == frozenset()
