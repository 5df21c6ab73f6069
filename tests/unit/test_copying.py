"""Copy starts and ends from packet order, checked against a brute-force reading of the stream."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kalinsky_core.copying import copy_points
from kalinsky_core.plan import split_for_copy
from kalinsky_core.testing import CodedStream, coded_streams


def copies_exactly(stream: CodedStream, start: int, end: int) -> bool:
    """Whether copying packets from the keyframe showing `start`, `end - start` of them in decode order, gives
    exactly the frames `[start, end)`, with nothing after that keyframe shown before it (nothing to decode first)."""
    if start not in stream.frames:
        return False
    at = stream.frames.index(start)
    run = stream.frames[at:at + end - start]
    return (
        at in stream.keyframes_at
        and min(stream.frames[at:]) == start
        and sorted(run) == list(range(start, end))
    )


def test_b_frames_let_copies_end_after_each_anchor_and_its_b_frames() -> None:
    # stored I0 P4 B2 B1 B3 P8 B6 B5 B7 | I9 P10: shown 0..10
    points = copy_points([0, 4, 2, 1, 3, 8, 6, 5, 7, 9, 10], keyframes_at={0, 9})
    assert points.starts == (0, 9)
    assert points.ends == (1, 5, 9, 10, 11)
    assert (points.frame_count, points.reordered) == (11, True)


def test_without_b_frames_a_copy_may_end_anywhere() -> None:
    points = copy_points([0, 1, 2, 3, 4], keyframes_at={0, 3})
    assert (points.starts, points.ends, points.reordered) == ((0, 3), (1, 2, 3, 4, 5), False)


def test_an_open_gops_keyframe_is_no_copy_start() -> None:
    # stored I0 P3 B1 B2 | I6 B4 B5 P7: frames 4 and 5 are shown before the second I-frame, and depend on frame 3
    points = copy_points([0, 3, 1, 2, 6, 4, 5, 7], keyframes_at={0, 4})
    assert points.starts == (0,)
    assert points.ends == (1, 4, 7, 8)


def test_two_packets_for_one_frame_leave_nothing_to_copy() -> None:
    assert copy_points([0, 1, 1, 2], keyframes_at={0}).starts == ()


@given(coded_streams())
def test_copy_points_are_exactly_the_runs_that_copy_exactly(stream: CodedStream) -> None:
    points = copy_points(stream.frames, stream.keyframes_at)
    count = len(stream.frames)
    assert points.frame_count == count
    for start in range(count):
        for end in range(start + 1, count + 1):
            listed = start in points.starts and end in points.ends
            assert copies_exactly(stream, start, end) == listed, (start, end)


@given(coded_streams(), st.data())
def test_a_clip_copies_its_longest_exact_run_and_encodes_the_rest(stream: CodedStream, data: st.DataObject) -> None:
    points = copy_points(stream.frames, stream.keyframes_at)
    count = len(stream.frames)
    first = data.draw(st.integers(0, count - 1))
    stop = data.draw(st.integers(first + 1, count))
    runs = split_for_copy(first, stop, points.starts, points.ends if points.reordered else None)
    assert runs[0][1] == first and runs[-1][2] == stop
    assert all(a[2] == b[1] for a, b in zip(runs, runs[1:]))  # contiguous, in order
    assert all(start < end for _copy, start, end in runs)
    copied = [(start, end) for copy, start, end in runs if copy]
    assert len(copied) <= 1
    for start, end in copied:
        assert copies_exactly(stream, start, end)
    longest = max(
        (end - start for start in range(first, stop) for end in range(start + 1, stop + 1)
         if copies_exactly(stream, start, end)),
        default=0,
    )
    assert sum(end - start for start, end in copied) == longest
