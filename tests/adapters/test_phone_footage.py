"""Phone footage in renders: portrait video stored sideways with a display rotation, HEVC, 10-bit HLG.

Sources are 360x640 as displayed and code their frame numbers in stripes (see tests/media.py); `frame_indices`
decodes the output turned upright, as players show it, so reading the stripes also proves the picture is upright.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import msgspec
import pytest
from media import FFMPEG, FFPROBE, decode_errors, frame_indices, make_video, parameter_sets, probe, stream
from renders import coded_frames, render_clips

from kalinsky_adapters import mp4
from kalinsky_adapters.ffmpeg import CodecRules
from kalinsky_adapters.ffprobe import FfprobeProber
from kalinsky_adapters.memory import InMemoryRepo
from kalinsky_core import services
from kalinsky_core.model import Assembly, ClipInput
from kalinsky_web import schemas

RULES = CodecRules()
SIZE = "360x640"  # as displayed
DURATION = 3.0
#: name: offset coded into its frames
OFFSETS = {"phone.mp4": 0, "upright.mp4": 200, "turned.mp4": 400, "small.mp4": 600, "wide.mp4": 800, "fields.mp4": 100,
           "hlg.mov": 0, "sdr.mp4": 200, "hevc8.mp4": 400, "iphone.mov": 600, "pq.mov": 800, "hevc8b.mp4": 100,
           "opengop.mov": 300, "deep.mp4": 500, "hev1.mp4": 700,
           "hlg.mkv": 900}
#: how ffmpeg's autorotate turns a picture stored for a display rotation upright (ffprobe reports 270 as -90)
UPRIGHT_TO_STORED = {270: "transpose=cclock"}


def make_turned(path: Path, rotation: int, offset: int) -> Path:
    """A frame-coded clip stored turned for `rotation` and tagged with it: shown upright."""
    upright = make_video(path.with_name(f".upright-{path.name}"), duration=DURATION, size=SIZE, offset=offset)
    stored = path.with_name(f".stored-{path.name}")
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", "-i", str(upright), "-vf", UPRIGHT_TO_STORED[rotation],
                    "-c:v", "libx264", "-g", "30", "-c:a", "copy", str(stored)], check=True)
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", "-display_rotation", str(rotation), "-i", str(stored),
                    "-c", "copy", str(path)], check=True)
    upright.unlink()
    stored.unlink()
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("phone-footage")
    # H.264 stored 640x360 with a 90° display matrix, B-frames, a keyframe every second
    make_video(folder / "phone.mp4", duration=DURATION, size=SIZE, rotated=True, extra=("-sc_threshold", "0"))
    make_video(folder / "upright.mp4", duration=DURATION, size=SIZE, offset=OFFSETS["upright.mp4"],
               extra=("-sc_threshold", "0"))
    make_turned(folder / "turned.mp4", 270, OFFSETS["turned.mp4"])
    make_video(folder / "small.mp4", duration=DURATION, size="180x320", rotated=True, offset=OFFSETS["small.mp4"])
    make_video(folder / "wide.mp4", duration=DURATION, size="320x240", offset=OFFSETS["wide.mp4"])
    # interlaced H.264, top field first, as broadcast cameras record it
    make_video(folder / "fields.mp4", duration=DURATION, size=SIZE, offset=OFFSETS["fields.mp4"],
               extra=("-flags", "+ildct+ilme", "-x264-params", "tff=1"))
    return folder


def expected(clips: Sequence[ClipInput]) -> list[int]:
    return coded_frames(clips, OFFSETS, DURATION)


async def render(
    library: Path, out: Path, clips: Sequence[ClipInput], preview: bool = False
) -> tuple[Assembly, Path]:
    return await render_clips(library, out, clips, preview=preview)


def rotation(video: dict) -> int:
    return next((int(d["rotation"]) for d in video.get("side_data_list", ()) if "rotation" in d), 0)


def assert_in_sync(path: Path, fps: float = 30) -> None:
    report = probe(path)
    video, audio = stream(report, "video"), stream(report, "audio")
    assert audio is not None
    assert abs(float(audio["duration"]) - float(video["duration"])) <= 1 / fps


async def test_rotated_h264_is_copied_and_the_output_keeps_its_rotation(library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("phone.mp4", 0.5, 2.5), ClipInput("phone.mp4", 1.0, 2.0), ClipInput("phone.mp4", 2.1, 2.4)]
    done, result = await render(library, tmp_path, clips)
    assert [clip.video for clip in done.clips] == ["smart", "copy", "reencode"]
    video = stream(probe(result), "video")
    assert (video["width"], video["height"], rotation(video)) == (640, 360, 90)  # stored sideways, shown upright
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""
    assert_in_sync(result)


async def test_clips_rotated_unlike_the_first_are_reencoded_into_its_orientation(
    library: Path, tmp_path: Path
) -> None:
    clips = [ClipInput("phone.mp4", 0.5, 2.5), ClipInput("upright.mp4", 0.5, 1.5), ClipInput("turned.mp4", 1.0, 2.0),
             ClipInput("phone.mp4", 1.0, 2.0)]
    done, result = await render(library, tmp_path, clips)
    assert [clip.video for clip in done.clips] == ["smart", "reencode", "reencode", "copy"]
    video = stream(probe(result), "video")
    assert (video["width"], video["height"], rotation(video)) == (640, 360, 90)
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""


async def test_a_rotated_clip_after_an_upright_first_clip_is_turned_upright(library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("upright.mp4", 0.0, 2.0), ClipInput("phone.mp4", 0.5, 1.5), ClipInput("turned.mp4", 1.0, 2.0)]
    done, result = await render(library, tmp_path, clips)
    assert [clip.video for clip in done.clips] == ["copy", "reencode", "reencode"]
    video = stream(probe(result), "video")
    assert (video["width"], video["height"], rotation(video)) == (360, 640, 0)
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""
    assert_in_sync(result)


async def test_clips_of_other_sizes_are_scaled_into_a_rotated_output(library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("phone.mp4", 1.0, 2.0), ClipInput("small.mp4", 0.5, 1.5), ClipInput("wide.mp4", 0.5, 1.5)]
    done, result = await render(library, tmp_path, clips)
    assert [clip.video for clip in done.clips] == ["copy", "reencode", "reencode"]
    video = stream(probe(result), "video")
    assert (video["width"], video["height"], rotation(video)) == (640, 360, 90)
    # the wide clip is letterboxed into the portrait picture: its stripes are read inside the picture's middle
    frames = frame_indices(result)
    assert frames[:60] == expected(clips[:2])
    assert decode_errors(result) == ""
    middle = subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-ss", "2.5", "-i", str(result), "-frames:v", "1",
                             "-vf", "crop=iw:2:0:ih/2", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                            check=True, capture_output=True).stdout
    top = subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-ss", "2.5", "-i", str(result), "-frames:v", "1",
                          "-vf", "crop=iw:2:0:8", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         check=True, capture_output=True).stdout
    assert len(middle) == len(top) == 2 * 360  # decoded upright: 360 wide
    assert max(top) < 40 and max(middle) > 200  # black bars above and below, the picture in between


async def test_interlaced_h264_is_encoded_whole(library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("fields.mp4", 0.5, 2.5), ClipInput("upright.mp4", 0.5, 2.5)]
    done, result = await render(library, tmp_path, clips)
    # its fields could not sit next to the progressive frames the encoder writes at the cuts
    assert [clip.video for clip in done.clips] == ["reencode", "reencode"]
    assert stream(probe(result), "video")["field_order"] == "progressive"
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""


# -- HEVC, 10 bits, HLG -------------------------------------------------------------------------------------------

#: A mid-tone patch of known colour (a skin tone) across the top of the picture; the stripes are read below it.
PATCH = "drawbox=x=0:y=0:w=iw:h=ih/4:color=0xB4783C:t=fill"
TO_HLG = "zscale=tin=bt709:min=bt709:pin=bt709:t=arib-std-b67:m=bt2020nc:p=bt2020:npl=203,format=yuv420p10le"
TO_PQ = "zscale=tin=bt709:min=bt709:pin=bt709:t=smpte2084:m=bt2020nc:p=bt2020:npl=203,format=yuv420p10le"
#: a P3 D65 mastering display of 1000 cd/m², as x265 and SMPTE ST 2086 write it
MASTERING = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50)"
PQ_TAGS = ("-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc")
HLG_TAGS = ("-color_primaries", "bt2020", "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc")
BT709_TAGS = ("-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709")
X265 = ("-preset", "ultrafast", "-tag:v", "hvc1")
#: phones write closed GOPs: every keyframe an IDR, nothing after it refers to frames before it
CLOSED = "log-level=error:keyint=30:open-gop=0"


@pytest.fixture(scope="module")
def hdr_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hdr-footage")
    # an iPhone-like HEVC Main 10 HLG clip, `hvc1`, B-frames
    make_video(folder / "hlg.mov", duration=DURATION, size=SIZE, codec="libx265",
               extra=("-vf", f"{PATCH},{TO_HLG}", "-pix_fmt", "yuv420p10le", *HLG_TAGS, *X265,
                      "-x265-params", CLOSED))
    # an Android-like H.264 BT.709 clip
    make_video(folder / "sdr.mp4", duration=DURATION, size=SIZE, offset=OFFSETS["sdr.mp4"],
               extra=("-vf", PATCH, *BT709_TAGS, "-sc_threshold", "0"))
    # HEVC 8-bit SDR without B-frames (x265's own open GOPs: keyframes after the first are CRA pictures)
    make_video(folder / "hevc8.mp4", duration=DURATION, size=SIZE, codec="libx265", offset=OFFSETS["hevc8.mp4"],
               extra=(*X265, "-x265-params", "log-level=error:keyint=30:bframes=0"))
    # HEVC 8-bit SDR with B-frames
    make_video(folder / "hevc8b.mp4", duration=DURATION, size=SIZE, codec="libx265", offset=OFFSETS["hevc8b.mp4"],
               extra=(*X265, "-x265-params", CLOSED))
    # `hev1`, its parameter sets repeated in-band at every keyframe, as some cameras write them
    make_video(folder / "hev1.mp4", duration=DURATION, size=SIZE, codec="libx265", offset=OFFSETS["hev1.mp4"],
               extra=("-preset", "ultrafast", "-tag:v", "hev1", "-x265-params", f"{CLOSED}:repeat-headers=1"))
    # open GOPs with B-frames: frames after each keyframe but the first are shown before it, and refer to the GOP
    # before (CRA with RASL pictures)
    make_video(folder / "opengop.mov", duration=DURATION, size=SIZE, codec="libx265", offset=OFFSETS["opengop.mov"],
               extra=(*X265, "-x265-params", "log-level=error:keyint=30:open-gop=1"))
    # HEVC Main 10 HLG in Matroska, as some cameras and screen recorders store it
    make_video(folder / "hlg.mkv", duration=DURATION, size=SIZE, codec="libx265", offset=OFFSETS["hlg.mkv"],
               extra=("-vf", f"{PATCH},{TO_HLG}", "-pix_fmt", "yuv420p10le", *HLG_TAGS, "-preset", "ultrafast",
                      "-x265-params", CLOSED))
    # 10-bit H.264 (High 10), BT.709
    make_video(folder / "deep.mp4", duration=DURATION, size=SIZE, offset=OFFSETS["deep.mp4"],
               extra=("-vf", PATCH, "-pix_fmt", "yuv420p10le", *BT709_TAGS))
    # portrait HEVC Main 10 HLG stored sideways with a 90° display matrix, as iPhones record it
    make_video(folder / "iphone.mov", duration=DURATION, size=SIZE, codec="libx265", rotated=True,
               offset=OFFSETS["iphone.mov"], extra=("-vf", TO_HLG, "-pix_fmt", "yuv420p10le", *HLG_TAGS, *X265,
                                                    "-x265-params", CLOSED))
    # HEVC Main 10 PQ (HDR10-like)
    make_video(folder / "pq.mov", duration=DURATION, size=SIZE, codec="libx265", offset=OFFSETS["pq.mov"],
               extra=("-vf", f"{PATCH},{TO_PQ}", "-pix_fmt", "yuv420p10le", *PQ_TAGS, *X265,
                      "-x265-params", f"{CLOSED}:hdr10=1:master-display={MASTERING}:max-cll=1000,400"))
    return folder


def colour_tags(video: dict) -> tuple[str, str, str]:
    return video.get("color_primaries", ""), video.get("color_transfer", ""), video.get("color_space", "")


def patch_rgb(path: Path, seconds: float) -> tuple[float, float, float]:
    """The mean BT.709 RGB colour of the patch in the frame shown at `seconds`, converted from the file's own colour
    space (BT.709 where it says nothing); read below a preview's burnt-in timecode."""
    video = stream(probe(path), "video")
    tag = {key: value for key, value in video.items() if key.startswith("color_") and value != "unknown"}
    given = (f"tin={tag.get('color_transfer', 'bt709')}:min={tag.get('color_space', 'bt709')}"
             f":pin={tag.get('color_primaries', 'bt709')}:rin={tag.get('color_range', 'tv')}")
    raw = subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", "-ss", f"{seconds:.3f}", "-i", str(path), "-frames:v", "1",
         "-vf", f"crop=iw/2:ih/16:iw/4:ih/8,zscale={given}:t=bt709:m=bt709:p=bt709:r=pc:npl=203,format=rgb24",
         "-f", "rawvideo", "-"], check=True, capture_output=True).stdout
    pixels = len(raw) // 3
    return tuple(sum(raw[channel::3]) / pixels for channel in range(3))  # type: ignore[return-value]


