"""How a render's ffmpeg processes share the machine: rough costs, slot priorities, threads per piece.

At most one ffmpeg per core runs at once (at least two), across renders: the audio and the join first (others wait
for them), then video pieces, longest first, so that no long piece is left running alone at the end; proxy making
last (see proxies.py). A piece that is a small share of the render runs single-threaded beside others, which wastes
less than threads do; a large one may run alone at the end, and gets all cores.
"""

from __future__ import annotations

import os

from kalinsky_core.plan import Piece, RenderPlan

#: ffmpeg processes at once: one per core, at least two.
DEFAULT_PARALLEL = max(2, os.cpu_count() or 1)
#: Slot priority of work others wait for (lower runs first).
URGENT = (0,)


def cost(of: RenderPlan | Piece) -> float:
    """Roughly how much a piece (or a whole render's video) costs, in frames: copying is nearly free."""
    if isinstance(of, RenderPlan):
        return sum(cost(piece) for segment in of.segments for piece in segment.pieces)
    return of.frames * 0.05 if of.copy else of.frames + of.output_frames


def video_priority(piece: Piece) -> tuple[float, ...]:
    return (1, -cost(piece))


def threads_for(piece: Piece, plan: RenderPlan, parallel: int) -> int:
    """ffmpeg's `-threads` for a piece: 1 for a small share of the work, 0 (ffmpeg's choice) otherwise."""
    return 1 if cost(piece) * 2 * parallel <= cost(plan) else 0
