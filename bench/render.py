"""Render benchmark: Kalinsky clean and preview against the naive seed pipeline, a full re-encode and smartcut.

    uv run python bench/render.py [--workload default|one-source|hevc] [--rounds N] [--work bench/work]
                                  [--skip-exactness] [--psnr] [--only NAME ...]

Workloads (their sources are generated once and cached in --work):

- default: two 60 s 1080x1920 30 fps H.264 sources at ~8 Mb/s with AAC audio, whose frames carry their own index in
  a band of stripes; 10 clips cut off keyframes (80 s of output), with Kalinsky clean, Kalinsky preview (from its
  preview proxies, which are made first, and from the sources), the segment cache, the naive seed pipeline and a
  full re-encode.
- one-source: the first of those sources, five segments in source order (38 s of output, cut off keyframes), with
  Kalinsky clean (the library, and the `kalinsky assemble --wait` command with its own data folder), the naive
  seed pipeline and smartcut (installed from PyPI into a venv in --work, run by its own command line).
- hevc: two 30 s 1080x1920 30 fps HEVC Main 10 sources (libx265, HLG tags, closed 2 s GOPs, ~15 Mb/s), 6 clips
  cut off keyframes, with Kalinsky clean, the naive seed pipeline and a full re-encode to HEVC Main 10.

Every row runs in its own process, `--rounds` times (rows interleaved), and the best round (by wall time) counts;
printed: wall time, CPU time (user + system of the row's whole process tree) and wall / CPU, peak memory (largest
process), the ratios and whether each output holds exactly the expected frames.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from kalinsky_adapters.binaries import find_executable

FFMPEG = find_executable("ffmpeg")
FFPROBE = find_executable("ffprobe")
WIDTH, HEIGHT, FPS, BITS = 1080, 1920, 30, 12
BAND_TOP = HEIGHT * 3 // 4  # stripes fill the bottom quarter, below any overlay
PREVIEW_HEIGHT = 720
SMARTCUT = "smartcut==1.7"  # the version measured (pip install into bench/work/smartcut-venv)

H264 = ["-c:v", "libx264", "-preset", "veryfast", "-b:v", "8M", "-maxrate", "8M", "-bufsize", "16M",
        "-g", str(2 * FPS), "-keyint_min", str(2 * FPS), "-sc_threshold", "0", "-pix_fmt", "yuv420p"]
#: What a phone records: HEVC Main 10, HLG, closed GOPs of 2 s, ~15 Mb/s.
HEVC_TAGS = ["-pix_fmt", "yuv420p10le", "-profile:v", "main10", "-tag:v", "hvc1",
             "-color_primaries", "bt2020", "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc"]
HEVC = ["-c:v", "libx265", "-preset", "ultrafast", "-b:v", "15M", "-maxrate", "15M", "-bufsize", "30M", *HEVC_TAGS,
        "-x265-params", f"keyint={2 * FPS}:min-keyint={2 * FPS}:open-gop=0:scenecut=0:log-level=error"]


@dataclass(frozen=True)
class Workload:
    folder: str  # of the sources, in --work
    offsets: dict[str, int]  # source name: the index its first frame shows
    seconds: int  # of each source
    encoder: list[str]  # how the sources are encoded
    describe: str
    clips: list[tuple[str, float, float]]  # (source, start, end), none starting or ending on a keyframe
    pipelines: list[str]
    #: The folder of another workload whose sources of the same names these are (linked, not generated again).
    shares: str | None = None
    #: The full re-encode's video encoder.
    full_encoder: list[str] = field(default_factory=lambda: ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20"])


CLIPS = [
    ("a.mp4", 1.3, 9.3), ("b.mp4", 5.1, 14.1), ("a.mp4", 20.45, 27.45), ("b.mp4", 30.7, 38.7),
    ("a.mp4", 40.2, 48.2), ("b.mp4", 2.9, 9.9), ("a.mp4", 50.5, 59.5), ("b.mp4", 45.25, 53.25),
    ("a.mp4", 11.1, 18.1), ("b.mp4", 20.9, 28.9),
]
#: The same cut with one clip moved: its start half a second later (what an editor does between two renders).
MOVED = [*CLIPS[:3], ("b.mp4", 31.2, 38.7), *CLIPS[4:]]

WORKLOADS = {
    "default": Workload(
        "sources", {"a.mp4": 0, "b.mp4": 2000}, 60, H264, "2 x 60 s 1080x1920 30 fps H.264 8 Mb/s + AAC", CLIPS,
        ["kalinsky-clean", "cache-first", "cache-again", "cache-one-moved", "kalinsky-proxies", "kalinsky-preview",
         "preview-no-proxies", "naive-copy-concat", "full-reencode"]),
    "one-source": Workload(
        "sources-one", {"a.mp4": 0}, 60, H264, "1 x 60 s 1080x1920 30 fps H.264 8 Mb/s + AAC (the default's a.mp4)",
        [("a.mp4", 1.3, 9.3), ("a.mp4", 11.1, 18.1), ("a.mp4", 20.45, 27.45), ("a.mp4", 30.7, 38.7),
         ("a.mp4", 40.2, 48.2)],
        ["kalinsky-clean", "kalinsky-cli", "naive-copy-concat", "smartcut"], shares="sources"),
    "hevc": Workload(
        "sources-hevc", {"a.mp4": 0, "b.mp4": 2000}, 30, HEVC,
        "2 x 30 s 1080x1920 30 fps HEVC Main 10 HLG 15 Mb/s + AAC",
        [("a.mp4", 1.3, 5.3), ("b.mp4", 5.1, 10.1), ("a.mp4", 8.45, 12.45), ("b.mp4", 14.7, 19.7),
         ("a.mp4", 20.2, 24.2), ("b.mp4", 24.9, 28.9)],
        ["kalinsky-clean", "naive-copy-concat", "full-reencode"],
        ["-c:v", "libx265", "-preset", "veryfast", "-crf", "20", *HEVC_TAGS, "-x265-params", "log-level=error"]),
}


def make_source(path: Path, offset: int, work: Workload) -> None:
    """Moving noisy pictures (so the encoder has real work) with the frame index coded in the bottom band."""
    stripe = WIDTH // BITS
    boxes = ",".join(
        f"drawbox=x={bit * stripe}:y={BAND_TOP}:w={stripe}:h={HEIGHT - BAND_TOP}:color=white:t=fill"
        f":enable='mod(floor((n+{offset})/{2 ** bit}),2)'"
        for bit in range(BITS)
    )
    graph = (
        f"testsrc2=s={WIDTH}x{HEIGHT}:r={FPS}:d={work.seconds},noise=alls=12:allf=t,"
        f"drawbox=x=0:y={BAND_TOP}:w={WIDTH}:h={HEIGHT - BAND_TOP}:color=black:t=fill,{boxes}"
    )
    subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", graph,
         "-f", "lavfi", "-i", f"sine=frequency={330 + offset % 200}:sample_rate=48000:duration={work.seconds}",
         *work.encoder, "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(path)],
        check=True,
    )


def expected_frames(work: Workload, clips: list[tuple[str, float, float]] | None = None) -> list[int]:
    frames = []
    for name, start, end in work.clips if clips is None else clips:
        first = -(-Fraction(str(start)) * FPS // 1)
        stop = -(-Fraction(str(end)) * FPS // 1)
        frames += [work.offsets[name] + k for k in range(int(first), int(stop))]
    return frames


def decoded_frames(path: Path) -> list[int]:
    """The source frame index each output frame shows (read from its band as 8-bit gray, at any bit depth)."""
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


def frame_errors(got: list[int], expected: list[int]) -> tuple[int, int]:
    """(extra, missing): the output frames that are not in the expected order (wrong, repeated or from outside the
    clips) and the expected frames the output lacks, over the longest run of frames both share in order."""
    matcher = difflib.SequenceMatcher(None, got, expected, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    return len(got) - matched, len(expected) - matched


# -- the pipelines, each run in a child process ----------------------------------------------------------

def run_naive(work: Workload, sources: Path, out: Path) -> None:
    """The seed's pipeline as written: -ss/-to with video stream copy per clip, AAC per clip, concat demuxer."""
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for pos, (name, start, end) in enumerate(work.clips, 1):
        segment = out / f"{pos:03d}.mp4"
        subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", "-ss", str(start), "-to", str(end),
                        "-i", str(sources / name), "-c:v", "copy", "-c:a", "aac", "-b:a", "128k",
                        "-af", "afade=t=in:d=0.05", str(segment)], check=True)
        lines.append(f"file '{segment}'")
    (out / "list.txt").write_text("\n".join(lines) + "\n")
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i",
                    str(out / "list.txt"), "-c", "copy", str(out / "result.mp4")], check=True)


