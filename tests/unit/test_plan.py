"""Clip validation and render planning, example-based and property-based."""

from __future__ import annotations

import math
from fractions import Fraction

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from samples import H264, source

from kalinsky_adapters.ffmpeg import CodecRules
from kalinsky_core.errors import InvalidClip, NotIndexed, SourceNotFound
from kalinsky_core.model import Assembly, ClipInput
from kalinsky_core.plan import (
    copy_ends,
    frame_span,
    plan_render,
    resolve_clips,
    sources_by_filename,
    split_for_copy,
)

RULES = CodecRules()
SOURCES = (source(1, "a.mp4", 10.0), source(2, "b.mov", 4.0, fps="25", width=160, height=120, has_audio=False))


def test_clips_resolve_by_index_or_filename_with_default_trim() -> None:
    clips = resolve_clips([ClipInput("b.mov"), ClipInput(1, start=2.0), ClipInput(1, end=3.0)], SOURCES)
    assert [(c.pos, c.filename, c.start, c.end, c.duration) for c in clips] == [
        (1, "b.mov", 0.0, 4.0, 4.0),
        (2, "a.mp4", 2.0, 10.0, 8.0),
        (3, "a.mp4", 0.0, 3.0, 3.0),
    ]


@pytest.mark.parametrize(
    ("clips", "message"),
    [
        ([], "clips must not be empty"),
        ([ClipInput(99)], "Source 99 not found"),
        ([ClipInput("../a.mp4")], "Source ../a.mp4 not found"),
        ([ClipInput("/abs/a.mp4")], "Source /abs/a.mp4 not found"),
        ([ClipInput(1), ClipInput(1, start=5.0, end=5.0)], "start >= end for clip 2"),
        ([ClipInput(1, start=6.0, end=5.0)], "start >= end for clip 1"),
        ([ClipInput(1, start=-1.0)], "start < 0 for clip 1"),
        ([ClipInput(2, end=4.5)], "end 4.5 exceeds duration 4 of b.mov for clip 1"),
        ([ClipInput(1, start=11.0)], "start >= end for clip 1"),
        ([ClipInput(1, end=math.inf)], "end must be a finite number for clip 1"),
        ([ClipInput(1, start=math.nan)], "start must be a finite number for clip 1"),
        ([ClipInput(True)], "source must be an index or a filename for clip 1"),
        ([ClipInput(1, start=1.001, end=1.02)], "no frame between start and end for clip 1 (the source has 30 fps)"),
    ],
)
def test_invalid_clips_are_rejected_with_their_message(clips: list[ClipInput], message: str) -> None:
    with pytest.raises((InvalidClip, SourceNotFound)) as raised:
        resolve_clips(clips, SOURCES)
    assert raised.value.message == message


def test_clips_need_an_index() -> None:
    with pytest.raises(NotIndexed):
        resolve_clips([ClipInput(1)], None)


def test_frame_span_holds_frames_from_start_up_to_but_not_at_end() -> None:
    assert frame_span(1.5, 2.5, Fraction(30)) == (45, 75)  # 1.5 s is frame 45 exactly: included
    assert frame_span(1.51, 2.5, Fraction(30)) == (46, 75)  # first frame at or after start
    assert frame_span(0.1, 0.2, Fraction(30)) == (3, 6)  # 0.1 s is frame 3, no float drift
    assert frame_span(0.0, 1.0, Fraction(30000, 1001)) == (0, 30)


def _assembly(clips, preview=False) -> Assembly:
    return Assembly(id="asm_001", name=None, preview=preview, clips=resolve_clips(clips, SOURCES), created="t")


def test_plan_converts_to_first_clips_picture_and_rate() -> None:
    plan = plan_render(_assembly([ClipInput(1, 1.0, 2.0), ClipInput(2, 0.4, 1.2)]), sources_by_filename(SOURCES), RULES,
                       fade_ms=50)
    first, second = plan.segments
    assert (plan.output.width, plan.output.height, plan.output.fps) == (320, 240, 30)
    assert (first.scale, first.convert_fps, first.output_frames) == (False, False, 30)
    assert (second.scale, second.convert_fps, second.source_frames, second.output_frames) == (True, True, 20, 24)
    assert second.output_offset == pytest.approx(1.0)
    assert second.has_audio is False
    assert plan.duration == pytest.approx(54 / 30)


