"""Every module imports on its own, first: no import cycle hides behind the order the application imports them in."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import importlib, pkgutil, sys
failed = []
packages = ("kalinsky_core", "kalinsky_adapters", "kalinsky_web", "kalinsky_cli")
names = [info.name for package in packages
         for info in pkgutil.walk_packages(importlib.import_module(package).__path__, package + ".")]
for name in (name for name in names if not name.endswith("__main__")):
    for loaded in [key for key in sys.modules if key.startswith(packages)]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as error:
        failed.append(f"{name}: {error!r}")
print("\\n".join(failed))
"""


def test_every_module_imports_first() -> None:
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