def run_full(work: Workload, sources: Path, out: Path) -> None:
    """One ffmpeg: each source split once per clip, trim + concat filters, the workload's full encoder (libx264
    veryfast crf 20; libx265 veryfast crf 20 Main 10 for HEVC)."""
    out.mkdir(parents=True, exist_ok=True)
    inputs = sorted(work.offsets)
    uses = {name: sum(1 for clip in work.clips if clip[0] == name) for name in inputs}
    graph = []
    for i, name in enumerate(inputs):
        graph.append(f"[{i}:v]split={uses[name]}" + "".join(f"[s{i}v{u}]" for u in range(uses[name])))
        graph.append(f"[{i}:a]asplit={uses[name]}" + "".join(f"[s{i}a{u}]" for u in range(uses[name])))
    taken = dict.fromkeys(inputs, 0)
    for pos, (name, start, end) in enumerate(work.clips):
        i, u = inputs.index(name), taken[name]
        taken[name] += 1
        graph.append(f"[s{i}v{u}]trim=start={start}:end={end},setpts=PTS-STARTPTS[v{pos}]")
        graph.append(f"[s{i}a{u}]atrim=start={start}:end={end},asetpts=PTS-STARTPTS[a{pos}]")
    count = len(work.clips)
    joined = "".join(f"[v{pos}][a{pos}]" for pos in range(count)) + f"concat=n={count}:v=1:a=1[v][a]"
    argv = [FFMPEG, "-nostdin", "-v", "error", "-y"]
    for name in inputs:
        argv += ["-i", str(sources / name)]
    subprocess.run(argv + ["-filter_complex", ";".join([*graph, joined]), "-map", "[v]", "-map", "[a]",
                           *work.full_encoder, "-c:a", "aac", "-b:a", "128k", str(out / "result.mp4")], check=True)


