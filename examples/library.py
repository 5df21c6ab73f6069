import asyncio
from pathlib import Path

from kalinsky_adapters.binaries import find_executable
from kalinsky_adapters.ffmpeg import ffmpeg_rendering
from kalinsky_adapters.ffprobe import FfprobeProber
from kalinsky_adapters.memory import InMemoryRepo
from kalinsky_core import ClipInput, create_assembly, reindex, render_assembly


async def main(sources: Path, output: Path) -> None:
    ffmpeg, ffprobe = find_executable("ffmpeg"), find_executable("ffprobe")
    repo = InMemoryRepo()  # the index and the assembly live in memory: no server, no database
    index = await reindex(FfprobeProber(sources, ffprobe), repo)
    print("indexed:", *(f"{s.index}={s.filename}" for s in index.sources))
    clips = [ClipInput("a.mp4", start=1.0, end=2.5), ClipInput(2, end=1.0)]  # a filename or a 1-based index
    rendering = ffmpeg_rendering(sources, output, ffmpeg, ffprobe)  # cuts each clip, then joins them
    assembly = await create_assembly(repo, rendering.rules, clips, name="from a script", preview=False)
    done = await render_assembly(assembly, repo, rendering)
    print(done.id, done.status.value, done.error or output / done.id / "result.mp4")


asyncio.run(main(Path("sources"), Path("output")))
