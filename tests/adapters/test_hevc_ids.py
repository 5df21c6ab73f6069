"""Renumbering the parameter sets of x265's streams: the same pictures decode, under the new ids."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
from media import FFMPEG, make_video, parameter_sets

from kalinsky_adapters.mp4.hevc import BitReader, BitWriter, HevcIds, UnsupportedStream, escape, unescape

MASTERING = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50)"
NOISE = ("-vf", "noise=alls=24:allf=t")

#: name → (make_video arguments, x265 params): the settings renders use and those phones' streams have
CASES: dict[str, tuple[dict, str]] = {
    "main-ultrafast": (dict(extra=("-preset", "ultrafast")), ""),
    "main-superfast-bframes0": (dict(extra=("-preset", "superfast", *NOISE)), "bframes=0"),
    "main-medium-pyramid": (dict(extra=("-preset", "medium", *NOISE)), "b-pyramid=1:bframes=4"),
    "main10-portrait": (dict(size="360x640", pix_fmt="yuv420p10le", extra=("-preset", "superfast", *NOISE)), ""),
    "weightb-fade": (dict(extra=("-preset", "medium", "-vf", "fade=in:0:25,noise=alls=10:allf=t")),
                     "weightp=1:weightb=1"),
    # x265 3.5 refuses several slices without WPP
    "slices": (dict(size="640x360", extra=("-preset", "superfast", *NOISE)), "slices=2"),
    "no-wpp": (dict(size="640x360", extra=("-preset", "superfast", *NOISE)), "wpp=0"),
    "idr-keyint8": (dict(gop=8, extra=("-preset", "superfast", *NOISE)), "no-open-gop=1:keyint=8:min-keyint=8"),
    "open-gop-cra": (dict(gop=10, extra=("-preset", "medium", *NOISE)), "open-gop=1:keyint=10:min-keyint=10"),
    "hdr10": (dict(pix_fmt="yuv420p10le", extra=("-preset", "superfast")),
              f"hdr10=1:master-display={MASTERING}:max-cll=1000,400:colorprim=bt2020:transfer=smpte2084"
              ":colormatrix=bt2020nc"),
    "repeat-headers-aud-hrd": (dict(gop=10, extra=("-preset", "superfast", *NOISE)),
                               "repeat-headers=1:aud=1:hrd=1:vbv-maxrate=800:vbv-bufsize=800:keyint=10"),
    "temporal-layers": (dict(extra=("-preset", "medium")), "temporal-layers=1:b-pyramid=1"),
    "422-10bit": (dict(pix_fmt="yuv422p10le", extra=("-preset", "ultrafast")), ""),
    "tools": (dict(extra=("-preset", "medium", *NOISE)),
              "ref=5:tskip=1:signhide=0:sao=0:deblock=-2,1:constrained-intra=1:cu-lossless=1:rect=1:amp=1"),
}


#: every field that holds or names a parameter-set id (buffering period SEI add bp_seq_parameter_set_id)
IDS = ("vps_video_parameter_set_id", "sps_video_parameter_set_id", "sps_seq_parameter_set_id",
       "pps_pic_parameter_set_id", "pps_seq_parameter_set_id", "slice_pic_parameter_set_id")


def annexb_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream, without start codes (nor the zero byte of 4-byte ones)."""
    units = []
    start = data.find(b"\x00\x00\x01")
    while start >= 0:
        following = data.find(b"\x00\x00\x01", start + 3)
        units.append(data[start + 3:following].rstrip(b"\x00") if following >= 0 else data[start + 3:])
        start = following
    return units


def annexb(units: list[bytes]) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + unit for unit in units)


def frame_hashes(path: Path) -> list[str]:
    out = subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True).stdout
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if not line.startswith("#")]


def traced_ids(path: Path) -> dict[str, set[int]]:
    """Every value trace_headers reports for each parameter-set id field, and each slice's reference."""
    trace = subprocess.run(
        [FFMPEG, "-v", "trace", "-nostdin", "-i", str(path), "-c", "copy", "-bsf:v", "trace_headers", "-f", "null",
         "-"], capture_output=True, text=True, check=True,
    ).stderr
    found: dict[str, set[int]] = {}
    for line in trace.splitlines():
        if "[trace_headers" in line and "parameter_set_id" in line:
            parts = line.split("]", 1)[1].split()
            found.setdefault(parts[1], set()).add(int(parts[-1]))
    return found


def same_but_ids(fields: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in fields if "parameter_set_id" not in name and not name.startswith("rbsp_")]


