"""Assemblies as OpenTimelineIO timelines, for editors and other tools that read `.otio`.

A timeline has a video track `V1` with one clip per assembly clip, in order, and an audio track `A1` beside it
(the source's audio, or a gap where the source has none, as the render has silence there). A clip's source
range counts frames at its source's own rate: exactly the frames `kalinsky_core.plan.frame_span` picks for
`[start, end)`, i.e. the frames the render shows. Media references are absolute `file://` URLs of the source
files. The assembly's own fields are kept under `metadata["kalinsky"]`.

OpenTimelineIO strings end at a NUL character, which an assembly's name may hold: it is written as U+FFFD.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import opentimelineio as otio

from kalinsky_adapters.render_files import RenderFolders
from kalinsky_core.errors import SourceNotFound
from kalinsky_core.model import Assembly, AssemblyStatus, Clip, Source
from kalinsky_core.plan import frame_span

#: The OpenTimelineIO adapter that writes and reads `.otio` JSON.
OTIO_JSON = "otio_json"
#: The metadata key under which Kalinsky's own fields are kept.
METADATA_KEY = "kalinsky"


def _text(value: str | None) -> str | None:
    return None if value is None else value.replace("\x00", "\ufffd")


def _frames(first: int, count: int, rate: float) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(otio.opentime.RationalTime(first, rate), otio.opentime.RationalTime(count, rate))


def media_reference(source: Source, sources_dir: Path) -> otio.schema.ExternalReference:
    """The source file as an absolute file URL, with its whole length as the available range."""
    rate = float(source.fps)
    _, frames = frame_span(0.0, source.duration, source.fps)
    return otio.schema.ExternalReference(
        target_url=(Path(sources_dir) / source.filename).resolve().as_uri(),
        available_range=_frames(0, frames, rate),
    )


def _clip(clip: Clip, source: Source, sources_dir: Path) -> otio.schema.Clip:
    first, stop = frame_span(clip.start, clip.end, source.fps)
    return otio.schema.Clip(
        name=source.filename,
        media_reference=media_reference(source, sources_dir),
        source_range=_frames(first, stop - first, float(source.fps)),
        metadata={
            METADATA_KEY: {
                "pos": clip.pos,
                "start": clip.start,
                "end": clip.end,
                "source_index": source.index,
                "frame_rate": source.frame_rate,
            }
        },
    )


def assembly_timeline(
    assembly: Assembly, sources: Iterable[Source], sources_dir: Path, output_url: str | None = None
) -> otio.schema.Timeline:
    """The assembly as a timeline. `sources` is the current index; a clip whose file it no longer holds
    raises `SourceNotFound` (its frame rate, hence its frames, are unknown). `output_url` is where its finished
    render is published, if it is done."""
    by_filename = {source.filename: source for source in sources}
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    for clip in assembly.clips:
        source = by_filename.get(clip.filename)
        if source is None:
            raise SourceNotFound(clip.filename)
        picture = _clip(clip, source, sources_dir)
        video.append(picture)
        if source.has_audio:
            audio.append(picture.clone())
        else:
            silence = _frames(0, picture.source_range.duration.to_frames(), picture.source_range.duration.rate)
            audio.append(otio.schema.Gap(name=f"{source.filename} (no audio)", source_range=silence))
    timeline = otio.schema.Timeline(
        name=_text(assembly.name or assembly.id),
        metadata={
            METADATA_KEY: {
                "id": assembly.id,
                "name": _text(assembly.name),
                "preview": assembly.preview,
                "created": assembly.created,
                "status": assembly.status.value,
                "output_url": output_url,
            }
        },
    )
    timeline.tracks.append(video)
    timeline.tracks.append(audio)
    return timeline


def timeline_json(timeline: otio.schema.Timeline) -> str:
    """The `.otio` file's text."""
    return str(otio.adapters.write_to_string(timeline, OTIO_JSON))


def read_timeline(text: str) -> otio.schema.Timeline:
    """A timeline from `.otio` text (what `timeline_json` writes)."""
    return otio.adapters.read_from_string(text, OTIO_JSON)


class OtioExporter:
    """Assemblies as `.otio` text, their media references pointing into `sources_dir` and their results published
    as `files` say."""

    def __init__(self, sources_dir: Path, files: RenderFolders) -> None:
        self.sources_dir = Path(sources_dir)
        self.files = files

    def export(self, assembly: Assembly, sources: Iterable[Source]) -> str:
        url = self.files.url(assembly.id) if assembly.status is AssemblyStatus.DONE else None
        return timeline_json(assembly_timeline(assembly, sources, self.sources_dir, url))
