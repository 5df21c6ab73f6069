"""How long `kalinsky --help` takes: the start-up every short command pays (target <= 0.25 s).

    uv run python bench/cli_startup.py [--rounds 7]

Runs the installed `kalinsky` script beside this Python, best of several rounds (the machine is shared), and the
modules a plain `import kalinsky_cli.main` loads, to show that the web stack and the adapters stay out of it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("litestar", "kalinsky_adapters", "kalinsky_web", "msgspec", "rich", "dependency_injector", "aiosqlite")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    kalinsky = str(Path(sys.executable).with_name("kalinsky"))
    times = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        subprocess.run([kalinsky, "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, kalinsky_cli.main; print(' '.join(sorted(sys.modules)))"],
        check=True, capture_output=True, text=True,
    ).stdout.split()
    heavy = sorted({name.split(".")[0] for name in loaded if name.split(".")[0] in HEAVY})
    print(f"kalinsky --help: best {min(times):.3f} s, median {sorted(times)[len(times) // 2]:.3f} s "
          f"of {args.rounds} rounds (target <= 0.25 s)")
    print(f"heavy packages imported by the command group: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
