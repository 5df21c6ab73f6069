"""README's "Use as a library" example (examples/library.py), run as it is on generated sources."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from media import frame_indices, probe, stream

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "library.py"


def test_the_library_example_renders_its_two_clips(tmp_path: Path, sources_dir: Path) -> None:
    assert sources_dir == tmp_path / "sources"  # the example reads ./sources and writes ./output
    run = subprocess.run([sys.executable, str(EXAMPLE)], cwd=tmp_path, capture_output=True, text=True, timeout=120)

    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["indexed: 1=a.mp4 2=b.mov", "asm_001 done output/asm_001/result.mp4"]
    result = tmp_path / "output" / "asm_001" / "result.mp4"
    report = probe(result)
    video, audio = stream(report, "video"), stream(report, "audio")
    # a.mp4 [1.0, 2.5) is 45 frames at 30 fps; b.mov [0, 1.0) is 25 frames at 25 fps, 30 once converted
    assert (video["codec_name"], video["width"], video["height"], video["r_frame_rate"]) == ("h264", 320, 240, "30/1")
    assert int(video["nb_frames"]) == 45 + 30
    assert abs(float(video["duration"]) - 2.5) < 1e-3
    assert audio is not None and audio["codec_name"] == "aac"
    assert abs(float(audio["duration"]) - float(video["duration"])) <= 1 / 30
    frames = frame_indices(result)
    assert frames[:45] == list(range(30, 75))
    assert sorted(set(frames[45:])) == list(range(500, 525))  # b's frames, offset by 500 in the test media
