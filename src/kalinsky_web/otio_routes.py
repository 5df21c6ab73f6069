"""`GET /api/v1/assemblies/{assembly_id}/otio`: an assembly as an OpenTimelineIO timeline (`.otio` JSON)."""

from __future__ import annotations

from pathlib import Path

from litestar import MediaType, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from kalinsky_adapters.otio import assembly_timeline, timeline_json
from kalinsky_core import services
from kalinsky_web.routes import Repo
from kalinsky_web.schemas import error_responses


def otio_export(sources_dir: Path) -> HTTPRouteHandler:
    """The export route; media references point at files under `sources_dir`."""

    @get(
        "/api/v1/assemblies/{assembly_id:str}/otio",
        tags=["assemblies"],
        summary="The assembly as an OpenTimelineIO timeline",
        description=(
            "Clips' source ranges count frames at each source's own rate (the frames the render shows); media "
            "references are absolute file:// URLs of the sources. 404 for an unknown assembly, 422 if one of its "
            "sources is no longer indexed."
        ),
        media_type=MediaType.JSON,
        responses=error_responses(
            e404="No assembly has this id", e409="No index yet", e422="A source of the assembly is no longer indexed"
        ),
    )
    async def export_otio(assembly_id: FromPath[str], repo: Repo) -> Response[bytes]:
        assembly = await services.get_assembly(repo, assembly_id)
        timeline = assembly_timeline(assembly, await services.list_sources(repo), sources_dir)
        return Response(
            timeline_json(timeline).encode(),
            media_type=MediaType.JSON,
            headers={"content-disposition": f'attachment; filename="{assembly.id}.otio"'},
        )

    return export_otio
