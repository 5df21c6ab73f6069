"""Durations, sizes and states as the commands print them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from kalinsky_core.model import Assembly, Source


def stdout() -> Console:
    from rich.console import Console

    return Console(highlight=False)


def stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"


def fps(source: Source) -> str:
    return f"{float(source.fps):.2f}".rstrip("0").rstrip(".")


def size(count: int) -> str:
    value, unit = float(count), "B"
    for bigger in ("kB", "MB", "GB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"


def eta(left: float | None) -> str:
    if left is None:
        return "-:--"
    minutes, rest = divmod(round(left), 60)
    return f"{minutes}:{rest:02d}"


def state(assembly: Assembly) -> str:
    from kalinsky_core.model import AssemblyStatus

    if assembly.status is AssemblyStatus.PROCESSING:
        left = "" if assembly.eta_seconds is None else f", about {eta(assembly.eta_seconds)} left"
        return f"processing {assembly.progress:.0%}{left}"
    return str(assembly.status.value)
