"""Renumbering the parameter sets of an HEVC stream (H.265), so frames x265 encodes can sit next to copied ones.

x265 has no option to choose parameter-set ids: it always writes VPS 0, SPS 0 and PPS 0, the ids the sources
use too. `HevcIds(n)` rewrites one NAL unit at a time so that the stream uses id `n` for all three: the VPS's id,
the SPS's id and its reference to the VPS, the PPS's id and its reference to the SPS, every slice segment
header's `slice_pic_parameter_set_id`, and the ids in buffering period and active parameter sets SEI (x265
writes both with `hrd=1`). Only headers are parsed bit by bit; slice data is copied as bytes.

A NAL unit here is its 2-byte header and payload with emulation-prevention bytes, without start code or length
prefix. Streams this cannot rewrite exactly (several ids of one kind, layered, 3D or screen-content extensions,
other SEI that name ids, a slice whose PPS was not seen) raise `UnsupportedStream`.
"""

from __future__ import annotations

from dataclasses import dataclass

from kalinsky_adapters.mp4.records import unescape

__all__ = ["BitReader", "BitWriter", "HevcIds", "SpliceAtStart", "UnsupportedStream"]

VPS, SPS, PPS, PREFIX_SEI = 32, 33, 34, 39
_SLICES = frozenset((*range(0, 10), *range(16, 22)))
_RESERVED_VCL = frozenset((*range(10, 16), 22, 23))
_IDR = (19, 20)
_B, _P, _I = 0, 1, 2
_BUFFERING_PERIOD = 0
#: SEI payload types that name parameter-set ids and are not rewritten
_SEI_WITH_IDS = {128: "structure of pictures", 133: "scalable nesting"}
_ACTIVE_PARAMETER_SETS = 129


class UnsupportedStream(ValueError):
    """The stream uses something the renumbering cannot rewrite exactly: encode the clip whole instead."""


class _Short(Exception):
    """The reader ran past the bytes it was given (a slice header longer than the prefix read)."""


def escape(rbsp: bytes) -> bytes:
    """Emulation prevention: 03 after every 00 00 that a byte 00..03 follows, and after a final 00 00."""
    if b"\x00\x00" not in rbsp:
        return rbsp
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros == 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    if zeros == 2:
        out.append(3)
    return bytes(out)


def _unescape_prefix(raw: bytes, start: int, end: int) -> tuple[bytes, list[int]]:
    """The RBSP of raw[start:end], and the raw positions (relative to `start`) of the bytes removed."""
    out = bytearray()
    removed = []
    at = start
    hit = raw.find(b"\x00\x00\x03", at, end)
    while hit >= 0:
        out += raw[at:hit + 2]
        removed.append(hit + 2 - start)
        at = hit + 3
        hit = raw.find(b"\x00\x00\x03", at, end)
    out += raw[at:end]
    return bytes(out), removed


class BitReader:
    """MSB-first bits of an RBSP: u(n), ue(v), se(v)."""

    __slots__ = ("data", "pos", "limit")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos
        self.limit = len(data) * 8

    def u(self, n: int) -> int:
        if n == 0:
            return 0
        pos, end = self.pos, self.pos + n
        if end > self.limit:
            raise _Short
        first, last = pos >> 3, (end + 7) >> 3
        chunk = int.from_bytes(self.data[first:last], "big")
        self.pos = end
        return (chunk >> ((last << 3) - end)) & ((1 << n) - 1)

    def flag(self) -> bool:
        pos = self.pos
        if pos >= self.limit:
            raise _Short
        self.pos = pos + 1
        return bool((self.data[pos >> 3] >> (7 - (pos & 7))) & 1)

    def ue(self) -> int:
        zeros = 0
        while not self.flag():
            zeros += 1
            if zeros > 31:
                raise UnsupportedStream("an Exp-Golomb code longer than 32 bits: the stream is not what it seems")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) >> 1 if k & 1 else -(k >> 1)

    def bits(self, start: int, end: int) -> int:
        """The bits [start, end) as an integer."""
        if end <= start:
            return 0
        first, last = start >> 3, (end + 7) >> 3
        chunk = int.from_bytes(self.data[first:last], "big")
        return (chunk >> ((last << 3) - end)) & ((1 << (end - start)) - 1)


