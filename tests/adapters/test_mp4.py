"""The MP4/MOV reader and rewriter, on files ffmpeg writes: samples and records read as ffmpeg reads them, and
rewritten files that decode exactly as before."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from media import FFMPEG, FFPROBE, make_video

from kalinsky_adapters import mp4
from kalinsky_adapters.mp4 import records
from kalinsky_adapters.mp4.boxes import read_movie
from kalinsky_adapters.mp4.hevc import HevcIds

H264_TYPES, HEVC_TYPES = mp4.PARAMETER_SET_TYPES["h264"], mp4.PARAMETER_SET_TYPES["hevc"]


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("mp4")
    found = {"plain.mp4": make_video(folder / "plain.mp4", duration=2.0)}  # moov after mdat, with AAC audio
    found["faststart.mp4"] = folder / "faststart.mp4"
    ffmpeg("-i", str(found["plain.mp4"]), "-c", "copy", "-movflags", "+faststart", str(found["faststart.mp4"]))
    found["piece.mov"] = make_video(folder / "piece.mov", duration=1.0, audio=False, size="160x120",
                                    extra=("-x264-params", "sps-id=3"))
    found["hevc.mov"] = make_video(folder / "hevc.mov", duration=1.0, audio=False, codec="libx265",
                                   extra=("-tag:v", "hvc1", "-x265-params", "log-level=error"))
    # as phones write them: several tracks (two sounds, a timecode), edit lists, a rotation, udta/meta with keys
    found["phone.mov"] = folder / "phone.mov"
    ffmpeg("-display_rotation", "90", "-ss", "0.4", "-i", str(found["plain.mp4"]),
           "-f", "lavfi", "-i", "sine=frequency=880:duration=2",
           "-map", "0:v", "-map", "0:a", "-map", "1:a", "-c:v", "copy", "-c:a:0", "copy", "-c:a:1", "aac",
           "-timecode", "01:00:00:00", "-movflags", "use_metadata_tags",
           "-metadata", "com.apple.quicktime.make=Apple", str(found["phone.mov"]))
    return found


def decoded(path: Path) -> list[str]:
    """framemd5 of every stream's decoded frames (video and audio)."""
    done = subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v", "-map", "0:a?",
                           "-f", "framemd5", "-"], capture_output=True, text=True, check=True)
    assert done.stderr == ""
    lines = [line for line in done.stdout.splitlines() if not line.startswith("#")]
    assert lines
    return lines


def annex_b(path: Path, codec: str) -> list[bytes]:
    """The video's NAL units as ffmpeg extracts them (`-c copy -f h264|hevc`)."""
    data = subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy",
                           "-f", codec, "-"], capture_output=True, check=True).stdout
    return [unit.rstrip(b"\0") for unit in data.split(b"\x00\x00\x01")[1:]]


