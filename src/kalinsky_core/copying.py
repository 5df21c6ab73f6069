"""Which runs of a coded video stream can be copied as they are, from the order its packets are stored in.

A run of frames `[start, end)` (frame indices in presentation order) can be copied without decoding when the
packets that hold it follow each other in decode order and hold exactly those frames:

- it starts at a keyframe that nothing before it depends on and that no later packet is shown before (a closed
  GOP's first frame);
- it ends where every frame shown before `end` has been decoded and no frame shown at or after `end` has. Without
  B-frames that is after any frame; with B-frames, after each anchor frame together with the B-frames shown
  before it (e.g. stored I0 P4 B2 B1 B3: copies may end at frame 1, or at frame 5).

Copying such a run with a packet count (`-frames:v`) gives exactly its frames, so a clip's end needs re-encoding
only for the few frames after the last such point, not for the whole partial GOP.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import attrs


@attrs.frozen
class CopyPoints:
    """Where copied runs of a stream may start and end, as frame indices in presentation order."""

    starts: tuple[int, ...]  # keyframes: a copy may start here
    ends: tuple[int, ...]  # a copy may end before these frames (each is one past a run's last frame)
    frame_count: int
    reordered: bool  # whether frames are stored in another order than shown (B-frames)


def copy_points(frames: Sequence[int], keyframes_at: Collection[int]) -> CopyPoints:
    """Copy starts and ends of a stream whose packets, in decode order, show `frames` (each packet's frame index
    in presentation order); `keyframes_at` are the decode positions of its keyframe packets.

    Two packets for one frame index (timestamps that do not fit the frame rate) leave nothing safe to copy.
    """
    if len(set(frames)) != len(frames):
        return CopyPoints(starts=(), ends=(), frame_count=len(frames), reordered=True)
    first = min(frames, default=0)
    starts: list[int] = []
    ends: list[int] = []
    highest = first - 1  # the latest frame shown by the packets so far
    for position, frame in enumerate(frames):
        # The packets before this one hold exactly the frames before it: a copy starting here owes them nothing.
        if position in keyframes_at and highest == first + position - 1 and frame == first + position:
            starts.append(frame)
        highest = max(highest, frame)
        if highest == first + position:  # these position + 1 distinct packets are frames first..highest
            ends.append(highest + 1)
    reordered = any(frame != first + position for position, frame in enumerate(frames))
    return CopyPoints(starts=tuple(starts), ends=tuple(ends), frame_count=len(frames), reordered=reordered)