def assert_same_colour(got: tuple[float, ...], want: tuple[float, ...], tolerance: float = 8) -> None:
    # an unconverted (relabelled) SDR patch in HLG is ~40/255 off; converted, a few units at most
    assert max(abs(a - b) for a, b in zip(got, want)) <= tolerance, (got, want)


def assert_parameter_sets_kept_apart(path: Path, ids: set[int]) -> None:
    """No HEVC parameter set is defined twice with different content, every one is in the sample entry (none
    in-band), and their ids are `ids`: the sources' own and one per encoder setting."""
    found = parameter_sets(path)
    assert {key: len(contents) for key, contents in found.items() if len(contents) > 1} == {}
    assert {key for key in found} == {(kind, n) for kind in ("VPS", "SPS", "PPS") for n in ids}
    assert in_band_parameter_sets(path) == 0


def in_band_parameter_sets(path: Path) -> int:
    """How many VPS, SPS and PPS the samples of `path`'s video carry (not its sample entry)."""
    return len(mp4.open_video(path).find_units({32, 33, 34}))


def segment_middles(done: Assembly) -> list[float]:
    middles, offset = [], 0.0
    for clip in done.clips:
        middles.append(offset + clip.duration / 2)
        offset += clip.duration
    return middles


async def test_an_hevc_10_bit_hlg_first_clip_gives_an_hevc_10_bit_hlg_output(
    hdr_library: Path, tmp_path: Path
) -> None:
    clips = [ClipInput("hlg.mov", 0.5, 2.5), ClipInput("sdr.mp4", 0.5, 1.5), ClipInput("hlg.mov", 1.0, 2.0)]
    done, result = await render(hdr_library, tmp_path, clips)
    # the HLG clips' whole GOPs are copied, their ends encoded like them; the SDR clip is converted and encoded
    assert [clip.video for clip in done.clips] == ["smart", "reencode", "copy"]
    video = stream(probe(result), "video")
    assert (video["codec_name"], video["codec_tag_string"], video["profile"], video["pix_fmt"]) == (
        "hevc", "hvc1", "Main 10", "yuv420p10le")
    assert colour_tags(video) == ("bt2020", "arib-std-b67", "bt2020nc")
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""
    assert_in_sync(result)
    assert_parameter_sets_kept_apart(result, {0, 1, 2})
    # every clip shows its source's colours: the SDR clip was converted into HLG, not relabelled
    for clip, middle in zip(clips, segment_middles(done)):
        source_time = (clip.start or 0.0) + (middle - sum(c.duration for c in done.clips[:clips.index(clip)]))
        assert_same_colour(patch_rgb(result, middle), patch_rgb(hdr_library / str(clip.source), source_time))


