"""Render benchmark: Kalinsky clean and preview against the naive seed pipeline and a full re-encode.

    uv run python bench/render.py [--work bench/work] [--skip-exactness] [--only NAME ...]

Generates (once, cached in --work) two 60 s 1080x1920 30 fps H.264 sources at ~8 Mb/s with AAC audio, whose
frames carry their own index in a band of stripes; assembles 10 clips cut off keyframes (80 s of output): with
Kalinsky clean, Kalinsky preview (from its preview proxies, which are made first, and from the sources), the
naive seed pipeline and a full re-encode, each in its own process; prints wall time, peak memory (largest
process of the pipeline), the ratios and whether each output holds exactly the expected frames.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

from kalinsky_adapters.binaries import find_executable

FFMPEG = find_executable("ffmpeg")
FFPROBE = find_executable("ffprobe")
WIDTH, HEIGHT, FPS, SECONDS, BITS = 1080, 1920, 30, 60, 12
BAND_TOP = HEIGHT * 3 // 4  # stripes fill the bottom quarter, below any overlay
PREVIEW_HEIGHT = 720
# (source, start, end): 10 clips, none starting or ending on a keyframe (2 s GOPs), 80 s in all
CLIPS = [
    ("a.mp4", 1.3, 9.3), ("b.mp4", 5.1, 14.1), ("a.mp4", 20.45, 27.45), ("b.mp4", 30.7, 38.7),
    ("a.mp4", 40.2, 48.2), ("b.mp4", 2.9, 9.9), ("a.mp4", 50.5, 59.5), ("b.mp4", 45.25, 53.25),
    ("a.mp4", 11.1, 18.1), ("b.mp4", 20.9, 28.9),
]


def make_source(path: Path, offset: int) -> None:
    """Moving noisy pictures (so the encoder has real work) with the frame index coded in the bottom band."""
    stripe = WIDTH // BITS
    boxes = ",".join(
        f"drawbox=x={bit * stripe}:y={BAND_TOP}:w={stripe}:h={HEIGHT - BAND_TOP}:color=white:t=fill"
        f":enable='mod(floor((n+{offset})/{2 ** bit}),2)'"
        for bit in range(BITS)
    )
    graph = (
        f"testsrc2=s={WIDTH}x{HEIGHT}:r={FPS}:d={SECONDS},noise=alls=12:allf=t,"
        f"drawbox=x=0:y={BAND_TOP}:w={WIDTH}:h={HEIGHT - BAND_TOP}:color=black:t=fill,{boxes}"
    )
    subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", graph,
         "-f", "lavfi", "-i", f"sine=frequency={330 + offset % 200}:sample_rate=48000:duration={SECONDS}",
         "-c:v", "libx264", "-preset", "veryfast", "-b:v", "8M", "-maxrate", "8M", "-bufsize", "16M",
         "-g", str(2 * FPS), "-keyint_min", str(2 * FPS), "-sc_threshold", "0", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(path)],
        check=True,
    )


OFFSETS = {"a.mp4": 0, "b.mp4": 2000}


#: The same cut with one clip moved: its start half a second later (what an editor does between two renders).
MOVED = [*CLIPS[:3], ("b.mp4", 31.2, 38.7), *CLIPS[4:]]


def expected_frames(clips: list[tuple[str, float, float]] = CLIPS) -> list[int]:
    frames = []
    for name, start, end in clips:
        first = -(-Fraction(str(start)) * FPS // 1)
        stop = -(-Fraction(str(end)) * FPS // 1)
        frames += [OFFSETS[name] + k for k in range(int(first), int(stop))]
    return frames


def decoded_frames(path: Path) -> list[int]:
    probe = json.loads(subprocess.run(
        [FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "json",
         str(path)], check=True, capture_output=True, text=True).stdout)["streams"][0]
    width, height = probe["width"], probe["height"]
    row = (height * 7 // 8) // 2 * 2  # the middle of the band, at any scale
    raw = subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0", "-vf", f"crop={width}:2:0:{row}",
         "-f", "rawvideo", "-pix_fmt", "gray", "-"], check=True, capture_output=True).stdout
    frames = []
    for start in range(0, len(raw), 2 * width):
        line = raw[start:start + width]
        frames.append(sum(1 << bit for bit in range(BITS) if line[int((bit + 0.5) * width / BITS)] > 127))
    return frames


# -- the four pipelines, each run in a child process -----------------------------------------------------

def run_naive(sources: Path, out: Path) -> None:
    """The seed's pipeline as written: -ss/-to with video stream copy per clip, AAC per clip, concat demuxer."""
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for pos, (name, start, end) in enumerate(CLIPS, 1):
        segment = out / f"{pos:03d}.mp4"
        subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", "-ss", str(start), "-to", str(end),
                        "-i", str(sources / name), "-c:v", "copy", "-c:a", "aac", "-b:a", "128k",
                        "-af", "afade=t=in:d=0.05", str(segment)], check=True)
        lines.append(f"file '{segment}'")
    (out / "list.txt").write_text("\n".join(lines) + "\n")
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i",
                    str(out / "list.txt"), "-c", "copy", str(out / "result.mp4")], check=True)


