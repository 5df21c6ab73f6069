"""Helpers for web tests: settings rooted in a test's folder, waiting for a render."""

from __future__ import annotations

import time
from pathlib import Path

from litestar.testing import TestClient

from kalinsky_adapters.settings import Settings


def settings_for(root: Path, **overrides) -> Settings:
    return Settings(
        sources_dir=root / "sources",
        output_dir=root / "output",
        data_dir=root / "data",
        db_path=root / "data" / "kalinsky.db",
        **{"allowed_hosts": ("testserver.local",), **overrides},
    )


def wait_done(client: TestClient, assembly_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assembly = client.get(f"/api/v1/assemblies/{assembly_id}").json()
        if assembly["status"] != "processing":
            return assembly
        time.sleep(0.1)
    raise TimeoutError(assembly_id)