async def test_an_hlg_clip_after_an_sdr_first_clip_is_converted_to_sdr(hdr_library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("sdr.mp4", 0.5, 2.5), ClipInput("hlg.mov", 0.5, 1.5)]
    done, result = await render(hdr_library, tmp_path, clips)
    assert [clip.video for clip in done.clips] == ["smart", "reencode"]
    video = stream(probe(result), "video")
    assert (video["codec_name"], video["pix_fmt"]) == ("h264", "yuv420p")
    assert colour_tags(video) == ("bt709", "bt709", "bt709")
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""
    sdr_middle, hlg_middle = segment_middles(done)
    assert_same_colour(patch_rgb(result, sdr_middle), patch_rgb(hdr_library / "sdr.mp4", 1.5))
    assert_same_colour(patch_rgb(result, hlg_middle), patch_rgb(hdr_library / "hlg.mov", 1.0))


async def test_previews_of_hdr_footage_are_8_bit_h264_sdr(hdr_library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("hlg.mov", 0.5, 1.5), ClipInput("sdr.mp4", 0.5, 1.5)]
    done, result = await render(hdr_library, tmp_path, clips, preview=True)
    video = stream(probe(result), "video")
    assert (video["codec_name"], video["pix_fmt"]) == ("h264", "yuv420p")
    assert video.get("color_transfer", "") in ("", "unknown", "bt709")  # never HLG-labelled
    assert frame_indices(result) == expected(clips)
    hlg_middle, sdr_middle = segment_middles(done)
    assert_same_colour(patch_rgb(result, hlg_middle), patch_rgb(hdr_library / "hlg.mov", 1.0))
    assert_same_colour(patch_rgb(result, sdr_middle), patch_rgb(hdr_library / "sdr.mp4", 1.0))