def encode(folder: Path, name: str) -> Path:
    kwargs, params = CASES[name]
    extra = (*kwargs.pop("extra", ()), "-x265-params", ":".join(filter(None, ("log-level=error", params))))
    return make_video(folder / f"{name}.hevc", duration=1.0, audio=False, codec="libx265", extra=extra,
                      **{"size": "320x240", **kwargs})


@pytest.fixture(scope="module")
def streams(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hevc-ids")
    return {name: encode(folder, name) for name in CASES}


@pytest.mark.parametrize("name", CASES)
def test_renumbered_streams_decode_to_the_same_pictures_under_the_new_ids(
        streams: dict[str, Path], name: str, tmp_path: Path) -> None:
    source = streams[name]
    units = annexb_units(source.read_bytes())
    original = frame_hashes(source)
    assert len(original) == 30
    ids = traced_ids(source)
    assert set(ids) >= set(IDS) and all(values == {0} for values in ids.values())
    # ids 1 and 7 take 3 and 7 bits where 0 took 1: headers grow by 2 or 6 bits, realigned differently
    for n in ((1, 7) if name == "main-ultrafast" else (1 + 6 * (list(CASES).index(name) % 2),)):
        renumber = HevcIds(n)
        out = tmp_path / f"{n}.hevc"
        out.write_bytes(annexb([renumber(unit) for unit in units]))
        assert frame_hashes(out) == original
        assert traced_ids(out) == {key: {n} for key in ids}
        sets = parameter_sets(out)
        assert set(sets) == {("VPS", n), ("SPS", n), ("PPS", n)}
        assert all(len(contents) == 1 for contents in sets.values())
        # everything but the ids (and the trailing bits' padding) is as x265 wrote it
        before = parameter_sets(source)
        for kind in ("VPS", "SPS", "PPS"):
            [old], [new] = before[(kind, 0)], sets[(kind, n)]
            assert same_but_ids(old) == same_but_ids(new)


def test_the_streams_cover_what_the_renumbering_must_parse(streams: dict[str, Path]) -> None:
    """The cases really hold the syntax they are named after (else a test above would prove less than it says)."""
    def fields(name: str) -> dict[str, set[int]]:
        trace = subprocess.run(
            [FFMPEG, "-v", "trace", "-nostdin", "-i", str(streams[name]), "-c", "copy", "-bsf:v", "trace_headers",
             "-f", "null", "-"], capture_output=True, text=True, check=True,
        ).stderr
        found: dict[str, set[int]] = {}
        for line in trace.splitlines():
            parts = line.split("]", 1)[1].split() if "[trace_headers" in line else []
            if len(parts) > 3 and parts[0].isdigit() and parts[-2] == "=":
                found.setdefault(parts[1].split("[")[0], set()).add(int(parts[-1]))
        return found

    assert fields("main-superfast-bframes0")["slice_type"] == {1, 2}
    assert fields("main-medium-pyramid")["slice_type"] >= {0, 1, 2}
    assert 1 in fields("weightb-fade")["luma_weight_l0_flag"] and 1 in fields("weightb-fade")["luma_weight_l1_flag"]
    assert fields("no-wpp")["entropy_coding_sync_enabled_flag"] == {0}
    assert len(fields("slices")["slice_segment_address"] - {0}) > 0
    assert 1 in fields("main10-portrait")["entropy_coding_sync_enabled_flag"]
    assert max(fields("main10-portrait")["num_entry_point_offsets"]) > 0
    assert len(fields("idr-keyint8")["nal_unit_type"] & {19, 20}) and 21 not in fields("idr-keyint8")["nal_unit_type"]
    assert fields("open-gop-cra")["nal_unit_type"] >= {21, 8}  # CRA and RASL pictures
    assert fields("hdr10")["max_content_light_level"] == {1000}
    assert 1 in fields("repeat-headers-aud-hrd")["vui_hrd_parameters_present_flag"]
    assert fields("repeat-headers-aud-hrd")["bp_seq_parameter_set_id"] == {0}
    assert fields("repeat-headers-aud-hrd")["nal_unit_type"] >= {35}  # access unit delimiters
    assert 1 in fields("temporal-layers")["sps_max_sub_layers_minus1"]
    assert fields("422-10bit")["chroma_format_idc"] == {2}
    assert fields("tools")["transform_skip_enabled_flag"] == {1}
    assert fields("tools")["sample_adaptive_offset_enabled_flag"] == {0}


def test_a_stream_with_two_ids_of_a_kind_is_refused(streams: dict[str, Path]) -> None:
    vps = annexb_units(streams["main-ultrafast"].read_bytes())[0]
    renumber = HevcIds(3)
    renumber(vps)
    with pytest.raises(UnsupportedStream, match="more than one VPS id"):
        renumber(HevcIds(5)(vps))  # VPS 5 after VPS 0


def test_a_slice_whose_pps_was_not_seen_is_refused(streams: dict[str, Path]) -> None:
    units = annexb_units(streams["main-ultrafast"].read_bytes())
    renumber = HevcIds(1)
    with pytest.raises(UnsupportedStream, match="PPS 0"):
        for unit in units:
            if (unit[0] >> 1) & 0x3F != 34:
                renumber(unit)


def test_sei_that_name_ids_are_rewritten_or_refused(streams: dict[str, Path]) -> None:
    units = annexb_units(streams["main-ultrafast"].read_bytes())
    renumber = HevcIds(1)
    for unit in units[:3]:
        renumber(unit)
    w = BitWriter()
    w.ue(0), w.ue(3), w.ue(1)  # structure_of_pictures_info: sop_seq_parameter_set_id, num_entries_in_sop_minus1...
    payload = w.trailing()
    with pytest.raises(UnsupportedStream, match="structure of pictures"):
        renumber(bytes([39 << 1, 1, 128, len(payload)]) + payload + b"\x80")
    user_data = bytes([39 << 1, 1, 5, 17]) + bytes(range(1, 18)) + b"\x80"
    assert renumber(user_data) == user_data


def test_exp_golomb_and_fixed_codes_round_trip() -> None:
    rng = random.Random(7)
    for _ in range(300):
        codes = []
        for _ in range(rng.randrange(1, 40)):
            kind = rng.choice("uUs")
            if kind == "u":
                bits = rng.randrange(0, 33)
                codes.append(("u", bits, rng.getrandbits(bits) if bits else 0))
            elif kind == "U":
                codes.append(("ue", 0, rng.choice((0, 1, 2, rng.randrange(1 << rng.randrange(1, 31))))))
            else:
                codes.append(("se", 0, rng.randrange(-(1 << 20), 1 << 20)))
        w = BitWriter()
        for kind, bits, value in codes:
            w.u(bits, value) if kind == "u" else w.ue(value) if kind == "ue" else w.se(value)
        data = w.trailing()
        # through emulation prevention and back, the same bits
        assert unescape(escape(data)) == data
        assert b"\x00\x00\x00" not in escape(data) and b"\x00\x00\x01" not in escape(data)
        r = BitReader(data)
        for kind, bits, value in codes:
            assert (r.u(bits) if kind == "u" else r.ue() if kind == "ue" else r.se()) == value
        assert r.u(1) == 1 and r.pos + (-r.pos % 8) == len(data) * 8
    w = BitWriter()
    for value in (0, 1, 2, 3, 7, -1, 1, -2):
        w.ue(value) if value >= 0 else w.se(value)
    assert f"{w.value:0{w.length}b}" == "1" + "010" + "011" + "00100" + "0001000" + "011" + "010" + "00101"


def test_short_term_sets_predicted_from_an_earlier_one_derive_the_spec_s_delta_pocs() -> None:
    """x265 codes each slice's reference set in its header; phones' encoders predict sets from the SPS's."""
    from kalinsky_adapters.mp4.hevc import _short_term_set

    w = BitWriter()
    w.ue(2), w.ue(1)  # set 0: two pictures before, one after
    w.ue(0), w.u(1, 1), w.ue(1), w.u(1, 1)  # -1, -3
    w.ue(1), w.u(1, 1)  # +2
    w.u(1, 1)  # set 1: inter_ref_pic_set_prediction_flag
    w.u(1, 1), w.ue(0)  # delta_rps_sign, abs_delta_rps_minus1: deltaRps = -1
    # used_by_curr_pic_flag (and use_delta_flag when unused) for -1, -3, +2 of set 0 and for deltaRps itself
    w.u(1, 1), w.u(1, 0), w.u(1, 1), w.u(1, 1), w.u(1, 1)
    r = BitReader(w.trailing())
    sets: list = []
    for index in range(2):
        sets.append(_short_term_set(r, index, 2, sets))
    assert (sets[0].negative, sets[0].positive) == ((-1, -3), (2,))
    assert (sets[1].negative, sets[1].used_negative) == ((-1, -2, -4), (True, True, False))
    assert (sets[1].positive, sets[1].used_positive) == ((1,), (True,))
    assert sets[1].used == 3
    assert r.u(1) == 1  # the stop bit: every flag was read
