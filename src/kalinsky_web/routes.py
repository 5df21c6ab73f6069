"""The HTTP API: /api/v1/sources and /api/v1/assemblies."""

from __future__ import annotations

import asyncio

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, SkipValidation
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from kalinsky_adapters.proxies import PreviewProxies
from kalinsky_core import services
from kalinsky_core.model import Assembly, Source
from kalinsky_core.ports import AssemblyRepo, Concatenator, MediaProber
from kalinsky_core.runner import RenderRunner
from kalinsky_web.schemas import AssemblyCreate, ReindexResult, error_responses

# Injected by name from the container. Ports are Protocols: Litestar must not validate adapters against them.
Repo = NamedDependency[SkipValidation[AssemblyRepo]]
Prober = NamedDependency[SkipValidation[MediaProber]]
Runner = NamedDependency[SkipValidation[RenderRunner]]
Renderer = NamedDependency[SkipValidation[Concatenator]]
ReindexLock = NamedDependency[SkipValidation[asyncio.Lock]]
Proxies = NamedDependency[SkipValidation[PreviewProxies | None]]

NOT_INDEXED = "No index yet: call POST /api/v1/sources/reindex first"
NO_ASSEMBLY = "No assembly has this id"


class SourcesController(Controller):
    path = "/api/v1/sources"
    tags = ["sources"]

    @post(
        "/reindex",
        status_code=HTTP_200_OK,
        summary="Scan the sources folder with ffprobe; replace the index",
        description="Preview proxies of the indexed sources are then made in the background.",
    )
    async def reindex(self, repo: Repo, prober: Prober, reindex_lock: ReindexLock, proxies: Proxies) -> ReindexResult:
        async with reindex_lock:  # a second reindex waits for the first instead of racing it
            index = await services.reindex(prober, repo)
        if proxies is not None:
            proxies.refresh(index.sources)
        return ReindexResult(status="ok", count=len(index.sources), skipped=list(index.skipped))

    @get("/", summary="The indexed sources", responses=error_responses(e409=NOT_INDEXED))
    async def list_sources(self, repo: Repo) -> list[Source]:
        return list(await services.list_sources(repo))


class AssembliesController(Controller):
    path = "/api/v1/assemblies"
    tags = ["assemblies"]

    @post(
        "/",
        status_code=HTTP_202_ACCEPTED,
        summary="Create an assembly and start rendering it",
        responses=error_responses(
            e409=NOT_INDEXED, e422="Clips that cannot be assembled: unknown source, bad trim, empty list"
        ),
    )
    async def create(self, data: JSONBody[AssemblyCreate], repo: Repo, runner: Runner) -> Assembly:
        assembly = await services.create_assembly(
            repo, [clip.to_domain() for clip in data.clips], name=data.name, preview=data.preview
        )
        runner.submit(assembly)
        return assembly

    @get("/", summary="All assemblies, newest first")
    async def list_assemblies(self, repo: Repo) -> list[Assembly]:
        return await repo.list()

    @get("/{assembly_id:str}", summary="One assembly", responses=error_responses(e404=NO_ASSEMBLY))
    async def get_assembly(self, assembly_id: FromPath[str], repo: Repo) -> Assembly:
        return await services.get_assembly(repo, assembly_id)

    @post(
        "/{assembly_id:str}/cancel",
        status_code=HTTP_200_OK,
        summary="Stop a queued or running render",
        description="The render's ffmpeg is stopped and its files removed; the assembly becomes `cancelled`. "
        "409 if it has already finished.",
        responses=error_responses(e404=NO_ASSEMBLY, e409="The assembly has already finished"),
    )
    async def cancel(self, assembly_id: FromPath[str], repo: Repo, runner: Runner, renderer: Renderer) -> Assembly:
        return await services.cancel_assembly(repo, runner, renderer, assembly_id)