async def test_an_hevc_8_bit_first_clip_gives_an_hevc_8_bit_output(hdr_library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("hevc8.mp4", 0.5, 2.5), ClipInput("hlg.mov", 0.5, 1.5), ClipInput("hevc8.mp4", 1.2, 2.9)]
    done, result = await render(hdr_library, tmp_path, clips)
    assert [clip.video for clip in done.clips] == ["smart", "reencode", "smart"]
    video = stream(probe(result), "video")
    assert (video["codec_name"], video["codec_tag_string"], video["profile"], video["pix_fmt"]) == (
        "hevc", "hvc1", "Main", "yuv420p")
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""
    assert_in_sync(result)
    assert_parameter_sets_kept_apart(result, {0, 1, 2})
    # both copies start at a CRA picture (x265's keyframes after the first): each is made a BLA picture, as H.265
    # has a stream spliced there start
    assert len(mp4.open_video(result).find_units({18})) == 2
    assert_same_colour(patch_rgb(result, segment_middles(done)[1]), patch_rgb(hdr_library / "hlg.mov", 1.0))


async def test_hevc_with_b_frames_is_smart_cut_frame_exact(hdr_library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("hevc8b.mp4", 0.5, 2.5), ClipInput("hevc8b.mp4", 0.2, 1.3), ClipInput("hevc8b.mp4", 1.0, 2.0)]
    done, result = await render(hdr_library, tmp_path, clips)
    assert [clip.video for clip in done.clips] == ["smart", "smart", "copy"]
    video = stream(probe(result), "video")
    assert (video["codec_name"], video["codec_tag_string"], video["profile"]) == ("hevc", "hvc1", "Main")
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""
    assert_in_sync(result)
    assert_parameter_sets_kept_apart(result, {0, 1})