class BitWriter:
    """MSB-first bits into bytes: u(n), ue(v), se(v), a copied run of bits, rbsp_trailing_bits."""

    __slots__ = ("value", "length")

    def __init__(self) -> None:
        self.value = 0
        self.length = 0

    def u(self, n: int, value: int) -> None:
        if value < 0 or value >> n:
            raise ValueError(f"{value} does not fit in {n} bits")
        self.value = (self.value << n) | value
        self.length += n

    def ue(self, value: int) -> None:
        if value < 0:
            raise ValueError("ue(v) codes numbers from 0")
        code = value + 1
        self.u(2 * code.bit_length() - 1, code)

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def copy(self, reader: BitReader, start: int, end: int) -> None:
        self.u(end - start, reader.bits(start, end))

    def trailing(self) -> bytes:
        """The bits so far, then a 1 and 0s to the byte boundary (rbsp_trailing_bits and byte_alignment alike)."""
        self.u(1, 1)
        pad = -self.length % 8
        self.u(pad, 0)
        return (self.value).to_bytes(self.length // 8, "big")


def _stop_bit(rbsp: bytes) -> int:
    """The position of the rbsp_stop_one_bit: the last 1 bit of the RBSP."""
    end = len(rbsp.rstrip(b"\x00"))
    if end == 0:
        raise UnsupportedStream("a parameter set without its stop bit")
    last = rbsp[end - 1]
    return end * 8 - (last & -last).bit_length()


def _ceil_log2(value: int) -> int:
    return (value - 1).bit_length() if value > 1 else 0


@dataclass(frozen=True, slots=True)
class _ShortTermSet:
    negative: tuple[int, ...]  # DeltaPocS0
    used_negative: tuple[bool, ...]
    positive: tuple[int, ...]  # DeltaPocS1
    used_positive: tuple[bool, ...]

    @property
    def count(self) -> int:
        return len(self.negative) + len(self.positive)

    @property
    def used(self) -> int:
        return sum(self.used_negative) + sum(self.used_positive)


def _short_term_set(r: BitReader, index: int, count: int, sets: list[_ShortTermSet]) -> _ShortTermSet:
    """st_ref_pic_set(index) (7.3.7), with the derived delta POCs (7-61, 7-62) later sets predict from."""
    if index != 0 and r.flag():  # inter_ref_pic_set_prediction_flag
        delta_idx = r.ue() + 1 if index == count else 1
        if delta_idx > index:
            raise UnsupportedStream("a short-term reference set predicted from one that does not exist")
        sign = r.flag()
        delta_rps = (1 - 2 * sign) * (r.ue() + 1)
        ref = sets[index - delta_idx]
        used_by_curr, use_delta = [], []
        for _ in range(ref.count + 1):
            used = r.flag()
            used_by_curr.append(used)
            use_delta.append(True if used else r.flag())
        n_neg = len(ref.negative)
        negative, used_negative, positive, used_positive = [], [], [], []
        for j in range(len(ref.positive) - 1, -1, -1):
            poc = ref.positive[j] + delta_rps
            if poc < 0 and use_delta[n_neg + j]:
                negative.append(poc)
                used_negative.append(used_by_curr[n_neg + j])
        if delta_rps < 0 and use_delta[ref.count]:
            negative.append(delta_rps)
            used_negative.append(used_by_curr[ref.count])
        for j in range(n_neg):
            poc = ref.negative[j] + delta_rps
            if poc < 0 and use_delta[j]:
                negative.append(poc)
                used_negative.append(used_by_curr[j])
        for j in range(n_neg - 1, -1, -1):
            poc = ref.negative[j] + delta_rps
            if poc > 0 and use_delta[j]:
                positive.append(poc)
                used_positive.append(used_by_curr[j])
        if delta_rps > 0 and use_delta[ref.count]:
            positive.append(delta_rps)
            used_positive.append(used_by_curr[ref.count])
        for j in range(len(ref.positive)):
            poc = ref.positive[j] + delta_rps
            if poc > 0 and use_delta[n_neg + j]:
                positive.append(poc)
                used_positive.append(used_by_curr[n_neg + j])
        return _ShortTermSet(tuple(negative), tuple(used_negative), tuple(positive), tuple(used_positive))
    num_negative, num_positive = r.ue(), r.ue()
    if num_negative > 16 or num_positive > 16:
        raise UnsupportedStream("a short-term reference set larger than any decoder's picture buffer")
    negative, used_negative, positive, used_positive = [], [], [], []
    poc = 0
    for _ in range(num_negative):
        poc -= r.ue() + 1
        negative.append(poc)
        used_negative.append(r.flag())
    poc = 0
    for _ in range(num_positive):
        poc += r.ue() + 1
        positive.append(poc)
        used_positive.append(r.flag())
    return _ShortTermSet(tuple(negative), tuple(used_negative), tuple(positive), tuple(used_positive))


def _profile_tier_level(r: BitReader, max_sub_layers_minus1: int) -> None:
    """profile_tier_level(1, sps_max_sub_layers_minus1) (7.3.3): skipped, sub-layer flags and all."""
    r.pos += 88 + 8  # general profile (2+1+5+32+4+43+1 bits) and general_level_idc
    profile, level = [], []
    for _ in range(max_sub_layers_minus1):
        profile.append(r.flag())  # sub_layer_profile_present_flag[i]
        level.append(r.flag())  # sub_layer_level_present_flag[i]
    if max_sub_layers_minus1 > 0:
        r.pos += 2 * (8 - max_sub_layers_minus1)  # reserved_zero_2bits
    for i in range(max_sub_layers_minus1):
        r.pos += 88 * profile[i] + 8 * level[i]
    if r.pos > r.limit:
        raise _Short


def _scaling_list_data(r: BitReader) -> None:
    for size_id in range(4):
        for _ in range(0, 6, 3 if size_id == 3 else 1):
            if not r.flag():  # scaling_list_pred_mode_flag
                r.ue()  # scaling_list_pred_matrix_id_delta
                continue
            if size_id > 1:
                r.se()  # scaling_list_dc_coef_minus8
            for _ in range(min(64, 1 << (4 + (size_id << 1)))):
                r.se()


def _sub_layer_hrd(r: BitReader, cpb_count: int, sub_pic: bool) -> None:
    for _ in range(cpb_count):
        r.ue(), r.ue()  # bit_rate_value_minus1, cpb_size_value_minus1
        if sub_pic:
            r.ue(), r.ue()
        r.flag()  # cbr_flag


@dataclass(frozen=True, slots=True)
class _Hrd:
    """What a buffering period SEI needs of the SPS's HRD parameters."""

    nal: bool
    vcl: bool
    sub_pic: bool
    initial_delay_bits: int
    au_delay_bits: int
    dpb_delay_bits: int
    cpb_count: int  # of sub-layer 0


def _hrd_parameters(r: BitReader, max_sub_layers_minus1: int) -> _Hrd:
    """hrd_parameters(1, sps_max_sub_layers_minus1) (E.2.2)."""
    nal, vcl = r.flag(), r.flag()
    sub_pic = False
    initial_delay_bits = au_delay_bits = dpb_delay_bits = 24
    if nal or vcl:
        sub_pic = r.flag()
        if sub_pic:
            r.u(8), r.u(5), r.flag(), r.u(5)
        r.u(4), r.u(4)  # bit_rate_scale, cpb_size_scale
        if sub_pic:
            r.u(4)
        initial_delay_bits, au_delay_bits, dpb_delay_bits = r.u(5) + 1, r.u(5) + 1, r.u(5) + 1
    counts = []
    for _ in range(max_sub_layers_minus1 + 1):
        fixed_within_cvs = True if r.flag() else r.flag()
        low_delay = False
        if fixed_within_cvs:
            r.ue()  # elemental_duration_in_tc_minus1
        else:
            low_delay = r.flag()
        cpb_count = 1 if low_delay else r.ue() + 1
        if cpb_count > 32:
            raise UnsupportedStream("more than 32 CPB specifications in the HRD parameters")
        counts.append(cpb_count)
        if nal:
            _sub_layer_hrd(r, cpb_count, sub_pic)
        if vcl:
            _sub_layer_hrd(r, cpb_count, sub_pic)
    return _Hrd(nal, vcl, sub_pic, initial_delay_bits, au_delay_bits, dpb_delay_bits, counts[0])


def _vui_parameters(r: BitReader, max_sub_layers_minus1: int) -> _Hrd | None:
    """vui_parameters() (E.2.1): nothing in it matters to slice headers, but the extension flags come after."""
    if r.flag() and r.u(8) == 255:  # aspect_ratio_info_present_flag, aspect_ratio_idc (255: EXTENDED_SAR)
        r.u(16), r.u(16)
    if r.flag():  # overscan_info_present_flag
        r.flag()
    if r.flag():  # video_signal_type_present_flag
        r.u(3), r.flag()
        if r.flag():  # colour_description_present_flag
            r.u(8), r.u(8), r.u(8)
    if r.flag():  # chroma_loc_info_present_flag
        r.ue(), r.ue()
    r.flag(), r.flag(), r.flag()  # neutral_chroma_indication, field_seq, frame_field_info_present
    if r.flag():  # default_display_window_flag
        r.ue(), r.ue(), r.ue(), r.ue()
    hrd = None
    if r.flag():  # vui_timing_info_present_flag
        r.u(32), r.u(32)
        if r.flag():  # vui_poc_proportional_to_timing_flag
            r.ue()
        if r.flag():  # vui_hrd_parameters_present_flag
            hrd = _hrd_parameters(r, max_sub_layers_minus1)
    if r.flag():  # bitstream_restriction_flag
        r.flag(), r.flag(), r.flag()
        r.ue(), r.ue(), r.ue(), r.ue(), r.ue()
    return hrd


@dataclass(frozen=True, slots=True)
class _Sps:
    """What slice segment headers need of an SPS."""

    chroma_array_type: int
    separate_colour_plane: bool
    poc_lsb_bits: int
    short_term_sets: tuple[_ShortTermSet, ...]
    long_term_present: bool
    long_term_used: tuple[bool, ...]  # used_by_curr_pic_lt_sps_flag
    temporal_mvp: bool
    sao: bool
    address_bits: int
    hrd: _Hrd | None


@dataclass(frozen=True, slots=True)
class _Pps:
    """What slice segment headers need of a PPS."""

    dependent_slices: bool
    output_flag_present: bool
    extra_slice_header_bits: int
    cabac_init_present: bool
    num_ref_idx_l0_default: int
    num_ref_idx_l1_default: int
    slice_chroma_qp_offsets: bool
    weighted_pred: bool
    weighted_bipred: bool
    entry_points: bool  # tiles_enabled_flag or entropy_coding_sync_enabled_flag
    loop_filter_across_slices: bool
    deblocking_override: bool
    deblocking_disabled: bool
    lists_modification: bool
    header_extension: bool
    chroma_qp_offset_list: bool


def _parse_sps(r: BitReader) -> tuple[int, int, int, _Sps]:
    """An SPS from just after its VPS id to the end of its VUI and extension flags: (its id, where the id starts
    and ends, fields)."""
    r.pos = 4
    max_sub_layers_minus1 = r.u(3)
    r.flag()  # sps_temporal_id_nesting_flag
    _profile_tier_level(r, max_sub_layers_minus1)
    id_start = r.pos
    sps_id = r.ue()
    id_end = r.pos
    chroma_format_idc = r.ue()
    separate = chroma_format_idc == 3 and r.flag()
    width, height = r.ue(), r.ue()
    if r.flag():  # conformance_window_flag
        r.ue(), r.ue(), r.ue(), r.ue()
    r.ue(), r.ue()  # bit depths
    poc_lsb_bits = r.ue() + 4
    ordering_all = r.flag()
    for _ in range(0 if ordering_all else max_sub_layers_minus1, max_sub_layers_minus1 + 1):
        r.ue(), r.ue(), r.ue()
    min_cb = r.ue() + 3
    ctb_log2 = min_cb + r.ue()
    r.ue(), r.ue(), r.ue(), r.ue()  # transform sizes and depths
    if r.flag() and r.flag():  # scaling_list_enabled_flag, sps_scaling_list_data_present_flag
        _scaling_list_data(r)
    r.flag()  # amp_enabled_flag
    sao = r.flag()
    if r.flag():  # pcm_enabled_flag
        r.u(4), r.u(4), r.ue(), r.ue(), r.flag()
    count = r.ue()
    if count > 64:
        raise UnsupportedStream("more than 64 short-term reference sets in an SPS")
    sets: list[_ShortTermSet] = []
    for index in range(count):
        sets.append(_short_term_set(r, index, count, sets))
    long_term_present = r.flag()
    long_term_used = []
    if long_term_present:
        long_term_sps = r.ue()
        if long_term_sps > 32:
            raise UnsupportedStream("more than 32 long-term reference pictures in an SPS")
        for _ in range(long_term_sps):
            r.u(poc_lsb_bits)
            long_term_used.append(r.flag())
    temporal_mvp = r.flag()
    r.flag()  # strong_intra_smoothing_enabled_flag
    hrd = _vui_parameters(r, max_sub_layers_minus1) if r.flag() else None  # vui_parameters_present_flag
    if r.flag():  # sps_extension_present_flag
        r.flag()  # sps_range_extension_flag: nothing in it changes slice headers
        if r.flag() or r.flag() or r.flag():
            raise UnsupportedStream("an SPS with multilayer, 3D or screen-content extensions")
        r.u(4)  # sps_extension_4bits: extension data only
    ctb = 1 << ctb_log2
    pic_size_in_ctbs = -(-width // ctb) * -(-height // ctb)
    return sps_id, id_start, id_end, _Sps(
        chroma_array_type=0 if separate else chroma_format_idc, separate_colour_plane=separate,
        poc_lsb_bits=poc_lsb_bits, short_term_sets=tuple(sets), long_term_present=long_term_present,
        long_term_used=tuple(long_term_used), temporal_mvp=temporal_mvp, sao=sao,
        address_bits=_ceil_log2(pic_size_in_ctbs), hrd=hrd,
    )


def _parse_pps(r: BitReader) -> tuple[int, int, int, _Pps]:
    """A PPS from its start: (its id, its SPS's id, where the ids end, fields)."""
    pps_id, sps_id = r.ue(), r.ue()
    ids_end = r.pos
    dependent, output_flag = r.flag(), r.flag()
    extra_bits = r.u(3)
    r.flag()  # sign_data_hiding_enabled_flag
    cabac_init = r.flag()
    l0_default, l1_default = r.ue() + 1, r.ue() + 1
    r.se()  # init_qp_minus26
    r.flag()  # constrained_intra_pred_flag
    transform_skip = r.flag()
    if r.flag():  # cu_qp_delta_enabled_flag
        r.ue()
    r.se(), r.se()  # pps_cb_qp_offset, pps_cr_qp_offset
    chroma_offsets = r.flag()
    weighted_pred, weighted_bipred = r.flag(), r.flag()
    r.flag()  # transquant_bypass_enabled_flag
    tiles, sync = r.flag(), r.flag()
    if tiles:
        columns, rows = r.ue() + 1, r.ue() + 1
        if not r.flag():  # uniform_spacing_flag
            for _ in range(columns - 1 + rows - 1):
                r.ue()
        r.flag()  # loop_filter_across_tiles_enabled_flag
    across_slices = r.flag()
    override = disabled = False
    if r.flag():  # deblocking_filter_control_present_flag
        override, disabled = r.flag(), r.flag()
        if not disabled:
            r.se(), r.se()
    if r.flag():  # pps_scaling_list_data_present_flag
        _scaling_list_data(r)
    lists_modification = r.flag()
    r.ue()  # log2_parallel_merge_level_minus2
    header_extension = r.flag()
    chroma_qp_offset_list = False
    if r.flag():  # pps_extension_present_flag
        range_extension = r.flag()
        if r.flag() or r.flag() or r.flag():
            raise UnsupportedStream("a PPS with multilayer, 3D or screen-content extensions")
        r.u(4)  # pps_extension_4bits
        if range_extension:
            if transform_skip:
                r.ue()  # log2_max_transform_skip_block_size_minus2
            r.flag()  # cross_component_prediction_enabled_flag
            chroma_qp_offset_list = r.flag()
    return pps_id, sps_id, ids_end, _Pps(
        dependent_slices=dependent, output_flag_present=output_flag, extra_slice_header_bits=extra_bits,
        cabac_init_present=cabac_init, num_ref_idx_l0_default=l0_default, num_ref_idx_l1_default=l1_default,
        slice_chroma_qp_offsets=chroma_offsets, weighted_pred=weighted_pred, weighted_bipred=weighted_bipred,
        entry_points=tiles or sync, loop_filter_across_slices=across_slices, deblocking_override=override,
        deblocking_disabled=disabled, lists_modification=lists_modification, header_extension=header_extension,
        chroma_qp_offset_list=chroma_qp_offset_list,
    )


def _pred_weight_table(r: BitReader, sps: _Sps, slice_type: int, l0: int, l1: int) -> None:
    r.ue()  # luma_log2_weight_denom
    chroma = sps.chroma_array_type != 0
    if chroma:
        r.se()
    for count in (l0, l1) if slice_type == _B else (l0,):
        luma = [r.flag() for _ in range(count)]
        chroma_flags = [r.flag() for _ in range(count)] if chroma else [False] * count
        for i in range(count):
            if luma[i]:
                r.se(), r.se()
            if chroma_flags[i]:
                r.se(), r.se(), r.se(), r.se()


def _sei_payload_end(w: BitWriter, r: BitReader, resume: int, name: str) -> bytes:
    """An SEI payload whose rewritten fields are in `w` and whose unchanged rest in `r`'s payload starts at
    `resume`: the rest copied (extension data too), and the payload's alignment where it needs one."""
    fields_end = r.pos
    payload = r.data
    total = len(payload) * 8
    if fields_end == total:
        core = total
    else:  # what follows (later fields, extensions) ends with payload_bit_equal_to_one and 0s
        tail = payload.rstrip(b"\x00")
        core = len(tail) * 8 - (tail[-1] & -tail[-1]).bit_length() if tail else 0
        if core < fields_end:
            raise UnsupportedStream(f"a {name} SEI that does not end where its fields say")
    w.copy(r, resume, core)
    if core == fields_end and w.length % 8 == 0:
        return w.value.to_bytes(w.length // 8, "big")
    return w.trailing()


class HevcIds:
    """Rewrites NAL units, one at a time and in decode order, so that the VPS, SPS and PPS all use id `n`.

    Stateful: it learns the SPS and PPS it rewrites, which the slice segment headers after them need to be parsed.
    """

    def __init__(self, n: int) -> None:
        if not 0 <= n <= 15:
            raise ValueError("parameter-set ids shared by VPS, SPS and PPS go from 0 to 15")
        self.n = n
        self._ids: dict[int, int] = {}
        self._sps: _Sps | None = None
        self._pps: _Pps | None = None
        self._vps_layers: int | None = None

    def __call__(self, unit: bytes) -> bytes:
        if len(unit) < 3:
            raise UnsupportedStream("a NAL unit too short to hold anything")
        kind = (unit[0] >> 1) & 0x3F
        layered = ((unit[0] & 1) << 5) | (unit[1] >> 3)
        if layered and (kind in _SLICES or kind in (VPS, SPS, PPS, PREFIX_SEI)):
            raise UnsupportedStream("a layered stream (NAL units for a layer other than the base)")
        if kind in _SLICES:
            return self._slice(unit, kind)
        if kind in _RESERVED_VCL:
            raise UnsupportedStream(f"a reserved picture NAL unit type ({kind})")
        if kind == VPS:
            return self._vps(unit)
        if kind == SPS:
            return self._sps_unit(unit)
        if kind == PPS:
            return self._pps_unit(unit)
        if kind == PREFIX_SEI:
            return self._sei(unit)
        return unit

    def _learn(self, kind: int, number: int, name: str) -> None:
        known = self._ids.setdefault(kind, number)
        if known != number:
            raise UnsupportedStream(f"more than one {name} id in the stream ({known} and {number})")

    def _vps(self, unit: bytes) -> bytes:
        rbsp = unescape(unit[2:])
        self._learn(VPS, rbsp[0] >> 4, "VPS")
        r = BitReader(rbsp, 4)
        base_layer_internal = r.flag()
        r.flag()  # vps_base_layer_available_flag
        max_layers_minus1 = r.u(6)
        # layer_sps_idx entries an active parameter sets SEI has
        self._vps_layers = max(0, min(62, max_layers_minus1) + 1 - base_layer_internal)
        return unit[:2] + escape(bytes([(self.n << 4) | (rbsp[0] & 0x0F)]) + rbsp[1:])

    def _sps_unit(self, unit: bytes) -> bytes:
        rbsp = unescape(unit[2:])
        r = BitReader(rbsp)
        stop = _stop_bit(rbsp)
        vps_id = r.u(4)
        if VPS in self._ids and self._ids[VPS] != vps_id:
            raise UnsupportedStream("an SPS that refers to a VPS the stream does not define")
        try:
            sps_id, id_start, id_end, sps = _parse_sps(r)
        except _Short:
            raise UnsupportedStream("an SPS shorter than its own fields") from None
        if r.pos > stop:
            raise UnsupportedStream("an SPS shorter than its own fields")
        self._learn(SPS, sps_id, "SPS")
        self._sps = sps
        w = BitWriter()
        w.u(4, self.n)
        w.copy(r, 4, id_start)
        w.ue(self.n)
        w.copy(r, id_end, stop)
        return unit[:2] + escape(w.trailing())

    def _pps_unit(self, unit: bytes) -> bytes:
        rbsp = unescape(unit[2:])
        r = BitReader(rbsp)
        stop = _stop_bit(rbsp)
        try:
            pps_id, sps_id, ids_end, pps = _parse_pps(r)
        except _Short:
            raise UnsupportedStream("a PPS shorter than its own fields") from None
        if r.pos > stop:
            raise UnsupportedStream("a PPS shorter than its own fields")
        if SPS in self._ids and self._ids[SPS] != sps_id:
            raise UnsupportedStream("a PPS that refers to an SPS the stream does not define")
        self._learn(PPS, pps_id, "PPS")
        self._pps = pps
        w = BitWriter()
        w.ue(self.n)
        w.ue(self.n)
        w.copy(r, ids_end, stop)
        return unit[:2] + escape(w.trailing())

    def _sei(self, unit: bytes) -> bytes:
        """Prefix SEI pass unchanged but for the ids of buffering periods and active parameter sets, rewritten.
        Refused: other SEI that name ids (structure of pictures, and nestings that may hold any of them)."""
        rbsp = unescape(unit[2:])
        end = len(rbsp.rstrip(b"\x00")) - 1  # the last byte holds rbsp_trailing_bits
        at, messages, changed = 0, [], False
        while at < end:
            payload_type = 0
            while at < end and rbsp[at] == 0xFF:
                payload_type, at = payload_type + 255, at + 1
            if at >= end:
                raise UnsupportedStream("an SEI message cut short")
            payload_type, at = payload_type + rbsp[at], at + 1
            size = 0
            while at < end and rbsp[at] == 0xFF:
                size, at = size + 255, at + 1
            if at >= end:
                raise UnsupportedStream("an SEI message cut short")
            size, at = size + rbsp[at], at + 1
            payload = rbsp[at:at + size]
            if len(payload) < size:
                raise UnsupportedStream("an SEI message cut short")
            at += size
            if payload_type in _SEI_WITH_IDS:
                raise UnsupportedStream(f"a {_SEI_WITH_IDS[payload_type]} SEI, which names parameter-set ids")
            if payload_type == _BUFFERING_PERIOD:
                payload, changed = self._buffering_period(payload), True
            elif payload_type == _ACTIVE_PARAMETER_SETS:
                payload, changed = self._active_parameter_sets(payload), True
            messages.append((payload_type, payload))
        if not changed:
            return unit
        out = bytearray()
        for payload_type, payload in messages:
            for number in (payload_type, len(payload)):
                out += b"\xff" * (number // 255) + bytes([number % 255])
            out += payload
        return unit[:2] + escape(bytes(out) + rbsp[end:])

    def _buffering_period(self, payload: bytes) -> bytes:
        """buffering_period() (D.2.2) with bp_seq_parameter_set_id renumbered, the rest shifted after it."""
        sps = self._sps
        if sps is None or sps.hrd is None:
            raise UnsupportedStream("a buffering period SEI before an SPS with HRD parameters")
        hrd = sps.hrd
        r = BitReader(payload)
        try:
            if r.ue() != self._ids.get(SPS):
                raise UnsupportedStream("a buffering period SEI for an SPS the stream does not define")
            id_end = r.pos
            irap = False if hrd.sub_pic else r.flag()  # irap_cpb_params_present_flag
            if irap:
                r.u(hrd.au_delay_bits), r.u(hrd.dpb_delay_bits)  # cpb_delay_offset, dpb_delay_offset
            r.flag()  # concatenation_flag
            r.u(hrd.au_delay_bits)  # au_cpb_removal_delay_delta_minus1
            for present in (hrd.nal, hrd.vcl):
                if present:
                    r.u(hrd.initial_delay_bits * hrd.cpb_count * (4 if hrd.sub_pic or irap else 2))
        except _Short:
            raise UnsupportedStream("a buffering period SEI shorter than its fields") from None
        w = BitWriter()
        w.ue(self.n)
        return _sei_payload_end(w, r, id_end, "buffering period")

    def _active_parameter_sets(self, payload: bytes) -> bytes:
        """active_parameter_sets() (D.2.21) with its VPS and SPS ids renumbered."""
        r = BitReader(payload)
        try:
            if r.u(4) != self._ids.get(VPS) or self._vps_layers is None:
                raise UnsupportedStream("an active parameter sets SEI for a VPS the stream does not define")
            flags = r.u(2)  # self_contained_cvs_flag, no_parameter_set_update_flag
            count = r.ue() + 1
            if count > 16:
                raise UnsupportedStream("an active parameter sets SEI naming more than 16 SPS")
            if any(r.ue() != self._ids.get(SPS) for _ in range(count)):
                raise UnsupportedStream("an active parameter sets SEI naming an SPS the stream does not define")
            if self._vps_layers:
                raise UnsupportedStream("an active parameter sets SEI of a layered stream")
        except _Short:
            raise UnsupportedStream("an active parameter sets SEI shorter than its fields") from None
        w = BitWriter()
        w.u(4, self.n)
        w.u(2, flags)
        w.ue(count - 1)
        for _ in range(count):
            w.ue(self.n)
        return _sei_payload_end(w, r, r.pos, "active parameter sets")

    def _slice(self, unit: bytes, kind: int) -> bytes:
        prefix = 96
        while True:
            end = min(len(unit), 2 + prefix)
            rbsp, removed = _unescape_prefix(unit, 2, end)
            try:
                return self._slice_from(unit, kind, rbsp, removed)
            except _Short:
                if end == len(unit):
                    raise UnsupportedStream("a slice segment header longer than its NAL unit") from None
                prefix *= 4

    def _slice_from(self, unit: bytes, kind: int, rbsp: bytes, removed: list[int]) -> bytes:
        r = BitReader(rbsp)
        first_in_picture = r.flag()
        if 16 <= kind <= 23:
            r.flag()  # no_output_of_prior_pics_flag
        id_start = r.pos
        pps_id = r.ue()
        id_end = r.pos
        sps, pps = self._sps, self._pps
        if pps is None or sps is None or self._ids.get(PPS) != pps_id:
            raise UnsupportedStream(f"a slice that refers to PPS {pps_id}, which the stream has not defined before it")
        dependent = False
        if not first_in_picture:
            if pps.dependent_slices:
                dependent = r.flag()
            r.u(sps.address_bits)  # slice_segment_address
        if not dependent:
            r.u(pps.extra_slice_header_bits)
            slice_type = r.ue()
            if slice_type > 2:
                raise UnsupportedStream(f"a slice of unknown type {slice_type}")
            if pps.output_flag_present:
                r.flag()
            if sps.separate_colour_plane:
                r.u(2)
            total_curr = 0
            slice_temporal_mvp = False
            if kind not in _IDR:
                r.u(sps.poc_lsb_bits)
                count = len(sps.short_term_sets)
                if not r.flag():  # short_term_ref_pic_set_sps_flag
                    current = _short_term_set(r, count, count, list(sps.short_term_sets))
                else:
                    index = r.u(_ceil_log2(count)) if count > 1 else 0
                    if index >= count:
                        raise UnsupportedStream("a slice that uses a short-term reference set the SPS lacks")
                    current = sps.short_term_sets[index]
                total_curr = current.used
                if sps.long_term_present:
                    in_sps = len(sps.long_term_used)
                    from_sps = r.ue() if in_sps > 0 else 0
                    pictures = r.ue()
                    if from_sps > in_sps or from_sps + pictures > 32:
                        raise UnsupportedStream("a slice with more long-term reference pictures than it may have")
                    for i in range(from_sps + pictures):
                        if i < from_sps:
                            index = r.u(_ceil_log2(in_sps)) if in_sps > 1 else 0  # lt_idx_sps
                            if index >= in_sps:
                                raise UnsupportedStream("a slice that uses a long-term picture the SPS lacks")
                            total_curr += sps.long_term_used[index]
                        else:
                            r.u(sps.poc_lsb_bits)  # poc_lsb_lt
                            total_curr += r.flag()  # used_by_curr_pic_lt_flag
                        if r.flag():  # delta_poc_msb_present_flag
                            r.ue()  # delta_poc_msb_cycle_lt
                if sps.temporal_mvp:
                    slice_temporal_mvp = r.flag()
            if sps.sao:
                sao_luma = r.flag()
                sao_chroma = r.flag() if sps.chroma_array_type != 0 else False
            else:
                sao_luma = sao_chroma = False
            if slice_type != _I:
                l0, l1 = pps.num_ref_idx_l0_default, pps.num_ref_idx_l1_default
                if r.flag():  # num_ref_idx_active_override_flag
                    l0 = r.ue() + 1
                    if slice_type == _B:
                        l1 = r.ue() + 1
                if slice_type != _B:
                    l1 = 0
                if pps.lists_modification and total_curr > 1:
                    bits = _ceil_log2(total_curr)
                    for count in (l0, l1) if slice_type == _B else (l0,):
                        if r.flag():  # ref_pic_list_modification_flag_lX
                            r.u(bits * count)
                if slice_type == _B:
                    r.flag()  # mvd_l1_zero_flag
                if pps.cabac_init_present:
                    r.flag()
                if slice_temporal_mvp:
                    from_l0 = r.flag() if slice_type == _B else True
                    if (from_l0 and l0 > 1) or (not from_l0 and l1 > 1):
                        r.ue()  # collocated_ref_idx
                if (pps.weighted_pred and slice_type == _P) or (pps.weighted_bipred and slice_type == _B):
                    _pred_weight_table(r, sps, slice_type, l0, l1)
                r.ue()  # five_minus_max_num_merge_cand
            r.se()  # slice_qp_delta
            if pps.slice_chroma_qp_offsets:
                r.se(), r.se()
            if pps.chroma_qp_offset_list:
                r.flag()  # cu_chroma_qp_offset_enabled_flag
            override = r.flag() if pps.deblocking_override else False
            if override:
                deblocking_disabled = r.flag()
                if not deblocking_disabled:
                    r.se(), r.se()
            else:
                deblocking_disabled = pps.deblocking_disabled
            if pps.loop_filter_across_slices and (sao_luma or sao_chroma or not deblocking_disabled):
                r.flag()
        if pps.entry_points:
            offsets = r.ue()
            if offsets:
                length = r.ue() + 1
                if length > 32:
                    raise UnsupportedStream("entry point offsets longer than 32 bits")
                r.u(length * offsets)
        if pps.header_extension:
            r.u(8 * r.ue())
        header_end = r.pos
        # byte_alignment(): a 1, then 0s to the boundary
        pad = -(header_end + 1) % 8
        if r.u(1) != 1 or r.u(pad) != 0:
            raise UnsupportedStream("a slice segment header that does not end where its fields say")
        data = r.pos // 8
        w = BitWriter()
        w.copy(r, 0, id_start)
        w.ue(self.n)
        w.copy(r, id_end, header_end)
        header = escape(w.trailing())
        # The header's last byte holds the alignment 1 bit, so no emulation-prevention byte falls between header
        # and data: the slice data's bytes, prevention bytes included, are the unit's own from there on.
        raw_data = data
        for position in removed:
            if position <= raw_data:
                raw_data += 1
            else:
                break
        return unit[:2] + header + unit[2 + raw_data:]


CRA, BLA_N_LP = 21, 18


class SpliceAtStart:
    """Rewrites, in decode order, the NAL units of a run of pictures copied from a stream into another: when the
    run starts at a CRA picture, that picture becomes a BLA one, as H.265 has streams spliced at a CRA do.

    A CRA picture in the middle of a stream may name, in its reference picture set, pictures before it that only
    its leading pictures use; after a splice those are gone, and a decoder would look for them. A BLA picture
    starts afresh (H.265 8.3.2). Copies start only at keyframes that no later frame is shown before (see
    `kalinsky_core.copying`), so the picture has no leading pictures: BLA_N_LP. Later CRA pictures stay as they
    are: the pictures before them are there.
    """

    def __init__(self) -> None:
        self._first_picture = True

    def __call__(self, unit: bytes) -> bytes:
        kind = (unit[0] >> 1) & 0x3F
        if kind in _SLICES and self._first_picture:
            if kind == CRA:
                return bytes([(unit[0] & 0x81) | (BLA_N_LP << 1)]) + unit[1:]
            self._first_picture = False
        return unit
