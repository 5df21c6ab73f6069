"""H.264 and HEVC decoder configuration records (`avcC`, `hvcC`) and the parameter-set NAL units they hold.

A NAL unit here is always a whole unit, header included, without start code or length prefix.

- `parse_record(kind, payload) -> Record`: the record's NAL units (in stored order) and NAL length size.
- `build_record(record, units, complete) -> bytes`: the same record holding exactly `units`, in the order decoders
  accept (VPS, SPS, SPS extensions, PPS, then any SEI arrays of an `hvcC`; parameter sets by id). The record's other
  fields are kept (profile, compatibility, chroma and bit depths, frame rate, length size...), except the level,
  set to the highest level among the SPSs. `complete` sets an `hvcC`'s array_completeness bits (an `avcC` has
  none: for `avc1` completeness is the sample entry's type itself).
- `parameter_set_key(codec, unit) -> (kind, id) | None`: ("VPS" | "SPS" | "SPSEXT" | "PPS", id) of a parameter set,
  None for any other unit. `codec` is "h264" or "hevc".
- `merge_parameter_sets(codec, groups) -> list[bytes]`: the union of several lists of units; ParameterSetConflict
  when two define one id with different content.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class Mp4Error(ValueError):
    """A file or record this package cannot read or rewrite (damaged, fragmented, unsupported)."""


class ParameterSetConflict(Mp4Error):
    """Two sources of parameter sets define one id with different content."""


H264_SPS, H264_PPS, H264_SPS_EXT = 7, 8, 13
HEVC_VPS, HEVC_SPS, HEVC_PPS = 32, 33, 34
#: NAL unit types that are parameter sets, by codec.
PARAMETER_SET_TYPES = {"h264": frozenset({H264_SPS, H264_PPS, H264_SPS_EXT}),
                       "hevc": frozenset({HEVC_VPS, HEVC_SPS, HEVC_PPS})}
#: Codec of each record box.
RECORD_CODEC = {"avcC": "h264", "hvcC": "hevc"}
_HIGH_PROFILES = frozenset({100, 110, 122, 144})


def nal_type(codec: str, unit: bytes) -> int:
    if not unit:
        raise Mp4Error("an empty NAL unit")
    return unit[0] & 0x1F if codec == "h264" else (unit[0] >> 1) & 0x3F


def unescape(payload: bytes) -> bytes:
    """The RBSP of a NAL unit's payload: emulation-prevention bytes (the 03 of 00 00 03) removed. Escaped data
    never holds 00 00 00, 00 00 01 or 00 00 02, so every 00 00 03 is one."""
    return payload.replace(b"\x00\x00\x03", b"\x00\x00")


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, count: int) -> int:
        value = 0
        for _ in range(count):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise Mp4Error("a parameter set ends too soon")
            value = (value << 1) | ((self.data[byte] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value

    def skip(self, count: int) -> None:
        self.pos += count

    def ue(self) -> int:
        zeros = 0
        while self.read(1) == 0:
            zeros += 1
            if zeros > 31:
                raise Mp4Error("a parameter set holds a bad number")
        return (1 << zeros) - 1 + self.read(zeros)


_KINDS = {"h264": {H264_SPS: "SPS", H264_PPS: "PPS", H264_SPS_EXT: "SPSEXT"},
          "hevc": {HEVC_VPS: "VPS", HEVC_SPS: "SPS", HEVC_PPS: "PPS"}}


def parameter_set_key(codec: str, unit: bytes) -> tuple[str, int] | None:
    """(kind, id) of a parameter-set NAL unit; None for other units."""
    kind = _KINDS[codec].get(nal_type(codec, unit))
    if kind is None:
        return None
    if codec == "h264":
        bits = _Bits(unescape(unit[1:]))
        if kind == "SPS":
            bits.skip(24)  # profile_idc, constraint flags, level_idc
        return kind, bits.ue()
    bits = _Bits(unescape(unit[2:]))
    if kind == "VPS":
        return kind, bits.read(4)
    if kind == "PPS":
        return kind, bits.ue()
    bits.skip(4)  # sps_video_parameter_set_id
    sub_layers = bits.read(3)
    bits.skip(1)
    _skip_profile_tier_level(bits, sub_layers)
    return kind, bits.ue()


def _skip_profile_tier_level(bits: _Bits, sub_layers: int) -> None:
    bits.skip(96)  # general profile (88 bits) and level
    present = [(bits.read(1), bits.read(1)) for _ in range(sub_layers)]
    if sub_layers:
        bits.skip(2 * (8 - sub_layers))
    for profile, level in present:
        bits.skip(88 * profile + 8 * level)


def sps_level(codec: str, unit: bytes) -> int | None:
    """The level_idc an SPS declares (general_level_idc for HEVC)."""
    try:
        rbsp = unescape(unit[1:5]) if codec == "h264" else unescape(unit[2:20])
        return rbsp[2] if codec == "h264" else rbsp[12]
    except IndexError:
        return None


def hevc_high_tier(unit: bytes) -> bool:
    """Whether an HEVC SPS declares the High tier (general_tier_flag)."""
    rbsp = unescape(unit[2:4])
    return len(rbsp) > 1 and bool(rbsp[1] & 0x20)


def _order(codec: str, units: Iterable[bytes]) -> list[bytes]:
    """Parameter sets first (VPS, SPS, SPS extension, PPS; each by id), then other units in their order."""
    rank = {"VPS": 0, "SPS": 1, "SPSEXT": 2, "PPS": 3}
    keyed = []
    for n, unit in enumerate(units):
        key = parameter_set_key(codec, unit)
        keyed.append(((rank[key[0]], key[1], n) if key else (4, nal_type(codec, unit), n), unit))
    return [unit for _key, unit in sorted(keyed, key=lambda pair: pair[0])]


def merge_parameter_sets(codec: str, groups: Iterable[Sequence[bytes]]) -> list[bytes]:
    """Every distinct unit of `groups` once, in decoder order; two parameter sets of one kind and id that differ
    raise ParameterSetConflict. Units that are not parameter sets (an hvcC's SEI) are kept once each."""
    found: dict[tuple[str, int] | bytes, bytes] = {}
    for units in groups:
        for unit in units:
            key = parameter_set_key(codec, unit)
            if key is None:
                found.setdefault(unit, unit)
            elif found.setdefault(key, unit) != unit:
                raise ParameterSetConflict(f"two different {key[0]}s have the id {key[1]}")
    return _order(codec, found.values())


@dataclass(frozen=True)
class Record:
    """A decoder configuration record: its box type ("avcC" or "hvcC"), its NAL units in stored order, the size
    in bytes of the samples' NAL length fields, and the record's raw bytes (kept fields come from them)."""

    kind: str
    units: tuple[bytes, ...]
    length_size: int
    raw: bytes

    @property
    def codec(self) -> str:
        return RECORD_CODEC[self.kind]


def parse_record(kind: str, payload: bytes) -> Record:
    try:
        if kind == "avcC":
            return _parse_avcc(payload)
        if kind == "hvcC":
            return _parse_hvcc(payload)
    except (IndexError, struct.error) as error:
        raise Mp4Error(f"a damaged {kind} record") from error
    raise Mp4Error(f"no decoder configuration record of type {kind!r}")


def _units(payload: bytes, pos: int, count: int) -> tuple[list[bytes], int]:
    units = []
    for _ in range(count):
        (length,) = struct.unpack_from(">H", payload, pos)
        unit = payload[pos + 2:pos + 2 + length]
        if len(unit) != length:
            raise IndexError
        units.append(unit)
        pos += 2 + length
    return units, pos


def _parse_avcc(payload: bytes) -> Record:
    if payload[0] != 1:
        raise Mp4Error(f"avcC version {payload[0]} is not supported")
    length_size = (payload[4] & 3) + 1
    sps, pos = _units(payload, 6, payload[5] & 0x1F)
    pps, pos = _units(payload, pos + 1, payload[pos])
    ext: list[bytes] = []
    if payload[1] in _HIGH_PROFILES and len(payload) >= pos + 4:
        ext, pos = _units(payload, pos + 4, payload[pos + 3])
    return Record("avcC", (*sps, *pps, *ext), length_size, payload)


def _parse_hvcc(payload: bytes) -> Record:
    if len(payload) < 23:
        raise IndexError
    length_size = (payload[21] & 3) + 1
    pos, units = 23, []
    for _ in range(payload[22]):
        (count,) = struct.unpack_from(">H", payload, pos + 1)
        found, pos = _units(payload, pos + 3, count)
        units += found
    return Record("hvcC", tuple(units), length_size, payload)


def build_record(record: Record, units: Sequence[bytes], complete: bool) -> bytes:
    """`record`'s bytes holding exactly `units` instead of its own (see the module's description)."""
    codec = record.codec
    ordered = _order(codec, units)
    levels = [level for unit in ordered if nal_type(codec, unit) in (H264_SPS, HEVC_SPS)
              if parameter_set_key(codec, unit) is not None and (level := sps_level(codec, unit)) is not None]
    for unit in ordered:
        if len(unit) > 0xFFFF:
            raise Mp4Error("a NAL unit too long for a decoder configuration record")
    return _build_avcc(record, ordered, levels) if codec == "h264" else _build_hvcc(record, ordered, levels, complete)


def _lengths(units: Sequence[bytes]) -> bytes:
    return b"".join(struct.pack(">H", len(unit)) + unit for unit in units)


def _build_avcc(record: Record, units: Sequence[bytes], levels: list[int]) -> bytes:
    raw = record.raw
    by_type: dict[int, list[bytes]] = {H264_SPS: [], H264_PPS: [], H264_SPS_EXT: []}
    for unit in units:
        if nal_type("h264", unit) not in by_type:
            raise Mp4Error(f"an avcC holds only parameter sets, not NAL units of type {nal_type('h264', unit)}")
        by_type[nal_type("h264", unit)].append(unit)
    sps, pps, ext = by_type[H264_SPS], by_type[H264_PPS], by_type[H264_SPS_EXT]
    if len(sps) > 31 or len(pps) > 255 or len(ext) > 255:
        raise Mp4Error("too many parameter sets for an avcC")
    level = max(levels, default=raw[3])
    out = bytes([1, raw[1], raw[2], level, 0xFC | (raw[4] & 3), 0xE0 | len(sps)]) + _lengths(sps)
    out += bytes([len(pps)]) + _lengths(pps)
    old = _parse_avcc(raw)
    old_end = 6 + sum(2 + len(u) for u in old.units if nal_type("h264", u) == H264_SPS) + 1
    old_end += sum(2 + len(u) for u in old.units if nal_type("h264", u) == H264_PPS)
    if raw[1] in _HIGH_PROFILES and len(raw) >= old_end + 4:
        out += raw[old_end:old_end + 3] + bytes([len(ext)]) + _lengths(ext)
    elif ext:
        raise Mp4Error("SPS extensions need an avcC of a High profile with its extension fields")
    return out


def _build_hvcc(record: Record, units: Sequence[bytes], levels: list[int], complete: bool) -> bytes:
    raw = record.raw
    old_complete = {}
    pos = 23
    for _ in range(raw[22]):
        old_complete[raw[pos] & 0x3F] = raw[pos] & 0x80
        (count,) = struct.unpack_from(">H", raw, pos + 1)
        pos += 3
        for _ in range(count):
            pos += 2 + struct.unpack_from(">H", raw, pos)[0]
    arrays: dict[int, list[bytes]] = {}
    for unit in units:
        arrays.setdefault(nal_type("hevc", unit), []).append(unit)
    if len(arrays) > 255 or any(len(array) > 0xFFFF for array in arrays.values()):
        raise Mp4Error("too many NAL units for an hvcC")
    header = bytearray(raw[:22])
    header[12] = max(levels, default=raw[12])
    # A stream whose pieces differ in tier needs a decoder for the higher one (Main tier fits in High's limits).
    if any(hevc_high_tier(unit) for unit in units if nal_type("hevc", unit) == HEVC_SPS):
        header[1] |= 0x20
    out = bytes(header) + bytes([len(arrays)])
    for kind, array in arrays.items():  # already in decoder order
        flag = 0x80 if (complete and kind in PARAMETER_SET_TYPES["hevc"]) else old_complete.get(kind, 0)
        out += bytes([flag | kind]) + struct.pack(">H", len(array)) + _lengths(array)
    return out