async def test_an_hev1_source_gives_an_hvc1_output_with_every_parameter_set_in_its_sample_entry(
    hdr_library: Path, tmp_path: Path
) -> None:
    assert stream(probe(hdr_library / "hev1.mp4"), "video")["codec_tag_string"] == "hev1"
    assert in_band_parameter_sets(hdr_library / "hev1.mp4") > 0
    clips = [ClipInput("hev1.mp4", 0.5, 2.5), ClipInput("hev1.mp4", 0.2, 1.3)]
    done, result = await render(hdr_library, tmp_path, clips)
    assert [clip.video for clip in done.clips] == ["smart", "smart"]
    assert stream(probe(result), "video")["codec_tag_string"] == "hvc1"
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""
    assert_parameter_sets_kept_apart(result, {0, 1})


async def test_open_gop_hevc_is_encoded_whole(hdr_library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("opengop.mov", 0.5, 2.5), ClipInput("hevc8b.mp4", 0.5, 2.5)]
    done, result = await render(hdr_library, tmp_path, clips)
    # none of its keyframes but the first may start a copy: their leading frames refer to the GOP before
    assert [clip.video for clip in done.clips] == ["reencode", "reencode"]
    video = stream(probe(result), "video")
    assert (video["codec_name"], video["codec_tag_string"]) == ("hevc", "hvc1")
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""


