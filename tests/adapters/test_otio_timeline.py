"""OpenTimelineIO export: source ranges in the source's frames, file URLs of the sources, a faithful round trip."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import opentimelineio as otio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalinsky_adapters.otio import METADATA_KEY, assembly_timeline, read_timeline, timeline_json
from kalinsky_core import Assembly, Clip, Source, SourceNotFound, frame_span
from kalinsky_core.testing import assemblies, source_indexes

SOURCES_DIR = Path("/srv/kalinsky/sources")


def source(index: int, filename: str, frame_rate: str, duration: float, has_audio: bool = True) -> Source:
    return Source(index=index, filename=filename, duration=duration, resolution="320x240", codec="h264",
                  file_size=1000, width=320, height=240, frame_rate=frame_rate, has_audio=has_audio)


NTSC = source(1, "ntsc clip é.mov", "30000/1001", 10.01)
PAL = source(2, "pal.mp4", "25", 4.0, has_audio=False)


def test_ranges_count_source_frames_at_the_source_rate() -> None:
    assembly = Assembly(id="asm_001", name="cut", preview=False, created="2026-01-01T00:00:00.000Z", clips=[
        Clip(pos=1, filename=NTSC.filename, start=1.0, end=2.0),
        Clip(pos=2, filename=PAL.filename, start=0.41, end=1.2),
    ])
    timeline = read_timeline(timeline_json(assembly_timeline(assembly, [NTSC, PAL], SOURCES_DIR)))

    video, audio = timeline.video_tracks()[0], timeline.audio_tracks()[0]
    ntsc_rate = 30000 / 1001
    # 1.0 s * 29.97 = 29.97 -> frame 30 is the first at or after 1.0 s; 2.0 s -> frame 60 is the first not shown
    assert video[0].source_range == otio.opentime.TimeRange(
        otio.opentime.RationalTime(30, ntsc_rate), otio.opentime.RationalTime(30, ntsc_rate)
    )
    # 0.41 s * 25 = 10.25 -> frames 11..29
    assert video[1].source_range == otio.opentime.TimeRange(
        otio.opentime.RationalTime(11, 25), otio.opentime.RationalTime(19, 25)
    )
    assert video[0].media_reference.target_url == "file:///srv/kalinsky/sources/ntsc%20clip%20%C3%A9.mov"
    assert video[0].media_reference.available_range.duration == otio.opentime.RationalTime(300, ntsc_rate)
    # the PAL source has no audio: silence of the same length on the audio track
    assert isinstance(audio[0], otio.schema.Clip) and audio[0].source_range == video[0].source_range
    assert isinstance(audio[1], otio.schema.Gap) and audio[1].duration() == video[1].duration()
    assert timeline.name == "cut"
    assert timeline.metadata[METADATA_KEY]["id"] == "asm_001"
    assert video[1].metadata[METADATA_KEY]["start"] == 0.41
    assert timeline.duration().to_seconds() == pytest.approx(30 / ntsc_rate + 19 / 25)


def test_a_source_gone_from_the_index_cannot_be_exported() -> None:
    assembly = Assembly(id="asm_002", name=None, preview=True, created="2026-01-01T00:00:00.000Z",
                        clips=[Clip(pos=1, filename="gone.mp4", start=0.0, end=1.0)])
    with pytest.raises(SourceNotFound, match="^Source gone.mp4 not found$"):
        assembly_timeline(assembly, [NTSC, PAL], SOURCES_DIR)


@settings(max_examples=60, deadline=None)
@given(st.data(), source_indexes())
def test_every_assembly_round_trips_with_the_frames_the_render_shows(data, sources) -> None:
    assembly = data.draw(assemblies(sources))
    text = timeline_json(assembly_timeline(assembly, sources, SOURCES_DIR))
    timeline = read_timeline(text)
    by_name = {s.filename: s for s in sources}

    assert timeline.name == (assembly.name or assembly.id).replace("\x00", "\ufffd")  # OTIO strings end at NUL
    video, audio = timeline.video_tracks(), timeline.audio_tracks()
    assert len(video) == len(audio) == 1
    assert len(video[0]) == len(audio[0]) == len(assembly.clips)
    for clip, exported, sound in zip(assembly.clips, video[0], audio[0]):
        src = by_name[clip.filename]
        first, stop = frame_span(clip.start, clip.end, src.fps)
        assert exported.source_range.start_time == otio.opentime.RationalTime(first, float(src.fps))
        assert exported.source_range.duration == otio.opentime.RationalTime(stop - first, float(src.fps))
        url = exported.media_reference.target_url
        assert urlparse(url).scheme == "file"
        assert Path(unquote(urlparse(url).path)) == SOURCES_DIR / clip.filename
        assert exported.metadata[METADATA_KEY]["pos"] == clip.pos
        assert isinstance(sound, otio.schema.Clip if src.has_audio else otio.schema.Gap)
        assert sound.duration() == exported.duration()
    assert timeline_json(timeline) == text


def test_a_nul_in_the_name_survives_as_a_replacement_character() -> None:
    assembly = Assembly(id="asm_003", name="take\x001", preview=True, created="2026-01-01T00:00:00.000Z",
                        clips=[Clip(pos=1, filename=PAL.filename, start=0.0, end=1.0)])
    timeline = read_timeline(timeline_json(assembly_timeline(assembly, [PAL], SOURCES_DIR)))
    assert timeline.name == "take\ufffd1" and timeline.metadata[METADATA_KEY]["name"] == "take\ufffd1"