def test_preview_plan_caps_height_and_keeps_sizes_even() -> None:
    tall = (source(1, "v.mp4", 10.0, width=1081, height=1921),)
    assembly = Assembly(id="asm_001", name=None, preview=True, clips=resolve_clips([ClipInput(1)], tall), created="t")
    plan = plan_render(assembly, sources_by_filename(tall), RULES, fade_ms=50, preview_height=720)
    assert (plan.output.width, plan.output.height) == (404, 720)
    clean = plan_render(Assembly(id="asm_002", name=None, preview=False, clips=assembly.clips, created="t"),
                        sources_by_filename(tall), RULES, fade_ms=50, preview_height=720)
    assert (clean.output.width, clean.output.height) == (1080, 1920)


def test_fades_never_exceed_half_a_clip() -> None:
    assembly = _assembly([ClipInput(1, 0.0, 0.05), ClipInput(1, 0.0, 2.0)])
    plan = plan_render(assembly, sources_by_filename(SOURCES), RULES, fade_ms=50)
    short, long = plan.segments
    assert short.duration == pytest.approx(2 / 30)  # frames 0 and 1
    assert (short.fade, long.fade) == (pytest.approx(1 / 30), 0.05)


# -- properties -----------------------------------------------------------------------------------------

FPS = st.sampled_from([Fraction(24), Fraction(25), Fraction(30), Fraction(30000, 1001), Fraction(60)])
TIMES = st.floats(min_value=0, max_value=20, allow_nan=False)


@st.composite
def valid_clip_lists(draw):
    count = draw(st.integers(1, 8))
    clips = []
    for _ in range(count):
        src = draw(st.sampled_from(SOURCES))
        start = draw(st.floats(0, src.duration - 0.2))
        end = draw(st.floats(start + 0.1, src.duration))
        ref = draw(st.sampled_from([src.index, src.filename]))
        clips.append(ClipInput(ref, round(start, 3), round(end, 3)))
    return clips


@given(valid_clip_lists())
def test_any_valid_clip_list_plans_to_the_sum_of_its_clips(clips: list[ClipInput]) -> None:
    assembly = _assembly(clips)
    plan = plan_render(assembly, sources_by_filename(SOURCES), RULES, fade_ms=50)
    assert [s.pos for s in plan.segments] == list(range(1, len(clips) + 1))
    assert plan.duration == pytest.approx(sum(s.output_frames for s in plan.segments) / float(plan.output.fps))
    # frame quantization moves each clip by less than a frame at its own rate (plus one at the output rate)
    for clip, segment in zip(assembly.clips, plan.segments):
        slack = 1 / float(SOURCES[0].fps if clip.filename == "a.mp4" else SOURCES[1].fps) + 1 / float(plan.output.fps)
        assert abs(segment.duration - clip.duration) <= slack + 1e-9
    offsets = [s.output_offset for s in plan.segments]
    assert offsets == sorted(offsets) and offsets[0] == 0


@given(valid_clip_lists(), st.integers(0, 7), st.sampled_from(["swap", "negative", "past_end"]))
def test_any_invalid_trim_names_its_clip(clips: list[ClipInput], which: int, how: str) -> None:
    which %= len(clips)
    bad = clips[which]
    src = next(s for s in SOURCES if bad.source in (s.index, s.filename))
    broken = {
        "swap": ClipInput(bad.source, bad.end, bad.start),
        "negative": ClipInput(bad.source, -0.5, bad.end),
        "past_end": ClipInput(bad.source, bad.start, src.duration + 1),
    }[how]
    clips = clips[:which] + [broken] + clips[which + 1:]
    with pytest.raises(InvalidClip) as raised:
        resolve_clips(clips, SOURCES)
    assert raised.value.message.endswith(f"for clip {which + 1}")


@given(TIMES, TIMES, FPS)
def test_frame_span_matches_frame_times(start: float, end: float, fps: Fraction) -> None:
    first, stop = frame_span(start, end, fps)
    start_us, end_us = round(start * 1e6), round(end * 1e6)
    for k in range(max(0, first - 2), stop + 2):
        time_us = Fraction(k) / fps * 1_000_000
        assert (first <= k < stop) == (start_us <= time_us < end_us) or stop == first