async def test_hdr_in_matroska_is_converted_too(hdr_library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("sdr.mp4", 0.5, 2.5), ClipInput("hlg.mkv", 0.5, 1.5)]
    done, result = await render(hdr_library, tmp_path, clips)
    # its frames are not copied (Matroska's time stamps are too coarse), but its colours are known and converted
    assert [clip.video for clip in done.clips] == ["smart", "reencode"]
    assert colour_tags(stream(probe(result), "video")) == ("bt709", "bt709", "bt709")
    assert frame_indices(result) == expected(clips)
    assert_same_colour(patch_rgb(result, segment_middles(done)[1]), patch_rgb(hdr_library / "hlg.mkv", 1.0))


async def test_a_10_bit_h264_first_clip_gives_a_10_bit_h264_output(hdr_library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("deep.mp4", 0.5, 1.5), ClipInput("sdr.mp4", 0.5, 1.5)]
    done, result = await render(hdr_library, tmp_path, clips)
    assert [clip.video for clip in done.clips] == ["reencode", "reencode"]
    video = stream(probe(result), "video")
    assert (video["codec_name"], video["profile"], video["pix_fmt"]) == ("h264", "High 10", "yuv420p10le")
    assert colour_tags(video) == ("bt709", "bt709", "bt709")
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""
    for middle, source in zip(segment_middles(done), ("deep.mp4", "sdr.mp4")):
        assert_same_colour(patch_rgb(result, middle), patch_rgb(hdr_library / source, 1.0))


async def test_indexing_records_the_colour_description_and_the_api_shows_it(hdr_library: Path) -> None:
    repo = InMemoryRepo()
    await services.reindex(FfprobeProber(hdr_library, FFPROBE), repo)
    sources = {source.filename: source for source in await repo.list_sources()}
    coding = sources["hlg.mov"].coding
    assert coding is not None
    assert (coding.codec, coding.pix_fmt, coding.color_primaries, coding.color_transfer, coding.color_space,
            coding.color_range) == ("hevc", "yuv420p10le", "bt2020", "arib-std-b67", "bt2020nc", "tv")
    assert sources["hevc8.mp4"].coding is not None and sources["hevc8.mp4"].coding.color_transfer == ""
    shown = msgspec.to_builtins(schemas.Source.of(sources["hlg.mov"]))["coding"]
    assert (shown["color_transfer"], shown["color_primaries"], shown["pix_fmt"]) == ("arib-std-b67", "bt2020",
                                                                                     "yuv420p10le")


