"""The trim bar's path note (frontend/timeline.js renderPath) says what kalinsky_core.plan's split_for_copy does for
a clip of a copyable source: the same cases, run through both."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

from kalinsky_core.plan import split_for_copy

TIMELINE = Path(__file__).resolve().parents[2] / "frontend" / "timeline.js"


def path_of(runs: list[tuple[bool, int, int]]) -> str:
    copied = {copy for copy, _, _ in runs}
    return "smart" if copied == {True, False} else "copy" if copied == {True} else "reencode"


def test_the_path_note_agrees_with_split_for_copy() -> None:
    node = shutil.which("node")
    assert node
    chance = random.Random(16)
    cases = []
    for _ in range(400):
        frames = chance.randint(1, 300)
        keyframes = sorted({0, *chance.sample(range(frames), chance.randint(0, min(frames, 12)))})
        ends = None if chance.random() < 0.3 else sorted(set(chance.sample(range(1, frames + 1), min(frames, 15))))
        first = chance.randrange(frames)
        last = chance.randrange(first, frames)
        cases.append({"first": first, "last": last, "keyframes": keyframes, "copy_ends": ends})
    script = (
        f"import {{ renderPath }} from {json.dumps(TIMELINE.as_uri())};\n"
        f"const cases = {json.dumps(cases)};\n"
        "console.log(JSON.stringify(cases.map((c) => renderPath(c.first, c.last,"
        " { keyframes: c.keyframes, copy_ends: c.copy_ends, copyable: true }))));\n"
    )
    done = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    notes = json.loads(done.stdout)
    seen = set()
    for case, note in zip(cases, notes, strict=True):
        runs = split_for_copy(case["first"], case["last"] + 1, case["keyframes"], case["copy_ends"])
        assert note["path"] == path_of(runs), case
        copied = [[start, stop] for copy, start, stop in runs if copy]
        assert ([note["copied"]] if note["copied"] else []) == copied, case
        seen.add(note["path"])
    assert seen == {"copy", "smart", "reencode"}
