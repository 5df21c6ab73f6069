"""FfprobeProber against real files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from media import FFMPEG, FFPROBE, make_video

from kalinsky_adapters.ffprobe import FfprobeProber
from kalinsky_core.errors import ProbeFailed


async def test_probes_picture_rate_audio_and_size(sources_dir: Path) -> None:
    prober = FfprobeProber(sources_dir, FFPROBE)
    assert sorted(await prober.list_files()) == ["a.mp4", "b.mov", "broken.mp4", "notes.txt"]
    a = await prober.probe("a.mp4")
    assert (a.width, a.height, a.frame_rate, a.codec, a.has_audio) == (320, 240, "30", "h264", True)
    assert a.duration == pytest.approx(4.0, abs=0.05)
    assert a.file_size == (sources_dir / "a.mp4").stat().st_size
    b = await prober.probe("b.mov")
    assert (b.width, b.height, b.frame_rate, b.has_audio) == (160, 120, "25", False)


async def test_unreadable_files_fail_with_ffprobes_reason(sources_dir: Path) -> None:
    prober = FfprobeProber(sources_dir, FFPROBE)
    with pytest.raises(ProbeFailed, match="Invalid data"):
        await prober.probe("broken.mp4")
    with pytest.raises(ProbeFailed, match="cannot read"):
        await prober.probe("missing.mp4")


async def test_rotated_phone_video_reports_its_displayed_size(tmp_path: Path) -> None:
    make_video(tmp_path / "phone.mp4", duration=1.0, size="320x180", audio=False)
    rotated = tmp_path / "rotated.mp4"
    subprocess.run([FFMPEG, "-v", "error", "-display_rotation", "90", "-i", str(tmp_path / "phone.mp4"),
                    "-c", "copy", str(rotated)], check=True)
    info = await FfprobeProber(tmp_path, FFPROBE).probe("rotated.mp4")
    assert (info.width, info.height) == (180, 320)


async def test_a_file_named_like_an_option_or_protocol_is_still_a_file(tmp_path: Path) -> None:
    make_video(tmp_path / "-x:y.mp4", duration=1.0, audio=False)
    info = await FfprobeProber(tmp_path, FFPROBE).probe("-x:y.mp4")
    assert info.width == 320


async def test_records_the_audio_codec_and_length_and_qc_tells_short_audio(tmp_path: Path) -> None:
    from kalinsky_adapters.ffmpeg import CodecRules
    from kalinsky_core.model import Source
    from kalinsky_core.qc import source_qc

    subprocess.run([FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=160x120:r=30:d=2", "-f", "lavfi",
                    "-i", "sine=d=1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-c:a", "libopus", str(tmp_path / "short.mkv")], check=True)
    make_video(tmp_path / "tone.mp4", duration=1.0)
    prober = FfprobeProber(tmp_path, FFPROBE)
    short, tone = await prober.probe("short.mkv"), await prober.probe("tone.mp4")
    assert (tone.audio_codec, tone.audio_duration) == ("aac", pytest.approx(1.0, abs=0.05))
    assert short.audio_codec == "opus" and short.audio_duration is None  # Matroska states no stream length
    mp4 = tmp_path / "short.mp4"
    subprocess.run([FFMPEG, "-v", "error", "-y", "-i", str(tmp_path / "short.mkv"), "-c:v", "copy", "-c:a", "aac",
                    str(mp4)], check=True)
    info = await prober.probe("short.mp4")
    assert info.audio_duration == pytest.approx(1.0, abs=0.05)
    qc = source_qc(Source.from_media(1, "short.mp4", info), CodecRules())
    assert (qc.audio, qc.browser_plays) == ("short", True)
