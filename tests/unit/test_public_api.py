"""`kalinsky_core`'s public API: what `__init__` exports is importable and described in its docstring."""

from __future__ import annotations

import re

import kalinsky_core


def test_every_export_exists() -> None:
    assert [name for name in kalinsky_core.__all__ if not hasattr(kalinsky_core, name)] == []


def test_the_package_docstring_describes_every_export() -> None:
    described = set(re.findall(r"\b\w+\b", kalinsky_core.__doc__ or ""))
    assert sorted(set(kalinsky_core.__all__) - described) == []
