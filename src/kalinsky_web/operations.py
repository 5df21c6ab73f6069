"""For operators and orchestrators: liveness, readiness and Prometheus metrics, outside the versioned API."""

from __future__ import annotations

import msgspec
from litestar import Controller, MediaType, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from kalinsky_adapters.telemetry import MEDIA_TYPE
from kalinsky_web.dependencies import Metrics, Readiness


class Health(msgspec.Struct):
    status: str


class CheckBody(msgspec.Struct):
    detail: str
    ok: bool


class ReadyBody(msgspec.Struct):
    """`status` is `ok` when every check passed, else `unavailable`; `checks` by name."""

    checks: dict[str, CheckBody]
    status: str


class OperationsController(Controller):
    tags = ["operations"]

    @get("/healthz", summary="The process is up", cache=False)
    async def healthz(self) -> Health:
        return Health(status="ok")

    @get(
        "/readyz",
        summary="The service can work: the database answers, ffmpeg and ffprobe run, output and data folders are "
        "writable",
        description="200 when every check passed, 503 when one failed; each check's result either way.",
        cache=False,
        responses={
            HTTP_503_SERVICE_UNAVAILABLE: ResponseSpec(
                data_container=ReadyBody, description="A check failed", generate_examples=False
            )
        },
    )
    async def readyz(self, readiness: Readiness) -> Response[ReadyBody]:
        results = await readiness.check()
        checks = {name: CheckBody(detail=check.detail, ok=check.ok) for name, check in results.items()}
        ready = all(check.ok for check in checks.values())
        return Response(
            ReadyBody(checks=checks, status="ok" if ready else "unavailable"),
            status_code=HTTP_200_OK if ready else HTTP_503_SERVICE_UNAVAILABLE,
            media_type=MediaType.JSON,
        )

    @get("/metrics", summary="Metrics in Prometheus' text format", media_type=MEDIA_TYPE, cache=False)
    async def metrics(self, metrics: Metrics) -> bytes:
        return metrics.exposition()
