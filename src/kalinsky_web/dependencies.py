"""What route handlers are given, by name, from the composition root (see app.py). Typed by what they do, not by
the adapters behind them; Litestar must not validate these against their types (Protocols, callables)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from litestar.di import NamedDependency
from litestar.params import SkipValidation

from kalinsky_adapters.events import EventHub
from kalinsky_adapters.proxies import PreviewProxies
from kalinsky_core.model import Assembly, Source
from kalinsky_core.ports import CodingRules
from kalinsky_core.services import AssemblyDesk, SourceLibrary


class SourceFiles(Protocol):
    def existing(self, filename: str) -> Path:
        """The file of an indexed source, for reading; LookupError when it is no longer there."""
        ...


class Posters(Protocol):
    async def thumbnail(self, source: Source) -> Path:
        """A JPEG poster frame of the source; LookupError when its file is gone, RenderFailed when unreadable."""
        ...


class TrimBarMedia(Protocol):
    async def filmstrip(self, source: Source) -> Path:
        """A JPEG sprite of evenly spaced frames of the source; LookupError when its file is gone, RenderFailed when
        unreadable."""
        ...

    async def waveform(self, source: Source) -> Path:
        """A JSON file of the peaks of the source's sound; as `filmstrip` otherwise."""
        ...


class Timelines(Protocol):
    def export(self, assembly: Assembly, sources: tuple[Source, ...]) -> str:
        """The assembly as `.otio` JSON text."""
        ...


class CheckResult(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def detail(self) -> str: ...


class ReadinessChecks(Protocol):
    async def check(self) -> Mapping[str, CheckResult]:
        """Each readiness check's result, by name."""
        ...


class MetricsExposition(Protocol):
    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        ...


Library = NamedDependency[SkipValidation[SourceLibrary]]
Desk = NamedDependency[SkipValidation[AssemblyDesk]]
OutputUrl = NamedDependency[SkipValidation[Callable[[str], str]]]
Files = NamedDependency[SkipValidation[SourceFiles]]
Thumbnailer = NamedDependency[SkipValidation[Posters]]
TrimBar = NamedDependency[SkipValidation[TrimBarMedia]]
Rules = NamedDependency[SkipValidation[CodingRules]]
TimelineExport = NamedDependency[SkipValidation[Timelines]]
Events = NamedDependency[SkipValidation[EventHub]]
Readiness = NamedDependency[SkipValidation[ReadinessChecks]]
Metrics = NamedDependency[SkipValidation[MetricsExposition]]
Proxies = NamedDependency[SkipValidation[PreviewProxies | None]]  # None: turned off
