"""`create_app()`: the Litestar application, wired from a dependency-injector container."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from dependency_injector import providers
from dependency_injector.ext.starlette import Lifespan
from litestar import Litestar, MediaType, Request, Response, asgi
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.exceptions import NotFoundException, ValidationException
from litestar.logging.config import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.static_files import create_static_files_router
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from litestar.types import Receive, Scope, Send

from kalinsky_adapters.container import Container, resolve
from kalinsky_adapters.events import following
from kalinsky_adapters.render_files import RenderFolders
from kalinsky_adapters.settings import Settings
from kalinsky_core import services
from kalinsky_core.errors import (
    AssemblyFinished,
    AssemblyNotFound,
    AssemblyProcessing,
    InvalidCallback,
    InvalidClip,
    KalinskyError,
    NotIndexed,
    ReportMissing,
    SourceNotFound,
    StorageUnavailable,
)
from kalinsky_web import retention, webhooks
from kalinsky_web.events import events
from kalinsky_web.files import file_answer, file_within
from kalinsky_web.guard import LOCAL_HOSTS, RequestGuard
from kalinsky_web.operations import OperationsController
from kalinsky_web.routes import AssembliesController, SourcesController, media_access
from kalinsky_web.schemas import ErrorBody
from kalinsky_web.source_media import SourceMediaController

log = logging.getLogger("kalinsky")

#: Request bodies are small JSON documents; anything bigger is refused with 413.
MAX_BODY_BYTES = 1_000_000

#: The static frontend of a source checkout (frontend/ beside src/).
FRONTEND_DIR = Path(__file__).resolve().parents[2] / "frontend"

_STATUS_OF: dict[type[KalinskyError], int] = {
    NotIndexed: HTTP_409_CONFLICT,
    SourceNotFound: HTTP_422_UNPROCESSABLE_ENTITY,
    InvalidClip: HTTP_422_UNPROCESSABLE_ENTITY,
    AssemblyNotFound: HTTP_404_NOT_FOUND,
    AssemblyFinished: HTTP_409_CONFLICT,
    AssemblyProcessing: HTTP_409_CONFLICT,
    InvalidCallback: HTTP_422_UNPROCESSABLE_ENTITY,
    ReportMissing: HTTP_404_NOT_FOUND,
    StorageUnavailable: HTTP_503_SERVICE_UNAVAILABLE,
}


def domain_error_response(_request: Request[Any, Any, Any], error: KalinskyError) -> Response[ErrorBody]:
    status = next((code for kind, code in _STATUS_OF.items() if isinstance(error, kind)), 500)
    body = ErrorBody(status_code=status, detail=error.message, clip=getattr(error, "clip", None))
    return Response(body, status_code=status, media_type=MediaType.JSON)


def validation_error_response(request: Request[Any, Any, Any], error: ValidationException) -> Response[Any]:
    """Litestar's "Validation failed for GET /..." with what failed, and where, in `detail`; `extra` as it was."""
    problems = [
        f"{item['message']} - at `{item['key']}` ({getattr(item.get('source'), 'value', item.get('source'))})"
        if item.get("key") and " - at " not in str(item["message"])
        else str(item["message"])
        for item in (error.extra if isinstance(error.extra, list) else [])
        if isinstance(item, dict) and item.get("message")
    ]
    generic = error.detail.startswith("Validation failed for")  # Litestar's own text, not one of ours
    detail = ("; ".join(problems) or error.detail) if generic else error.detail
    body: dict[str, Any] = {"status_code": HTTP_400_BAD_REQUEST, "detail": detail}
    if error.extra:
        body["extra"] = error.extra
    return Response(body, status_code=HTTP_400_BAD_REQUEST, media_type=MediaType.JSON)


def too_deep_response(_request: Request[Any, Any, Any], _error: RecursionError) -> Response[ErrorBody]:
    """A body nested so deep that decoding it runs out of stack (msgspec's RecursionError)."""
    body = ErrorBody(status_code=HTTP_400_BAD_REQUEST, detail="The JSON body is nested too deeply")
    return Response(body, status_code=HTTP_400_BAD_REQUEST, media_type=MediaType.JSON)


