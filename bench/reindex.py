"""Reindex benchmark: what indexing costs, and what a reindex of files that did not change costs.

    uv run python bench/reindex.py [--files 1000] [--work DIR]

Fills a sources folder with FILES small H.264 videos (copies of one, each its own file), indexes it into a real
SQLite database with ffprobe (timed), then reindexes it unchanged a few times (timed, with the number of files
probed and hashed, which must be none), and times the content digest of one large file (what a source's identity
costs to take, e.g. before and after a render reads it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import kalinsky_adapters.source_files as source_files
from kalinsky_adapters.binaries import find_executable
from kalinsky_adapters.ffmpeg import CodecRules
from kalinsky_adapters.ffprobe import FfprobeProber
from kalinsky_adapters.sqlite import SqliteRepo
from kalinsky_core import services

FFMPEG = find_executable("ffmpeg")
FFPROBE = find_executable("ffprobe")


def make_sources(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    first = folder / "clip-0000.mp4"
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=160x120:r=30:d=1",
                    "-c:v", "libx264", "-g", "30", "-pix_fmt", "yuv420p", str(first)], check=True)
    for n in range(1, count):
        shutil.copyfile(first, folder / f"clip-{n:04d}.mp4")


async def run(files: int, work: Path) -> None:
    sources = work / "sources"
    make_sources(sources, files)
    prober = FfprobeProber(sources, FFPROBE, CodecRules())
    probed, hashed = [], []
    probe_path, digest = prober.probe_path, source_files._digest

    async def counted_probe(path: Path):  # type: ignore[no-untyped-def]
        probed.append(path)
        return await probe_path(path)

    def counted_digest(fd: int, size: int) -> str:
        hashed.append(size)
        return digest(fd, size)

    prober.probe_path = counted_probe  # type: ignore[method-assign]
    source_files._digest = counted_digest

    async with SqliteRepo(work / "kalinsky.db") as repo:
        started = time.perf_counter()
        index = await services.reindex(prober, repo)
        first = time.perf_counter() - started
        print(f"first index of {files} files: {first:.2f} s ({1000 * first / files:.1f} ms a file), "
              f"{len(index.sources)} indexed, {len(probed)} probed, {len(hashed)} hashed")

        times = []
        for _round in range(5):
            probed.clear(), hashed.clear()
            started = time.perf_counter()
            again = await services.reindex(prober, repo)
            times.append(time.perf_counter() - started)
            assert again.sources == index.sources and not probed and not hashed
        print(f"reindex of {files} unchanged files: median {1000 * statistics.median(times):.0f} ms, "
              f"best {1000 * min(times):.0f} ms (5 runs), 0 probed, 0 hashed")

        os.utime(sources / "clip-0000.mp4")
        probed.clear(), hashed.clear()
        started = time.perf_counter()
        await services.reindex(prober, repo)
        print(f"reindex with 1 file touched: {1000 * (time.perf_counter() - started):.0f} ms, "
              f"{len(probed)} probed, {len(hashed)} hashed")

    large = sources / "large.bin"
    with large.open("wb") as out:
        for _block in range(256):
            out.write(os.urandom(1 << 20))
    folder = source_files.SourceFolder(sources)
    folder.identity("large.bin")  # warm the page cache: a render's check follows ffmpeg's reads
    started = time.perf_counter()
    for _round in range(100):
        folder.identity("large.bin")
    print(f"identity (stat + BLAKE2b of 3 x 64 KiB) of a 256 MiB file: "
          f"{1e6 * (time.perf_counter() - started) / 100:.0f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--work", type=Path, help="a folder to work in (default: a temporary one, removed)")
    args = parser.parse_args()
    if args.work is not None:
        shutil.rmtree(args.work, ignore_errors=True)
        asyncio.run(run(args.files, args.work))
        return
    with tempfile.TemporaryDirectory() as work:
        asyncio.run(run(args.files, Path(work)))


if __name__ == "__main__":
    main()
