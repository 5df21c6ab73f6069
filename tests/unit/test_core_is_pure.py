"""kalinsky_core imports nothing but the standard library and attrs."""

import json
import subprocess
import sys


def test_core_imports_only_stdlib_and_attrs() -> None:
    code = (
        "import sys, json; before = set(sys.modules); import kalinsky_core, kalinsky_core.jobs; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)
    third_party = {
        name.split(".")[0]
        for name in loaded
        if name.split(".")[0] not in sys.stdlib_module_names and not name.startswith("kalinsky_core")
    }
    assert third_party <= {"attr", "attrs"}, third_party
    assert not any(name.startswith(("kalinsky_adapters", "kalinsky_web", "litestar", "aiosqlite")) for name in loaded)