def from_container(provider: providers.Provider[Any]) -> Provide:
    """A Litestar dependency taken from the container."""

    async def dependency() -> Any:
        return await resolve(provider)

    return Provide(dependency)


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await Response(
        {"status_code": 404, "detail": "Not found"}, status_code=404, media_type=MediaType.JSON
    ).to_asgi_response(app=None, request=Request(scope, receive, send))(scope, receive, send)


def output_files(folders: RenderFolders) -> Any:
    """`/output/...`: finished renders, with Range requests (seeking) and an ETag of the file's identity, always
    revalidated (ids start again at asm_001 when `data/` is reset: a URL can name a new file). Work files of
    renders in progress, hidden files and anything reached through a symbolic link are never served."""

    @asgi(folders.url_prefix, is_mount=True, copy_scope=True)
    async def serve_output(scope: Scope, receive: Receive, send: Send) -> None:
        parts = tuple(scope["path"].strip("/").split("/"))
        if scope.get("method") not in {"GET", "HEAD"} or folders.is_work_file(parts):
            raise NotFoundException()
        path = file_within(folders.root, parts)
        try:
            if path is None:
                raise FileNotFoundError(scope["path"])
            answer = file_answer(path)
        except OSError:
            await _not_found(scope, receive, send)
            return
        await answer(scope, receive, send)

    return serve_output


def create_app(settings: Settings | None = None, container: Container | None = None) -> Litestar:
    """The Kalinsky web app. Pass `settings` (default: from the environment) or a ready `container`
    (tests override its providers)."""
    if container is None:
        container = Container(settings=settings or Settings.from_env())
    settings = container.settings()

    @contextlib.asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        for folder in (settings.sources_dir, settings.output_dir, settings.data_dir, settings.db_path.parent):
            folder.mkdir(parents=True, exist_ok=True)
        async with Lifespan(container):
            library, desk = await resolve(container.library), await resolve(container.desk)
            async with (
                following(await resolve(container.repo), container.events()),
                webhooks.delivering(container, desk),  # before renders resume: none ends untold
            ):
                await services.start_service(library, desk, auto_reindex=settings.auto_reindex)
                async with retention.pruning(desk, settings.keep_days):
                    yield

    route_handlers: list[Any] = [
        SourcesController, SourceMediaController, AssembliesController, OperationsController, events, media_access,
        output_files(container.files()),
    ]
    if FRONTEND_DIR.is_dir():
        route_handlers.append(
            create_static_files_router(path="/", directories=[FRONTEND_DIR], html_mode=True, include_in_schema=False)
        )
    app = Litestar(
        route_handlers=route_handlers,
        dependencies={
            "library": from_container(container.library),
            "desk": from_container(container.desk),
            "output_url": from_container(container.files.provided.url),
            "source_files": from_container(container.sources),
            "thumbnailer": from_container(container.thumbnailer),
            "trim_bar": from_container(container.trim_bar),
            "rules": from_container(container.rules),
            "timelines": from_container(container.timelines),
            "events": from_container(container.events),
            "readiness": from_container(container.readiness),
            "metrics": from_container(container.metrics),
            "proxies": from_container(container.proxies),
        },
        exception_handlers={
            KalinskyError: domain_error_response,
            ValidationException: validation_error_response,
            RecursionError: too_deep_response,
        },
        middleware=[RequestGuard(allowed_hosts=(*LOCAL_HOSTS, *settings.allowed_hosts), api_token=settings.api_token)],
        cors_config=CORSConfig(allow_origins=["*"], allow_methods=["*"], allow_headers=["*"]),
        openapi_config=OpenAPIConfig(title="Kalinsky", version="0.1.0", path="/api/schema"),
        request_max_body_size=MAX_BODY_BYTES,
        lifespan=[lifespan],
        # Litestar's records go to the root logger, which the server configures (KALINSKY_LOG_FORMAT).
        logging_config=LoggingConfig(
            configure_root_logger=False, loggers={"litestar": {"level": "INFO", "propagate": True}}
        ),
    )
    app.state.container = container
    return app