async def test_a_rotated_hevc_first_clip_is_smart_cut_and_keeps_its_rotation(
    hdr_library: Path, tmp_path: Path
) -> None:
    clips = [ClipInput("iphone.mov", 0.5, 2.5), ClipInput("hlg.mov", 1.0, 2.0), ClipInput("sdr.mp4", 0.5, 1.0),
             ClipInput("iphone.mov", 1.0, 2.0)]
    done, result = await render(hdr_library, tmp_path, clips)
    # upright clips are turned to the iPhone clip's stored orientation and encoded
    assert [clip.video for clip in done.clips] == ["smart", "reencode", "reencode", "copy"]
    video = stream(probe(result), "video")
    assert (video["codec_name"], video["codec_tag_string"], video["pix_fmt"]) == ("hevc", "hvc1", "yuv420p10le")
    assert (video["width"], video["height"], rotation(video)) == (640, 360, 90)
    assert colour_tags(video) == ("bt2020", "arib-std-b67", "bt2020nc")
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""
    assert_in_sync(result)
    assert_parameter_sets_kept_apart(result, {0, 1, 2})


async def test_a_pq_clip_is_tone_mapped_into_an_sdr_output(hdr_library: Path, tmp_path: Path) -> None:
    clips = [ClipInput("sdr.mp4", 0.0, 1.0), ClipInput("pq.mov", 0.5, 1.5)]
    done, result = await render(hdr_library, tmp_path, clips)
    assert [clip.video for clip in done.clips] == ["copy", "reencode"]
    video = stream(probe(result), "video")
    assert (video["codec_name"], video["pix_fmt"], colour_tags(video)) == ("h264", "yuv420p", ("bt709",) * 3)
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""
    # tone mapping darkens, but keeps the hue: relabelled, the patch comes out grey-ish (R/G ~1.15 for ~1.57)
    (red, green, blue), (red0, green0, blue0) = patch_rgb(result, 1.5), patch_rgb(hdr_library / "pq.mov", 1.0)
    assert red <= red0 + 8 and green <= green0 + 8 and blue <= blue0 + 8
    assert abs(red / green - red0 / green0) < 0.1 and abs(green / blue - green0 / blue0) < 0.25, (red, green, blue)


def hdr_side_data(path: Path) -> dict[str, dict]:
    """The first frame's HDR side data, by kind."""
    out = subprocess.run([FFPROBE, "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1", "-show_frames",
                          "-of", "json", str(path)], check=True, capture_output=True, text=True).stdout
    frame = json.loads(out)["frames"][0]
    return {side["side_data_type"]: side for side in frame.get("side_data_list", ())
            if side["side_data_type"] in ("Mastering display metadata", "Content light level metadata")}


async def test_a_pq_first_clip_keeps_pq_and_its_hdr10_metadata(hdr_library: Path, tmp_path: Path) -> None:
    repo = InMemoryRepo()
    await services.reindex(FfprobeProber(hdr_library, FFPROBE), repo)
    coding = next(source.coding for source in await repo.list_sources() if source.filename == "pq.mov")
    assert coding is not None and (coding.master_display, coding.max_cll) == (MASTERING, "1000,400")
    clips = [ClipInput("pq.mov", 0.5, 1.5), ClipInput("sdr.mp4", 0.5, 1.0)]
    done, result = await render(hdr_library, tmp_path, clips)
    assert [clip.video for clip in done.clips] == ["smart", "reencode"]
    video = stream(probe(result), "video")
    assert (video["codec_name"], video["codec_tag_string"], video["pix_fmt"]) == ("hevc", "hvc1", "yuv420p10le")
    assert colour_tags(video) == ("bt2020", "smpte2084", "bt2020nc")
    assert hdr_side_data(result) == hdr_side_data(hdr_library / "pq.mov") != {}
    assert frame_indices(result) == expected(clips)
    assert decode_errors(result) == ""
    assert_parameter_sets_kept_apart(result, {0, 1, 2})
    pq_middle, sdr_middle = segment_middles(done)
    assert_same_colour(patch_rgb(result, pq_middle), patch_rgb(hdr_library / "pq.mov", 1.0))
    assert_same_colour(patch_rgb(result, sdr_middle), patch_rgb(hdr_library / "sdr.mp4", 0.75))