def keyframes(path: Path) -> int:
    flags = subprocess.run([FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=flags",
                            "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True).stdout
    return sum(1 for line in flags.split() if line.startswith("K"))


def units_of(track: mp4.VideoTrack) -> list[bytes]:
    assert track.record is not None
    return [unit for sample in track.samples() for unit in mp4.split_units(sample.data, track.record.length_size)]


@pytest.mark.parametrize(("name", "fourcc"), [("plain.mp4", "avc1"), ("faststart.mp4", "avc1"),
                                              ("piece.mov", "avc1"), ("hevc.mov", "hvc1"), ("phone.mov", "avc1")])
def test_samples_and_record_are_what_ffmpeg_reads(files: dict[str, Path], name: str, fourcc: str) -> None:
    track = mp4.open_video(files[name])
    assert track.fourcc == fourcc and track.record is not None
    codec = "h264" if fourcc == "avc1" else "hevc"
    assert track.codec == codec and track.record.length_size == 4
    kinds = [mp4.parameter_set_key(codec, unit) for unit in track.record.units]
    expected_ids = 3 if name == "piece.mov" else 0
    assert {"VPS": 0} | {key[0]: key[1] for key in kinds if key} == (
        {"VPS": 0, "SPS": expected_ids, "PPS": expected_ids})
    reference = annex_b(files[name], codec)
    # ffmpeg puts the record's units in the first keyframe (and in any other lacking them)
    record = set(track.record.units)
    assert [unit for unit in reference if unit in record][:len(record)] == list(track.record.units)
    assert [u for u in units_of(track) if u not in record] == [u for u in reference if u not in record]
    assert sum(sample.sync for sample in track.samples()) == keyframes(files[name]) > 0
    assert sum(1 for _ in track.samples()) == track.sample_count


@pytest.mark.parametrize("name", ["plain.mp4", "faststart.mp4"])
def test_parameter_sets_of_another_piece_put_in_the_sample_entry(
        files: dict[str, Path], name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(files[name].read_bytes())
    before = decoded(path)
    own = mp4.open_video(path).record
    other = mp4.open_video(files["piece.mov"]).record
    assert own is not None and other is not None
    mp4.put_parameter_sets(path, [*other.units, *own.units])  # any order given: stored by kind, then id
    track = mp4.open_video(path)
    assert track.record is not None
    assert [mp4.parameter_set_key("h264", unit) for unit in track.record.units] == [
        ("SPS", 0), ("SPS", 3), ("PPS", 0), ("PPS", 3)]
    assert decoded(path) == before
    boxes = [box.type for box in read_movie(path).boxes]
    assert boxes.index(b"moov") < boxes.index(b"mdat") if name == "faststart.mp4" else boxes[-1] == b"moov"
    mp4.put_parameter_sets(path, own.units, faststart=True)  # back, and the movie box moved to the front
    boxes = [box.type for box in read_movie(path).boxes]
    assert boxes.index(b"moov") < boxes.index(b"mdat")
    assert mp4.open_video(path).record == own
    assert decoded(path) == before
    assert not list(tmp_path.glob(".*part"))  # nothing left aside


@pytest.mark.parametrize("name", ["plain.mp4", "faststart.mp4", "hevc.mov", "phone.mov"])
def test_identity_rewrite_decodes_the_same(files: dict[str, Path], name: str, tmp_path: Path) -> None:
    seen: list[bytes] = []

    def keep(unit: bytes) -> bytes:
        seen.append(unit)
        return unit

    out = tmp_path / name
    mp4.rewrite_nal_units(files[name], out, keep)
    track = mp4.open_video(files[name])
    assert track.record is not None
    # the record's units first, then every sample's, in decode order
    assert seen == [*track.record.units, *units_of(track)]
    assert decoded(out) == decoded(files[name])
    assert mp4.open_video(out).record == track.record
    assert [len(s.data) for s in mp4.open_video(out).samples()] == [len(s.data) for s in track.samples()]
    boxes = [box.type for box in read_movie(out).boxes]
    assert (boxes.index(b"moov") < boxes.index(b"mdat")) == (name == "faststart.mp4")
    if name == "phone.mov":  # the other tracks' samples copied byte for byte, metadata and edits kept
        report = subprocess.run([FFPROBE, "-v", "error", "-show_entries", "stream=codec_type,start_time,duration"
                                 ":stream_tags:format_tags", "-of", "json", str(out)], capture_output=True, text=True)
        original = subprocess.run([FFPROBE, "-v", "error", "-show_entries", "stream=codec_type,start_time,duration"
                                   ":stream_tags:format_tags", "-of", "json", str(files[name])], capture_output=True,
                                  text=True)
        assert report.stdout == original.stdout and "Apple" in report.stdout and "timecode" in report.stdout


def test_dropping_units_still_decodes(files: dict[str, Path], tmp_path: Path) -> None:
    source = files["plain.mp4"]
    assert mp4.open_video(source).find_units({6})  # x264 writes its settings in an SEI
    out = tmp_path / "no-sei.mp4"
    mp4.rewrite_nal_units(source, out, lambda unit: None if mp4.nal_type("h264", unit) == 6 else unit)
    assert mp4.open_video(out).find_units({6}) == []
    assert out.stat().st_size < source.stat().st_size
    assert decoded(out) == decoded(source)  # an SEI of user data changes no picture


def test_record_replaced_and_in_band_parameter_sets_dropped(files: dict[str, Path], tmp_path: Path) -> None:
    # a stream that also carries its parameter sets in-band, in every keyframe, as some cameras write them
    in_band = make_video(tmp_path / "in-band.mp4", duration=2.0, extra=("-x264-params", "repeat-headers=1"))
    track = mp4.open_video(in_band)
    assert track.record is not None and len(track.find_units(H264_TYPES)) == 2 * keyframes(in_band) > 0
    other = mp4.open_video(files["piece.mov"]).record
    assert other is not None
    units = mp4.merge_parameter_sets("h264", [track.record.units, other.units, track.find_units(H264_TYPES)])
    out = tmp_path / "out.mp4"
    mp4.rewrite_nal_units(in_band, out, lambda u: None if mp4.nal_type("h264", u) in H264_TYPES else u,
                          parameter_sets=units, faststart=True)
    result = mp4.open_video(out)
    assert result.record is not None and result.find_units(H264_TYPES) == []
    assert len(result.record.units) == 4
    assert decoded(out) == decoded(in_band)


def test_conflicting_parameter_sets_are_refused(files: dict[str, Path], tmp_path: Path) -> None:
    cavlc = make_video(tmp_path / "cavlc.mp4", duration=1.0, audio=False, extra=("-x264-params", "cabac=0"))
    ours, theirs = mp4.open_video(files["plain.mp4"]).record, mp4.open_video(cavlc).record
    assert ours is not None and theirs is not None
    with pytest.raises(mp4.ParameterSetConflict, match="PPS.* id 0"):
        mp4.merge_parameter_sets("h264", [ours.units, theirs.units])


def test_hevc_record_keeps_its_fields_and_is_complete(files: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "hevc.mov"
    path.write_bytes(files["hevc.mov"].read_bytes())
    before, record = decoded(path), mp4.open_video(path).record
    assert record is not None
    mp4.put_parameter_sets(path, list(reversed(record.units)))
    after = mp4.open_video(path).record
    assert after is not None
    assert after.units == record.units  # VPS, SPS, PPS, then the SEI
    assert after.raw[:22] == record.raw[:22]  # profile, tier, level, chroma, bit depth, length size...
    position, arrays = 23, []
    for _ in range(after.raw[22]):
        arrays.append((after.raw[position] >> 7, after.raw[position] & 0x3F))
        count = int.from_bytes(after.raw[position + 1:position + 3])
        position += 3
        for _ in range(count):
            position += 2 + int.from_bytes(after.raw[position:position + 2])
    assert arrays[:3] == [(1, 32), (1, 33), (1, 34)]
    assert decoded(path) == before


def test_an_hevc_record_holding_a_high_tier_sps_says_high_tier(files: dict[str, Path], tmp_path: Path) -> None:
    high = make_video(tmp_path / "high.mov", duration=1.0, audio=False, codec="libx265",
                      extra=("-tag:v", "hvc1", "-x265-params", "log-level=error:level-idc=4:high-tier=1"))
    renumbered = tmp_path / "high-1.mov"
    mp4.rewrite_nal_units(high, renumbered, HevcIds(1))
    main, other = mp4.open_video(files["hevc.mov"]).record, mp4.open_video(renumbered).record
    assert main is not None and other is not None
    sps = [unit for record in (main, other) for unit in record.units if mp4.nal_type("hevc", unit) == 33]
    assert [records.hevc_high_tier(unit) for unit in sps] == [False, True]
    assert not main.raw[1] & 0x20
    path = tmp_path / "joined.mov"
    path.write_bytes(files["hevc.mov"].read_bytes())
    mp4.put_parameter_sets(path, mp4.merge_parameter_sets("hevc", [main.units, other.units]))
    joined = mp4.open_video(path).record
    assert joined is not None
    assert joined.raw[1] & 0x20  # the High tier flag: a decoder for either piece's limits
    assert joined.raw[1] & 0x1F == main.raw[1] & 0x1F  # the profile as it was


def test_fragmented_files_are_refused(files: dict[str, Path], tmp_path: Path) -> None:
    fragmented = tmp_path / "fragmented.mp4"
    ffmpeg("-i", str(files["plain.mp4"]), "-c", "copy", "-movflags", "frag_keyframe+empty_moov", str(fragmented))
    with pytest.raises(mp4.Mp4Error, match="fragmented"):
        mp4.open_video(fragmented)