def smartcut_venv(work_dir: Path) -> Path:
    """The smartcut command, installed (once) from PyPI into its own venv in the benchmark's work folder."""
    venv = work_dir / "smartcut-venv"
    command = venv / "bin" / "smartcut"
    if not command.exists():
        print(f"installing {SMARTCUT} into {venv} (once) ...", flush=True)
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", SMARTCUT], check=True)
    return command


def run_smartcut(work: Workload, sources: Path, out: Path) -> None:
    """smartcut's command line: one source, every clip a --keep segment (in source order)."""
    (name,) = {clip[0] for clip in work.clips}
    out.mkdir(parents=True, exist_ok=True)
    keep = ",".join(f"{start},{end}" for _name, start, end in work.clips)
    command = sources.parent / "smartcut-venv" / "bin" / "smartcut"
    done = subprocess.run([str(command), str(sources / name), str(out / "result.mp4"), "--keep", keep],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"smartcut failed: {done.stderr.strip()}")


def run_cli(work: Workload, sources: Path, out: Path) -> None:
    """`kalinsky reindex`, then `kalinsky assemble SPEC --clean --wait`, with their own, empty data and output
    folders: both whole commands, with starting Python, creating the database and indexing the sources (no preview
    proxies, nothing in the segment cache)."""
    out.mkdir(parents=True, exist_ok=True)
    spec = {"name": "bench", "preview": False,
            "clips": [{"source": name, "start": start, "end": end} for name, start, end in work.clips]}
    (out / "spec.json").write_text(json.dumps(spec))
    env = {**os.environ, "KALINSKY_SOURCES_DIR": str(sources), "KALINSKY_DATA_DIR": str(out / "data"),
           "KALINSKY_OUTPUT_DIR": str(out / "output"), "KALINSKY_PREVIEW_PROXIES": "false"}
    kalinsky = str(Path(sys.executable).parent / "kalinsky")
    for command in (["reindex"], ["assemble", str(out / "spec.json"), "--clean", "--wait"]):
        done = subprocess.run([kalinsky, *command], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"kalinsky {command[0]} failed: {done.stderr.strip()}")
    result = Path(done.stdout.split()[-1])
    os.replace(result if result.is_absolute() else Path.cwd() / result, out / "result.mp4")