def test_sources_indexed_before_copy_ends_were_copy_whole_gops_only() -> None:
    old = source(1, "a.mp4", 4.0, coding=H264, keyframes=(0, 30, 60, 90), frame_count=120)
    assert copy_ends(old) == (0, 30, 60, 90, 120)
    assert split_for_copy(15, 100, old.keyframes, copy_ends(old)) == [(False, 15, 30), (True, 30, 90), (False, 90, 100)]
    indexed = attrs.evolve(old, copy_ends=(1, 5, 9, 30, 98))
    assert split_for_copy(15, 100, indexed.keyframes, copy_ends(indexed))[1:] == [(True, 30, 98), (False, 98, 100)]
    no_b_frames = attrs.evolve(old, coding=attrs.evolve(H264, reorder_depth=0))
    assert copy_ends(no_b_frames) is None
    assert split_for_copy(15, 100, no_b_frames.keyframes, None) == [(False, 15, 30), (True, 30, 100)]


def test_a_rotated_first_clip_keeps_its_rotation_and_its_like_are_encoded_as_stored() -> None:
    rotated = attrs.evolve(H264, rotation=-90)  # ffprobe's name for 270
    gop = dict(keyframes=(0, 30, 60, 90), frame_count=120, width=240, height=320)
    phone = source(1, "phone.mp4", 4.0, coding=rotated, **gop)
    twin = source(2, "twin.mp4", 4.0, coding=attrs.evolve(H264, rotation=270), **gop)
    upright = source(3, "upright.mp4", 4.0, coding=H264, **gop)
    clips = tuple(resolve_clips([ClipInput(n, 0.5, 3.5) for n in (1, 2, 3)], (phone, twin, upright)))
    plan = plan_render(Assembly(id="asm_001", name=None, preview=False, clips=clips, created="t"),
                       sources_by_filename((phone, twin, upright)), RULES, fade_ms=50)
    assert (plan.output.rotation, plan.output.stored_size) == (270, (320, 240))
    assert [(s.video, s.as_stored) for s in plan.segments] == [("smart", True), ("smart", True), ("reencode", False)]
    preview = plan_render(Assembly(id="asm_002", name=None, preview=True, clips=clips, created="t"),
                          sources_by_filename((phone, twin, upright)), RULES, fade_ms=50)
    assert preview.output.rotation == 0 and not any(s.as_stored for s in preview.segments)  # previews are upright


def test_pixel_aspects_are_kept_in_clean_renders_and_squared_in_previews() -> None:
    gop = dict(keyframes=(0, 30, 60, 90), frame_count=120, width=240, height=320)
    # stored 320x240 in pixels of 4:3 with a quarter turn: upright, 240x320 pixels of 3:4
    turned = source(1, "turned.mp4", 4.0, coding=attrs.evolve(H264, rotation=90, sample_aspect="4:3"), **gop)
    square = source(2, "square.mp4", 4.0, coding=attrs.evolve(H264, sample_aspect="1:1"), **gop)
    old = source(3, "old.mp4", 4.0, coding=H264, **gop)  # indexed before pixel aspects were recorded: square
    assert (turned.pixel_aspect, square.pixel_aspect, old.pixel_aspect) == (Fraction(3, 4), 1, 1)
    found = sources_by_filename((turned, square, old))

    def planned(preview: bool, *order: int):
        clips = tuple(resolve_clips([ClipInput(n, 0.5, 3.5) for n in order], (turned, square, old)))
        return plan_render(Assembly(id="asm_001", name=None, preview=preview, clips=clips, created="t"), found, RULES,
                           fade_ms=50)

    clean = planned(False, 1, 2)
    assert (clean.output.pixel_aspect, clean.output.stored_pixel_aspect) == (Fraction(3, 4), Fraction(4, 3))
    assert [(s.video, s.scale) for s in clean.segments] == [("smart", False), ("reencode", True)]
    preview = planned(True, 1, 2)
    assert (preview.output.width, preview.output.height, preview.output.pixel_aspect) == (180, 320, 1)
    assert [s.scale for s in preview.segments] == [True, True]
    same = planned(False, 2, 3)  # "" and "1:1" are both square: copied side by side
    assert [(s.video, s.scale) for s in same.segments] == [("smart", False), ("smart", False)]
