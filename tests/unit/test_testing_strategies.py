"""The strategies of `kalinsky_core.testing` build what they promise: the core accepts every valid clip list and
refuses every invalid one with the promised error and message."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalinsky_core import AssemblyStatus, ClipInput, SourceNotFound, resolve_clips
from kalinsky_core.model import SOURCE_EXTENSIONS
from kalinsky_core.plan import frame_span
from kalinsky_core.testing import (
    assemblies,
    invalid_clip_lists,
    source_folders,
    source_indexes,
    valid_clip_lists,
)

FAST = settings(max_examples=150, deadline=None)


def test_importing_the_core_does_not_import_hypothesis() -> None:
    code = "import sys, kalinsky_core; print('hypothesis' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


@FAST
@given(source_indexes())
def test_indexes_are_numbered_from_one_in_filename_order(sources) -> None:
    assert [source.index for source in sources] == list(range(1, len(sources) + 1))
    assert [source.filename for source in sources] == sorted(source.filename for source in sources)


@FAST
@given(source_folders())
def test_folders_map_video_names_to_media_or_a_reason(folder) -> None:
    for name, info in folder.items():
        is_video = any(name.lower().endswith(ext) for ext in SOURCE_EXTENSIONS)
        assert is_video or info == "not a video"


@FAST
@given(st.data(), source_indexes())
def test_valid_clip_lists_resolve_to_clips_holding_frames(data, sources) -> None:
    inputs = data.draw(valid_clip_lists(sources))
    clips = resolve_clips(inputs, sources)
    assert [clip.pos for clip in clips] == list(range(1, len(inputs) + 1))
    by_name = {source.filename: source for source in sources}
    for given_clip, clip in zip(inputs, clips):
        source = by_name[clip.filename]
        assert given_clip.source in (source.index, source.filename)
        first, stop = frame_span(clip.start, clip.end, source.fps)
        assert stop > first


@FAST
@given(st.data(), source_indexes())
def test_invalid_clip_lists_are_refused_with_the_promised_message(data, sources) -> None:
    case = data.draw(invalid_clip_lists(sources))
    with pytest.raises(case.error) as raised:
        resolve_clips(case.clips, sources)
    assert raised.value.message == case.message
    assert type(raised.value) is case.error


@given(source_indexes(max_size=3))
def test_the_seed_text_for_an_unknown_source(sources) -> None:
    with pytest.raises(SourceNotFound) as raised:
        resolve_clips([ClipInput(source=99)], sources)
    assert raised.value.message == "Source 99 not found"


@FAST
@given(assemblies())
def test_assemblies_are_in_a_consistent_render_state(assembly) -> None:
    assert [clip.pos for clip in assembly.clips] == list(range(1, len(assembly.clips) + 1))
    if assembly.status is AssemblyStatus.DONE:
        assert assembly.duration is not None and assembly.progress == 1.0
    elif assembly.status is AssemblyStatus.FAILED:
        assert assembly.error and assembly.duration is None
    else:
        assert 0.0 <= assembly.progress <= 1.0 and assembly.error is None