def psnr_of_encoded_frames(work: Workload, result: Path, sources: Path, out: Path) -> tuple[int, float, float]:
    """How close the frames Kalinsky encoded again are to the source's decoded ones: (count, mean dB, min dB) over
    the output frames that are not bit-exact copies (a copied frame compares as infinite PSNR)."""
    inputs = sorted(work.offsets)
    uses = {name: sum(1 for clip in work.clips if clip[0] == name) for name in inputs}
    graph = [f"[{i + 1}:v]split={uses[name]}" + "".join(f"[s{i}v{u}]" for u in range(uses[name]))
             for i, name in enumerate(inputs)]
    taken = dict.fromkeys(inputs, 0)
    for pos, (name, start, end) in enumerate(work.clips):
        i, u = inputs.index(name), taken[name]
        taken[name] += 1
        first, stop = (int(-(-Fraction(str(t)) * FPS // 1)) for t in (start, end))
        graph.append(f"[s{i}v{u}]trim=start_frame={first}:end_frame={stop},setpts=PTS-STARTPTS[r{pos}]")
    graph.append("".join(f"[r{pos}]" for pos in range(len(work.clips))) + f"concat=n={len(work.clips)}:v=1:a=0[ref]")
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
    import kalinsky_adapters.ffmpeg  # noqa: F401  (imported before proxies, which it imports: not the other way)
    from kalinsky_adapters.proxies import PreviewProxies

    return PreviewProxies(sources, out.parent / "kalinsky-proxies" / "files", FFMPEG, FFPROBE, PREVIEW_HEIGHT)


def run_proxies(work: Workload, sources: Path, out: Path) -> None:
    """Kalinsky's preview proxies of both sources (made once per source, after indexing)."""

    async def main() -> None:
        repo = await _kalinsky_index(sources, out)
        proxies = _proxies(sources, out)
        started = time.perf_counter()
        await proxies.make_all(await repo.list_sources())
        _timed(out, "work", started)
        if any(proxies.ready(name) is None for name in work.offsets):
            raise SystemExit("a proxy could not be made")

    asyncio.run(main())


def run_kalinsky(work: Workload, sources: Path, out: Path, preview: bool, proxies: bool = False,
                 cached: str = "") -> None:
    """A Kalinsky render; `cached`: with the segment cache beside `out`, emptied first ("first"), as the first
    render left it ("again"), or after that with one clip moved ("moved")."""
    from kalinsky_adapters.ffmpeg import ffmpeg_rendering
    from kalinsky_adapters.segment_cache import SegmentCache
    from kalinsky_core import ClipInput, services

    cache_dir = out.parent / "segment-cache"
    if cached == "first":
        subprocess.run(["rm", "-rf", str(cache_dir)], check=True)
    cache = SegmentCache(cache_dir, 10**10, FFMPEG) if cached else None
    clips = MOVED if cached == "moved" else work.clips

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


Pipeline = Callable[[Workload, Path, Path], None]
PIPELINES: dict[str, Pipeline] = {
    "kalinsky-clean": lambda w, s, o: run_kalinsky(w, s, o, preview=False),
    "kalinsky-cli": run_cli,
    "cache-first": lambda w, s, o: run_kalinsky(w, s, o, preview=False, cached="first"),
    "cache-again": lambda w, s, o: run_kalinsky(w, s, o, preview=False, cached="again"),
    "cache-one-moved": lambda w, s, o: run_kalinsky(w, s, o, preview=False, cached="moved"),
    "kalinsky-proxies": run_proxies,
    "kalinsky-preview": lambda w, s, o: run_kalinsky(w, s, o, preview=True, proxies=True),
    "preview-no-proxies": lambda w, s, o: run_kalinsky(w, s, o, preview=True),
    "naive-copy-concat": run_naive,
    "smartcut": run_smartcut,
    "full-reencode": run_full,
}


@dataclass
class Row:
    wall: float  # the render (for Kalinsky's library rows, from submitting the indexed assembly to result.mp4)
    process: float  # the child process, start to exit
    cpu: float  # user + system seconds of the child and every process under it
    index: float | None
    peak: float  # MiB, the largest process
    exact: bool | None = None
    errors: tuple[int, int] = (0, 0)  # (extra, missing) frames, see frame_errors


def measure(workload: str, name: str, sources: Path, out: Path) -> Row:
    """One pipeline run in a child process: its wall and CPU time (the child's rusage from wait4 covers every
    process under it that was waited for, i.e. every ffmpeg), peak RSS, and the times of the steps a Kalinsky
    pipeline records (`index`; `work`: the render, or making the proxies)."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, __file__, "--workload", workload, "--run", name,
                              "--sources", str(sources), "--out", str(out)])
    _pid, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{name} failed")
    steps = json.loads((out / "timings.json").read_text()) if (out / "timings.json").exists() else {}
    return Row(steps.get("work", elapsed), elapsed, usage.ru_utime + usage.ru_stime, steps.get("index"),
               usage.ru_maxrss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path(__file__).parent / "work")
    parser.add_argument("--workload", choices=WORKLOADS, default="default", help="the sources and clips (see above)")
    parser.add_argument("--rounds", type=int, default=1, help="run every row this many times; the best round counts")
    parser.add_argument("--skip-exactness", action="store_true", help="do not decode outputs to check frames")
    parser.add_argument("--psnr", action="store_true", help="measure the PSNR of the frames a clean render encodes")
    parser.add_argument("--only", nargs="+", choices=PIPELINES, help="run only these pipelines (in this order)")
    parser.add_argument("--run", choices=PIPELINES, help=argparse.SUPPRESS)
    parser.add_argument("--sources", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = WORKLOADS[args.workload]
    if args.run:
        PIPELINES[args.run](work, args.sources, args.out)
        return
    names = args.only or work.pipelines
    if unknown := [name for name in names if name not in work.pipelines]:
        parser.error(f"not a row of the {args.workload} workload: {', '.join(unknown)} "
                     f"(its rows: {', '.join(work.pipelines)})")

    sources = args.work / work.folder
    sources.mkdir(parents=True, exist_ok=True)
    for name, offset in work.offsets.items():
        if not (sources / name).exists() and work.shares and (args.work / work.shares / name).exists():
            os.link(args.work / work.shares / name, sources / name)
        if not (sources / name).exists():
            print(f"generating {work.folder}/{name} (once) ...", flush=True)
            started = time.perf_counter()
            make_source(sources / f".{name}", offset, work)
            os.replace(sources / f".{name}", sources / name)
            print(f"  {time.perf_counter() - started:.0f} s", flush=True)
    smartcut_version = ""
    if "smartcut" in names:
        command = smartcut_venv(sources.parent)
        smartcut_version = subprocess.run([str(command), "--version"], capture_output=True, text=True,
                                          check=True).stdout.strip()

    output_seconds = sum(end - start for _name, start, end in work.clips)
    expected = expected_frames(work)
    results: dict[str, Row] = {}
    size_of: dict[str, int] = {}
    load_before = os.getloadavg()
    for round_ in range(args.rounds):
        for name in names:
            out = args.work / "out" / args.workload / name
            subprocess.run(["rm", "-rf", str(out)], check=True)
            print(f"running {name} (round {round_ + 1} of {args.rounds}) ...", flush=True)
            row = measure(args.workload, name, sources, out)
            if round_ == 0 and not args.skip_exactness:  # the outputs are the same every round
                if name == "kalinsky-proxies":  # every frame of each source, in its proxy
                    proxies = _proxies(sources, out)
                    row.exact = all(
                        decoded_frames(proxies.ready(source)) == list(range(offset, offset + work.seconds * FPS))
                        for source, offset in work.offsets.items())
                else:
                    got = decoded_frames(out / "result.mp4")
                    wanted = expected_frames(work, MOVED) if name == "cache-one-moved" else expected
                    row.exact, row.errors = got == wanted, frame_errors(got, wanted)
            if name in results:
                row.exact, row.errors = results[name].exact, results[name].errors
            if name not in results or row.wall < results[name].wall:
                results[name] = row
            if (out / "result.mp4").exists():
                size_of[name] = (out / "result.mp4").stat().st_size

    cpu = platform.processor() or platform.machine()
    load = os.getloadavg()
    print(f"\nmachine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}; ffmpeg {FFMPEG}")
    print(f"load average (1, 5, 15 min): {' '.join(f'{v:.2f}' for v in load_before)} before, "
          f"{' '.join(f'{v:.2f}' for v in load)} after; best of {args.rounds} round(s)")
    print(f"workload {args.workload}: {work.describe}; {len(work.clips)} clips, {output_seconds:.0f} s of output "
          f"({len(expected)} frames)" + (f"; {smartcut_version}" if smartcut_version else ""))
    print("wall s: the render (for Kalinsky's library rows, from submitting the indexed assembly to result.mp4); "
          "process s: the whole child process, with starting Python and, for Kalinsky, indexing the sources; "
          "cpu s: user + system of that process and all under it; wall/cpu: process s / cpu s (0.5: both cores "
          "busy throughout)\n")
    print(f"{'pipeline':<20} {'wall s':>7} {'x realtime':>11} {'process s':>10} {'cpu s':>7} {'wall/cpu':>9} "
          f"{'index s':>8} {'peak MiB':>9}  frames exact")
    for name, row in results.items():
        verdict = ("not checked" if row.exact is None else "yes" if row.exact
                   else f"NO ({row.errors[0]} extra or wrong, {row.errors[1]} missing)")
        seconds = len(work.offsets) * work.seconds if name == "kalinsky-proxies" else output_seconds
        indexing = "-" if row.index is None else f"{row.index:.2f}"
        print(f"{name:<20} {row.wall:7.1f} {seconds / row.wall:11.1f} {row.process:10.1f} {row.cpu:7.1f} "
              f"{row.process / row.cpu:9.2f} {indexing:>8} {row.peak:9.0f}  {verdict}")
    wall = {name: row.wall for name, row in results.items()}
    print()
    if {"kalinsky-clean", "naive-copy-concat"} <= wall.keys():
        print(f"clean / naive:          {wall['kalinsky-clean'] / wall['naive-copy-concat']:5.2f}x  (target <= 2.5)")
    if {"kalinsky-cli", "naive-copy-concat"} <= wall.keys():
        print(f"CLI / naive:            {wall['kalinsky-cli'] / wall['naive-copy-concat']:5.2f}x  (the whole "
              "command, with Python, the database and indexing)")
    if {"kalinsky-clean", "full-reencode"} <= wall.keys():
        print(f"full re-encode / clean: {wall['full-reencode'] / wall['kalinsky-clean']:5.2f}x  (target >= 5)")
    if {"kalinsky-clean", "smartcut"} <= wall.keys():
        print(f"smartcut / clean:       {wall['smartcut'] / wall['kalinsky-clean']:5.2f}x  (target >= 6)")
    if "kalinsky-clean" in wall:
        print(f"clean wall / cpu:       {results['kalinsky-clean'].process / results['kalinsky-clean'].cpu:5.2f}   "
              "(target <= 0.6 on 2 cores)")
    if {"kalinsky-preview", "preview-no-proxies"} <= wall.keys():
        print(f"preview speed:          {output_seconds / wall['kalinsky-preview']:5.1f}x realtime from proxies "
              f"(target >= 30), {output_seconds / wall['preview-no-proxies']:.1f}x from the sources (target >= 15)")
    if "kalinsky-proxies" in wall:
        per_minute = wall["kalinsky-proxies"] / (len(work.offsets) * work.seconds / 60)
        print(f"proxies:                {per_minute:5.1f} s per minute of source, once")
    if "naive-copy-concat" in size_of:
        naive_size = size_of["naive-copy-concat"]
        for name in ("kalinsky-clean", "kalinsky-cli", "smartcut"):
            if name in size_of:
                size = size_of[name]
                print(f"{name + ' output size:':<23} {size / naive_size:5.2f}x the naive stream copy's "
                      f"({size / 1e6:.1f} MB, {naive_size / 1e6:.1f} MB; target <= 1.15)")
    if args.psnr and "kalinsky-clean" in wall:
        clean_out = args.work / "out" / args.workload / "kalinsky-clean"
        count, mean, lowest = psnr_of_encoded_frames(work, clean_out / "result.mp4", sources, clean_out)
        print(f"encoded frames:         {count} of {len(expected)}, PSNR to the source {mean:.1f} dB on average, "
              f"{lowest:.1f} dB at least (target >= 45)")
    if {"cache-first", "cache-again", "cache-one-moved"} <= wall.keys():
        first, again, moved = wall["cache-first"], wall["cache-again"], wall["cache-one-moved"]
        print(f"segment cache:          the same cut again {again / first:4.2f}x the first render (target <= 0.2), "
              f"one of {len(work.clips)} clips moved {moved / first:4.2f}x (target <= 0.4)")


if __name__ == "__main__":
    main()