def run_full(sources: Path, out: Path) -> None:
    """One ffmpeg: each source split once per clip, trim + concat filters, libx264 veryfast crf 20."""
    out.mkdir(parents=True, exist_ok=True)
    inputs = sorted(OFFSETS)
    uses = {name: sum(1 for clip in CLIPS if clip[0] == name) for name in inputs}
    graph = []
    for i, name in enumerate(inputs):
        graph.append(f"[{i}:v]split={uses[name]}" + "".join(f"[s{i}v{u}]" for u in range(uses[name])))
        graph.append(f"[{i}:a]asplit={uses[name]}" + "".join(f"[s{i}a{u}]" for u in range(uses[name])))
    taken = dict.fromkeys(inputs, 0)
    for pos, (name, start, end) in enumerate(CLIPS):
        i, u = inputs.index(name), taken[name]
        taken[name] += 1
        graph.append(f"[s{i}v{u}]trim=start={start}:end={end},setpts=PTS-STARTPTS[v{pos}]")
        graph.append(f"[s{i}a{u}]atrim=start={start}:end={end},asetpts=PTS-STARTPTS[a{pos}]")
    joined = "".join(f"[v{pos}][a{pos}]" for pos in range(len(CLIPS))) + f"concat=n={len(CLIPS)}:v=1:a=1[v][a]"
    argv = [FFMPEG, "-nostdin", "-v", "error", "-y"]
    for name in inputs:
        argv += ["-i", str(sources / name)]
    subprocess.run(argv + ["-filter_complex", ";".join([*graph, joined]), "-map", "[v]", "-map", "[a]",
                           "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-c:a", "aac", "-b:a", "128k",
                           str(out / "result.mp4")], check=True)


