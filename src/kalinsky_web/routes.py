"""The HTTP API: /api/v1/sources and /api/v1/assemblies. Each handler parses, calls a use case, formats."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, MediaType, Request, Response, delete, get, post
from litestar.datastructures import ResponseHeader
from litestar.exceptions import ClientException, ValidationException
from litestar.params import FromPath, JSONBody, Parameter
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_202_ACCEPTED,
    HTTP_204_NO_CONTENT,
    HTTP_415_UNSUPPORTED_MEDIA_TYPE,
)

from kalinsky_adapters.proxies import PreviewProxies
from kalinsky_core import model
from kalinsky_core.model import AssemblyStatus
from kalinsky_core.ports import CodingRules
from kalinsky_core.qc import source_qc
from kalinsky_web.dependencies import Desk, Library, OutputUrl, Proxies, Rules, TimelineExport
from kalinsky_web.schemas import (
    Assembly,
    AssemblyCreate,
    Proxy,
    ReindexResult,
    RenderReport,
    Source,
    error_responses,
)

NOT_INDEXED = "No index yet: call POST /api/v1/sources/reindex first"
NO_ASSEMBLY = "No assembly has this id"


@get(
    "/api/v1/media-access",
    status_code=HTTP_204_NO_CONTENT,
    summary="Whether this request may load media",
    description="204 when no API token is set, or when the request carries it (header, or the web UI's cookie); "
    "401 otherwise. A proxy that serves /output/ itself asks this first (nginx's auth_request).",
    tags=["access"],
)
async def media_access() -> None:
    return None  # the request guard has already refused a request without the token


def described(source: model.Source, rules: CodingRules, proxies: PreviewProxies | None) -> Source:
    """A source as the API shows it: with what to know before cutting it and where its proxy stands."""
    status = None if proxies is None else proxies.status(source)
    proxy = Proxy(state="none", progress=0.0) if status is None else Proxy(state=status.state.value,
                                                                          progress=round(status.progress, 3))
    return Source.of(source, source_qc(source, rules), proxy)


class SourcesController(Controller):
    path = "/api/v1/sources"
    tags = ["sources"]

    @post(
        "/reindex",
        status_code=HTTP_200_OK,
        summary="Scan the sources folder with ffprobe; replace the index",
        description="Preview proxies of the indexed sources are then made in the background.",
    )
    async def reindex(self, library: Library) -> ReindexResult:
        return ReindexResult.of(await library.reindex())

    @get("/", summary="The indexed sources", responses=error_responses(e409=NOT_INDEXED))
    async def list_sources(self, library: Library, rules: Rules, proxies: Proxies) -> list[Source]:
        return [described(source, rules, proxies) for source in await library.sources()]


#: The most assemblies one page of the list holds; the largest offset (beyond it, SQLite's integers overflow).
MAX_PAGE = 1000
MAX_OFFSET = 1_000_000_000


class UnsupportedMediaType(ClientException):
    status_code = HTTP_415_UNSUPPORTED_MEDIA_TYPE


async def strict_json_body(request: Request[Any, Any, Any]) -> None:
    """Refuse a body that is not `application/json`, or that is not an assembly spec in strict JSON: `"1"` is not a
    start time and `1.0` is not a source index. (Litestar converts the body leniently, so this runs before it; a
    body that passes here converts to the same value there.)"""
    media_type, _ = request.content_type
    if media_type != MediaType.JSON:
        sent = f"not {media_type!r}" if media_type else "the request has none"
        raise UnsupportedMediaType(f"The body must be JSON sent with Content-Type: application/json; {sent}")
    try:
        msgspec.json.decode(await request.body(), type=AssemblyCreate, strict=True)
    except msgspec.ValidationError as error:
        where = str(error).partition(" - at ")[2].strip("`").removeprefix("$.") or "body"
        raise ValidationException(str(error), extra=[{"message": str(error), "key": where, "source": "body"}]) from None
    except msgspec.DecodeError as error:
        raise ValidationException(f"Malformed JSON: {error}") from None
    except RecursionError:
        raise ValidationException("The JSON body is nested too deeply") from None


class AssembliesController(Controller):
    path = "/api/v1/assemblies"
    tags = ["assemblies"]

    @post(
        "/",
        status_code=HTTP_202_ACCEPTED,
        summary="Create an assembly and start rendering it",
        responses=error_responses(
            e409=NOT_INDEXED, e415="The body is not sent as application/json",
            e422="Clips that cannot be assembled (unknown source, bad trim, empty list), or a callback_url that is "
            "not http(s)",
            e503="The database cannot be written now (e.g. a full disk); nothing was stored",
        ),
        before_request=strict_json_body,
    )
    async def create(self, data: JSONBody[AssemblyCreate], desk: Desk, output_url: OutputUrl) -> Assembly:
        assembly = await desk.start(
            data.clip_inputs(), name=data.name, preview=data.preview, callback_url=data.callback_url
        )
        return Assembly.of(assembly, output_url(assembly.id))

    @get(
        "/",
        summary="Assemblies, newest first: all of them, or one page",
        description="Without parameters, every assembly. `status` keeps those in one state; `offset` skips the "
        "newest ones, `limit` caps how many come. `X-Total-Count` tells how many match `status` in all.",
        response_headers=[
            ResponseHeader(
                name="X-Total-Count", description="How many assemblies match `status`", documentation_only=True
            )
        ],
    )
    async def list_assemblies(
        self,
        desk: Desk,
        output_url: OutputUrl,
        limit: Annotated[int | None, Parameter(ge=1, le=MAX_PAGE, description="At most this many")] = None,
        offset: Annotated[int, Parameter(ge=0, le=MAX_OFFSET, description="Skip this many of the newest")] = 0,
        status: Annotated[AssemblyStatus | None, Parameter(description="Only assemblies in this state")] = None,
    ) -> Response[list[Assembly]]:
        page = await desk.all(status=status, limit=limit, offset=offset)
        total = await desk.count(status=status)
        return Response(
            [Assembly.of(assembly, output_url(assembly.id)) for assembly in page],
            headers={"X-Total-Count": str(total)},
        )

    @get("/{assembly_id:str}", summary="One assembly", responses=error_responses(e404=NO_ASSEMBLY))
    async def get_assembly(self, assembly_id: FromPath[str], desk: Desk, output_url: OutputUrl) -> Assembly:
        return Assembly.of(await desk.get(assembly_id), output_url(assembly_id))

    @post(
        "/{assembly_id:str}/cancel",
        status_code=HTTP_200_OK,
        summary="Stop a queued or running render",
        description="The render's ffmpeg is stopped and its files removed; the assembly becomes `cancelled`. "
        "409 if it has already finished.",
        responses=error_responses(e404=NO_ASSEMBLY, e409="The assembly has already finished"),
    )
    async def cancel(self, assembly_id: FromPath[str], desk: Desk, output_url: OutputUrl) -> Assembly:
        return Assembly.of(await desk.cancel(assembly_id), output_url(assembly_id))

    @delete(
        "/{assembly_id:str}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete a finished assembly: its files and its record",
        description="For `done`, `failed` and `cancelled` assemblies; its id is never handed out again. "
        "409 while it renders (cancel it first), 404 once deleted.",
        responses=error_responses(e404=NO_ASSEMBLY, e409="The assembly is still processing"),
    )
    async def delete_assembly(self, assembly_id: FromPath[str], desk: Desk) -> None:
        await desk.delete(assembly_id)

    @get(
        "/{assembly_id:str}/report",
        summary="What the finished render did at every clip and join",
        description="Per clip: the path its video took, frames planned, written (counted in the output), copied "
        "and encoded at each cut end. Per join: where the next clip's video and audio start in the output and "
        "their offset. Made by every render that ends `done`; 404 otherwise.",
        responses=error_responses(e404="No assembly has this id, or it has no report (not done)"),
    )
    async def report(self, assembly_id: FromPath[str], desk: Desk) -> RenderReport:
        return RenderReport.of(await desk.report(assembly_id))

    @get(
        "/{assembly_id:str}/otio",
        summary="The assembly as an OpenTimelineIO timeline",
        description=(
            "Clips' source ranges count frames at each source's own rate (the frames the render shows); media "
            "references are absolute file:// URLs of the sources. 404 for an unknown assembly, 422 if one of its "
            "sources is no longer indexed."
        ),
        media_type=MediaType.JSON,
        responses=error_responses(
            e404=NO_ASSEMBLY, e409="No index yet", e422="A source of the assembly is no longer indexed"
        ),
    )
    async def export_otio(
        self, assembly_id: FromPath[str], desk: Desk, library: Library, timelines: TimelineExport
    ) -> Response[bytes]:
        assembly = await desk.get(assembly_id)
        text = timelines.export(assembly, await library.sources())
        return Response(
            text.encode(),
            media_type=MediaType.JSON,
            headers={"content-disposition": f'attachment; filename="{assembly.id}.otio"'},
        )
