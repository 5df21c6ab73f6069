"""`python -m kalinsky_adapters.store DATABASE_URL_OR_PATH`: create or upgrade the schema (deployment entrypoints)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from kalinsky_adapters.store.repo import upgrade_schema
from kalinsky_adapters.store.urls import shown, target
from kalinsky_core.errors import StorageUnavailable


def main(argv: Sequence[str] = sys.argv[1:], program: str = "python -m kalinsky_adapters.store") -> None:
    if len(argv) != 1:
        sys.exit(f"usage: {program} DATABASE_URL_OR_PATH")
    try:
        url = target(argv[0])
        asyncio.run(upgrade_schema(url))
    except ValueError as error:
        sys.exit(f"the database URL {error}")
    except StorageUnavailable as error:
        sys.exit(error.message)
    print(f"schema ready in {shown(url)}")


if __name__ == "__main__":
    main()