def psnr_of_encoded_frames(result: Path, sources: Path, out: Path) -> tuple[int, float, float]:
    """How close the frames Kalinsky encoded again are to the source's decoded ones: (count, mean dB, min dB) over
    the output frames that are not bit-exact copies (a copied frame compares as infinite PSNR)."""
    inputs = sorted(OFFSETS)
    uses = {name: sum(1 for clip in CLIPS if clip[0] == name) for name in inputs}
    graph = [f"[{i + 1}:v]split={uses[name]}" + "".join(f"[s{i}v{u}]" for u in range(uses[name]))
             for i, name in enumerate(inputs)]
    taken = dict.fromkeys(inputs, 0)
    for pos, (name, start, end) in enumerate(CLIPS):
        i, u = inputs.index(name), taken[name]
        taken[name] += 1
        first, stop = (int(-(-Fraction(str(t)) * FPS // 1)) for t in (start, end))
        graph.append(f"[s{i}v{u}]trim=start_frame={first}:end_frame={stop},setpts=PTS-STARTPTS[r{pos}]")
    graph.append("".join(f"[r{pos}]" for pos in range(len(CLIPS))) + f"concat=n={len(CLIPS)}:v=1:a=0[ref]")
    stats = out / "psnr.log"
    graph.append(f"[0:v]setpts=PTS-STARTPTS[res];[res][ref]psnr=stats_file={stats}")
    argv = [FFMPEG, "-nostdin", "-v", "error", "-i", str(result)]
    for name in inputs:
        argv += ["-i", str(sources / name)]
    subprocess.run(argv + ["-filter_complex", ";".join(graph), "-f", "null", "-"], check=True)
    values = [float(field.split(":")[1]) for line in stats.read_text().splitlines()
              for field in line.split() if field.startswith("psnr_avg:")]
    encoded = [value for value in values if value < 99]  # bit-exact frames are "inf"
    return len(encoded), sum(encoded) / max(1, len(encoded)), min(encoded, default=float("inf"))


def _timed(out: Path, step: str, started: float) -> None:
    """Record how long a step of a Kalinsky pipeline took (the parent reads `timings.json`)."""
    record = out / "timings.json"
    timings = json.loads(record.read_text()) if record.exists() else {}
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({**timings, step: time.perf_counter() - started}))


def _kalinsky_index(sources: Path, out: Path):
    from kalinsky_adapters.ffprobe import FfprobeProber
    from kalinsky_adapters.memory import InMemoryRepo
    from kalinsky_core import services

    async def index() -> InMemoryRepo:
        repo = InMemoryRepo()
        started = time.perf_counter()
        await services.reindex(FfprobeProber(sources, FFPROBE), repo)
        _timed(out, "index", started)
        return repo

    return index()


def _proxies(sources: Path, out: Path):
    from kalinsky_adapters.proxies import PreviewProxies

    return PreviewProxies(sources, out.parent / "kalinsky-proxies" / "files", FFMPEG, FFPROBE, PREVIEW_HEIGHT)


def run_proxies(sources: Path, out: Path) -> None:
    """Kalinsky's preview proxies of both sources (made once per source, after indexing)."""

    async def main() -> None:
        repo = await _kalinsky_index(sources, out)
        proxies = _proxies(sources, out)
        started = time.perf_counter()
        await proxies.make_all(await repo.list_sources())
        _timed(out, "work", started)
        if any(proxies.ready(name) is None for name in OFFSETS):
            raise SystemExit("a proxy could not be made")

    asyncio.run(main())


def run_kalinsky(sources: Path, out: Path, preview: bool, proxies: bool = False, cached: str = "") -> None:
    """A Kalinsky render; `cached`: with the segment cache beside `out`, emptied first ("first"), as the first
    render left it ("again"), or after that with one clip moved ("moved")."""
    from kalinsky_adapters.ffmpeg import ffmpeg_rendering
    from kalinsky_adapters.segment_cache import SegmentCache
    from kalinsky_core import ClipInput, services

    cache_dir = out.parent / "segment-cache"
    if cached == "first":
        subprocess.run(["rm", "-rf", str(cache_dir)], check=True)
    cache = SegmentCache(cache_dir, 10**10, FFMPEG) if cached else None
    clips = MOVED if cached == "moved" else CLIPS

    async def main() -> None:
        repo = await _kalinsky_index(sources, out)
        rendering = ffmpeg_rendering(sources, out, FFMPEG, FFPROBE, preview_height=PREVIEW_HEIGHT,
                                     proxies=_proxies(sources, out) if proxies else None, cache=cache)
        assembly = await services.create_assembly(
            repo, rendering.rules, [ClipInput(name, start, end) for name, start, end in clips], preview=preview
        )
        print("clips:", " ".join(clip.video.value for clip in assembly.clips), file=sys.stderr)
        started = time.perf_counter()
        done = await services.render_assembly(assembly, repo, rendering)
        _timed(out, "work", started)
        if done.error:
            raise SystemExit(done.error)
        os.replace(out / done.id / "result.mp4", out / "result.mp4")

    asyncio.run(main())


PIPELINES = {
    "kalinsky-clean": lambda s, o: run_kalinsky(s, o, preview=False),
    "cache-first": lambda s, o: run_kalinsky(s, o, preview=False, cached="first"),
    "cache-again": lambda s, o: run_kalinsky(s, o, preview=False, cached="again"),
    "cache-one-moved": lambda s, o: run_kalinsky(s, o, preview=False, cached="moved"),
    "kalinsky-proxies": run_proxies,
    "kalinsky-preview": lambda s, o: run_kalinsky(s, o, preview=True, proxies=True),
    "preview-no-proxies": lambda s, o: run_kalinsky(s, o, preview=True),
    "naive-copy-concat": run_naive,
    "full-reencode": run_full,
}


def measure(name: str, sources: Path, out: Path) -> tuple[float, float, dict[str, float]]:
    """Wall seconds and peak RSS (MiB, largest process) of one pipeline run in a child process, and the times
    of its steps that a Kalinsky pipeline records (`index`; `work`: the render, or making the proxies)."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, __file__, "--run", name, "--sources", str(sources), "--out", str(out)])
    _pid, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{name} failed")
    steps = json.loads((out / "timings.json").read_text()) if (out / "timings.json").exists() else {}
    return elapsed, usage.ru_maxrss / 1024, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path(__file__).parent / "work")
    parser.add_argument("--skip-exactness", action="store_true", help="do not decode outputs to check frames")
    parser.add_argument("--psnr", action="store_true", help="measure the PSNR of the frames a clean render encodes")
    parser.add_argument("--only", nargs="+", choices=PIPELINES, default=list(PIPELINES),
                        help="run only these pipelines (in this order)")
    parser.add_argument("--run", choices=PIPELINES, help=argparse.SUPPRESS)
    parser.add_argument("--sources", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        PIPELINES[args.run](args.sources, args.out)
        return

    sources = args.work / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    for name, offset in OFFSETS.items():
        if not (sources / name).exists():
            print(f"generating {name} (once) ...", flush=True)
            started = time.perf_counter()
            make_source(sources / f".{name}", offset)
            os.replace(sources / f".{name}", sources / name)
            print(f"  {time.perf_counter() - started:.0f} s", flush=True)

    output_seconds = sum(end - start for _name, start, end in CLIPS)
    expected = expected_frames()
    results = {}
    for name in args.only:
        out = args.work / "out" / name
        subprocess.run(["rm", "-rf", str(out)], check=True)
        print(f"running {name} ...", flush=True)
        elapsed, peak, steps = measure(name, sources, out)
        if args.skip_exactness:
            exact = None
        elif name == "kalinsky-proxies":  # every frame of each source, in its proxy
            proxies = _proxies(sources, out)
            exact = all(decoded_frames(proxies.ready(source)) == list(range(offset, offset + SECONDS * FPS))
                        for source, offset in OFFSETS.items())
        else:
            exact = decoded_frames(out / "result.mp4") == (expected_frames(MOVED) if name == "cache-one-moved"
                                                          else expected)
        results[name] = (steps.get("work", elapsed), elapsed, steps.get("index"), peak, exact)

    cpu = platform.processor() or platform.machine()
    print(f"\nmachine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}; ffmpeg {FFMPEG}")
    print(f"workload: 2 x {SECONDS} s {WIDTH}x{HEIGHT} {FPS} fps H.264 8 Mb/s + AAC; {len(CLIPS)} clips, "
          f"{output_seconds:.0f} s of output ({len(expected)} frames)")
    print("wall s: the render (for Kalinsky, from submitting the indexed assembly to result.mp4); process s: the "
          "whole child process, with starting Python and, for Kalinsky, indexing the sources\n")
    print(f"{'pipeline':<20} {'wall s':>7} {'x realtime':>11} {'process s':>10} {'index s':>8} {'peak MiB':>9}  "
          "frames exact")
    for name, (wall, process_seconds, index, peak, exact) in results.items():
        verdict = "not checked" if exact is None else "yes" if exact else "NO"
        seconds = len(OFFSETS) * SECONDS if name == "kalinsky-proxies" else output_seconds  # of source, of output
        indexing = "-" if index is None else f"{index:.2f}"
        print(f"{name:<20} {wall:7.1f} {seconds / wall:11.1f} {process_seconds:10.1f} {indexing:>8} {peak:9.0f}  "
              f"{verdict}")
    wall = {name: row[0] for name, row in results.items()}
    print()
    if {"kalinsky-clean", "naive-copy-concat"} <= wall.keys():
        print(f"clean / naive:          {wall['kalinsky-clean'] / wall['naive-copy-concat']:5.2f}x  (target <= 2.5)")
    if {"kalinsky-clean", "full-reencode"} <= wall.keys():
        print(f"full re-encode / clean: {wall['full-reencode'] / wall['kalinsky-clean']:5.2f}x  (target >= 5)")
    if {"kalinsky-preview", "preview-no-proxies"} <= wall.keys():
        print(f"preview speed:          {output_seconds / wall['kalinsky-preview']:5.1f}x realtime from proxies, "
              f"{output_seconds / wall['preview-no-proxies']:.1f}x from the sources  (target >= 10)")
    if "kalinsky-proxies" in wall:
        per_minute = wall["kalinsky-proxies"] / (len(OFFSETS) * SECONDS / 60)
        print(f"proxies:                {per_minute:5.1f} s per minute of source, once")
    if {"kalinsky-clean", "naive-copy-concat"} <= wall.keys():
        size = (args.work / "out" / "kalinsky-clean" / "result.mp4").stat().st_size
        naive_size = (args.work / "out" / "naive-copy-concat" / "result.mp4").stat().st_size
        print(f"clean output size:      {size / naive_size:5.2f}x the naive stream copy's ({size / 1e6:.1f} MB, "
              f"{naive_size / 1e6:.1f} MB; target <= 1.15)")
    if args.psnr and "kalinsky-clean" in wall:
        clean_out = args.work / "out" / "kalinsky-clean"
        count, mean, lowest = psnr_of_encoded_frames(clean_out / "result.mp4", sources, clean_out)
        print(f"encoded frames:         {count} of {len(expected)}, PSNR to the source {mean:.1f} dB on average, "
              f"{lowest:.1f} dB at least (target >= 45)")
    if {"cache-first", "cache-again", "cache-one-moved"} <= wall.keys():
        first, again, moved = wall["cache-first"], wall["cache-again"], wall["cache-one-moved"]
        print(f"segment cache:          the same cut again {again / first:4.2f}x the first render (target <= 0.2), "
              f"one of {len(CLIPS)} clips moved {moved / first:4.2f}x (target <= 0.4)")


if __name__ == "__main__":
    main()
