"""Log output of a server: plain text lines, or one JSON object per line (`KALINSKY_LOG_FORMAT=json`) whose keys
include the structured fields a log call passes in `extra` (e.g. a render's timings)."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],  # uvicorn's ANSI-coloured copy of the message
        )
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Send every logger's records (the server's too) to stderr in this format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # the schema migrations at every start tell only of trouble (not of each plugin they load)
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
