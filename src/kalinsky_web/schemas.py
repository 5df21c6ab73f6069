"""Request and response bodies of the HTTP API that are not domain objects themselves."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar.openapi.datastructures import ResponseSpec

from kalinsky_core.model import ClipInput, SkippedFile

#: Upper bounds that keep one request from tying up the service.
MAX_CLIPS = 1000
MAX_NAME_LENGTH = 200


class ClipIn(msgspec.Struct, forbid_unknown_fields=True):
    """A clip: `source` is a 1-based index or an exact filename of the index; `start`/`end` in seconds
    (defaults: 0 and the source's duration)."""

    source: int | Annotated[str, msgspec.Meta(max_length=1024)]
    start: float | None = None
    end: float | None = None

    def to_domain(self) -> ClipInput:
        return ClipInput(source=self.source, start=self.start, end=self.end)


class AssemblyCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A new assembly: clips in output order; `preview` burns in a timecode at a smaller size."""

    clips: Annotated[list[ClipIn], msgspec.Meta(max_length=MAX_CLIPS)]
    name: Annotated[str, msgspec.Meta(max_length=MAX_NAME_LENGTH)] | None = None
    preview: bool = True


class ReindexResult(msgspec.Struct):
    """`count` sources indexed; `skipped` lists the video files that could not be read, with the reason."""

    status: str
    count: int
    skipped: list[SkippedFile]


class ErrorBody(msgspec.Struct):
    """Every error answer: the HTTP status again and a message for people."""

    status_code: int
    detail: str


def error_responses(**described: str) -> dict[int, ResponseSpec]:
    """OpenAPI entries for error answers, e.g. `error_responses(e404="No such assembly")`."""
    return {
        int(code[1:]): ResponseSpec(data_container=ErrorBody, description=text, generate_examples=False)
        for code, text in described.items()
    }
