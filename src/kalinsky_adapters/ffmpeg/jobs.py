"""Running a render's ffmpeg commands: in the shared slots, failures told in words a user can act on, and the
number of frames written checked against the plan."""

from __future__ import annotations

import signal
from collections.abc import Sequence
from pathlib import Path

import attrs

from kalinsky_adapters import process
from kalinsky_adapters.ffmpeg.args import NO_DECODER
from kalinsky_adapters.ffmpeg.scheduling import DEFAULT_PARALLEL, URGENT
from kalinsky_adapters.slots import PrioritySlots
from kalinsky_core.errors import RenderFailed
from kalinsky_core.ports import ProgressCallback


async def _ignore_progress(_seconds: float) -> None:
    pass


def signal_reason(returncode: int) -> str:
    """Why ffmpeg ended without a word: the signal that stopped it, if any."""
    if returncode >= 0:
        return "no message"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        return f"killed by signal {-returncode}"
    hint = " (a file grew past the size it may have: is the disk full?)" if name == "SIGXFSZ" else ""
    return f"killed by {name}{hint}"


@attrs.define
class FfmpegJobs:
    """Runs ffmpeg commands when a slot is free. `folders` are shown to users by these names instead of their
    absolute paths (`{sources: ""}` shows a source by its file name)."""

    folders: Sequence[tuple[Path, str]] = ()
    slots: PrioritySlots = attrs.field(factory=lambda: PrioritySlots(DEFAULT_PARALLEL))

    def readable(self, stderr: str) -> str:
        """ffmpeg's complaint, with file names relative to the folders users know (and without the notes that
        unprobed concat pieces leave)."""
        lines = stderr.splitlines()
        kept = [line for line in lines if f"not on whitelist '{NO_DECODER}'" not in line]
        if len(kept) < len(lines):
            kept = [line for line in kept if not line.strip().startswith("Last message repeated")]
        stderr = "\n".join(kept)
        for folder, shown in self.folders:
            stderr = stderr.replace(f"file:{Path(folder).resolve()}/", shown)
        return stderr

    async def run(
        self,
        argv: list[str],
        what: str,
        progress: ProgressCallback | None = None,
        frames: int | None = None,
        priority: tuple[float, ...] = URGENT,
    ) -> None:
        """Run ffmpeg when a slot is free; with `frames`, the video it writes must have exactly that many frames."""
        async with self.slots.hold(priority):
            done = await process.run(argv, progress or _ignore_progress)
        if done.returncode != 0:
            reason = self.readable(done.stderr_tail) or signal_reason(done.returncode)
            raise RenderFailed(f"ffmpeg failed on {what}, exit {done.returncode}: {reason}")
        made = done.progress.get("frame", "")
        if frames is not None and made != str(frames):
            reason = self.readable(done.stderr_tail) or "the source ends early or is damaged"
            raise RenderFailed(f"ffmpeg made {made or 'no'} of {frames} frames for {what}: {reason}")
