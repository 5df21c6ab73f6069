"""Test media made with ffmpeg's lavfi sources, and readers that check what a render holds.

Frame-coded video: every frame shows its own index in binary as BITS vertical stripes (stripe i white when
bit i is set), so decoding a rendered frame tells exactly which source frame it came from.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from kalinsky_adapters.binaries import find_executable

FFMPEG = find_executable("ffmpeg")
FFPROBE = find_executable("ffprobe")
BITS = 10  # up to 1024 distinct frames


def _stripes(offset: int, across: str = "X/W") -> str:
    # `N` is the frame number inside geq; X/W picks the stripe.
    return f"lum='255*mod(floor((N+{offset})/pow(2,floor({across}*{BITS}))),2)':cb=128:cr=128"


def make_video(
    path: Path,
    *,
    duration: float = 3.0,
    size: str = "320x240",
    fps: str = "30",
    audio: bool = True,
    codec: str = "libx264",
    gop: int = 30,
    offset: int = 0,
    pix_fmt: str = "yuv420p",
    rotated: bool = False,
    across_rows: bool = False,
    extra: tuple[str, ...] = (),
) -> Path:
    """A frame-coded source; with audio a 440 Hz tone. `offset` is added to the coded frame numbers.

    `rotated`: stored as a phone does, sideways (`size` is the upright picture) with a 90° display rotation.
    """
    if rotated:
        width, height = size.split("x")
        stored = path.with_name(f".stored-{path.name}")
        make_video(stored, duration=duration, size=f"{height}x{width}", fps=fps, audio=audio, codec=codec, gop=gop,
                   offset=offset, pix_fmt=pix_fmt, extra=extra, across_rows=True)
        subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", "-display_rotation", "90", "-i", str(stored),
                        "-c", "copy", str(path)], check=True)
        stored.unlink()
        return path
    stripes = _stripes(offset, "Y/H" if across_rows else "X/W")
    argv = [FFMPEG, "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"nullsrc=s={size}:r={fps}:d={duration},format={pix_fmt},geq={stripes}"]
    if audio:
        argv += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={duration}"]
    argv += ["-map", "0:v"] + (["-map", "1:a", "-c:a", "aac" if path.suffix != ".webm" else "libopus"] if audio else [])
    argv += ["-c:v", codec, "-g", str(gop), "-pix_fmt", pix_fmt, *extra, str(path)]
    subprocess.run(argv, check=True)
    return path


def probe(path: Path) -> dict:
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def stream(report: dict, kind: str) -> dict | None:
    return next((s for s in report["streams"] if s["codec_type"] == kind), None)


def frame_indices(path: Path, row_fraction: float = 0.75, every_frame: bool = False) -> list[int]:
    """Decode every frame of `path` and read back the frame number coded in its stripes: at the stream's frame
    rate (a frame lasting longer is read once per frame time), or with `every_frame` each frame once."""
    video = stream(probe(path), "video")
    width, height = int(video["width"]), int(video["height"])
    rotation = next((int(d["rotation"]) for d in video.get("side_data_list", ()) if "rotation" in d), 0)
    if rotation % 180:  # ffmpeg turns the picture upright when decoding
        width, height = height, width
    row = min(height - 2, int(height * row_fraction)) // 2 * 2
    raw = subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0",
         "-vf", f"crop={width}:2:0:{row}", *(["-fps_mode", "passthrough"] if every_frame else []),
         "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        check=True, capture_output=True,
    ).stdout
    frames = []
    for start in range(0, len(raw), 2 * width):
        line = raw[start:start + width]
        frames.append(sum(1 << bit for bit in range(BITS) if line[int((bit + 0.5) * width / BITS)] > 127))
    return frames


def decode_errors(path: Path) -> str:
    """What ffmpeg complains about when decoding the whole file (empty: it plays cleanly)."""
    return subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
                          capture_output=True, text=True).stderr


def audio_samples(path: Path, rate: int = 48000) -> list[int]:
    """The audio track as mono 16-bit samples."""
    raw = subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", str(rate),
         "-f", "s16le", "-"],
        check=True, capture_output=True,
    ).stdout
    return list(memoryview(raw).cast("h"))


def rms(samples: list[int]) -> float:
    return (sum(s * s for s in samples) / max(len(samples), 1)) ** 0.5


#: trace_headers' title of each parameter set → its kind, and the field holding its id (H.264's, then HEVC's)
_PARAMETER_SETS = {
    "Video Parameter Set": ("VPS", ("vps_video_parameter_set_id",)),
    "Sequence Parameter Set": ("SPS", ("seq_parameter_set_id", "sps_seq_parameter_set_id")),
    "Picture Parameter Set": ("PPS", ("pic_parameter_set_id", "pps_pic_parameter_set_id")),
}


def parameter_sets(path: Path) -> dict[tuple[str, int], list[tuple[tuple[str, str], ...]]]:
    """Every parameter set the video of `path` defines (in its sample entry and in-band): H.264 SPS and PPS, HEVC
    VPS, SPS and PPS, by kind and id, with the distinct contents found under each: more than one content under one
    id is a redefinition."""
    trace = subprocess.run(
        [FFMPEG, "-v", "trace", "-nostdin", "-i", str(path), "-map", "0:v:0", "-c", "copy", "-bsf:v", "trace_headers",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr
    found: dict[tuple[str, int], list[tuple[tuple[str, str], ...]]] = {}
    kind, fields = None, []

    def close() -> None:
        if kind is None:
            return
        keys = _PARAMETER_SETS[kind][1]
        number = int(next(value for name, value in fields if name in keys))
        contents = found.setdefault((_PARAMETER_SETS[kind][0], number), [])
        if tuple(fields) not in contents:
            contents.append(tuple(fields))

    for line in trace.splitlines():
        if "[trace_headers" not in line:
            continue
        text = line.split("]", 1)[1].strip()
        parts = text.split()
        if parts and parts[0].isdigit() and "=" in text:  # "<bit offset> <field> <bits> = <value>"
            if kind is not None:
                fields.append((parts[1], text.rsplit("=", 1)[1].strip()))
            continue
        close()
        kind = text if text in _PARAMETER_SETS else None
        fields = []
    close()
    return found
