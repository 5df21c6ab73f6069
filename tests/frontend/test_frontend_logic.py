"""The frontend's pure logic (timecodes, frame stepping, clip order, error → clip mapping), run with Node's
built-in test runner: the same ES modules the browser loads from frontend/."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_frontend_modules_pass_their_node_tests() -> None:
    node = shutil.which("node")
    assert node, "Node.js (20 or newer) is needed to test the frontend's modules"
    specs = sorted(HERE.glob("*.test.mjs"))
    assert specs
    done = subprocess.run(
        [node, "--test", "--test-reporter=tap", *map(str, specs)],
        cwd=HERE, capture_output=True, text=True, timeout=120,
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    passed = re.search(r"^# pass (\d+)$", report, re.MULTILINE)
    failed = re.search(r"^# fail (\d+)$", report, re.MULTILINE)
    assert passed and int(passed.group(1)) >= 20 and failed and failed.group(1) == "0", report
