"""ISO BMFF (MP4, MOV) files: the first video track's sample entry and samples, read and rewritten.

- `open_video(path) -> VideoTrack`: the file's first video track (handler `vide`): `fourcc` of its sample entry
  ("avc1", "avc3", "hvc1", "hev1"...), `record` (records.Record: `units`, the NAL units of its avcC/hvcC, and
  `length_size`, or None for other codecs), `codec` ("h264", "hevc" or None), `sample_count`, and `samples()`,
  which reads them lazily, in decode order, as Sample(data, sync) (stsz/stz2, stco/co64, stsc; no stss: every
  sample is a sync sample). `find_units(types)` reads only the NAL headers of the samples and returns the whole
  units of those types (e.g. in-band parameter sets).
- `put_parameter_sets(path, units, faststart=None)`: the track's record made to hold exactly `units` (None: kept)
  (records.build_record; array_completeness 1 for `avc1`/`hvc1`), every enclosing box resized and every track's
  chunk offsets moved by the change (stco becomes co64 where an offset no longer fits). Written aside, then put in
  place with os.replace. `faststart`: True puts the movie box before the media data, False after it, None keeps
  the file's order.
- `rewrite_nal_units(source, destination, transform, parameter_sets=None, faststart=None)`: every NAL unit of the
  video track's record, then of its samples in decode order, passes through `transform(unit) -> bytes | None`
  (None drops it; a sample that loses every unit is kept, empty). With `parameter_sets`, the record holds exactly
  those instead (not passed through `transform`). Other tracks' samples are copied byte for byte; all samples
  go into one media data box, chunks in their order in the source; sizes and offsets are rewritten.

Fragmented files (moof, mvex) are refused with Mp4Error, as are files whose video chunks are not stored in
decode order. The box tree holds only what needs rewriting (moov, trak, mdia, minf, stbl, stsd and video sample
entries); every other box is kept as its bytes.
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from kalinsky_adapters.mp4.records import (
    RECORD_CODEC,
    Mp4Error,
    Record,
    build_record,
    nal_type,
    parse_record,
)

_CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl"})
#: Visual sample entries whose decoder configuration record this package reads.
VIDEO_ENTRIES = frozenset({b"avc1", b"avc2", b"avc3", b"avc4", b"hvc1", b"hev1"})
_VISUAL_FIELDS = 78  # SampleEntry (8) and VisualSampleEntry fields (70) before the entry's boxes
_U32 = 0xFFFFFFFF
_COPY_BLOCK = 8 << 20

Transform = Callable[[bytes], "bytes | None"]


@dataclass
class Box:
    """A box: `data` is a leaf's payload, or a container's fields before its children (stsd's entry count...);
    `tail` holds bytes after the children that are not boxes."""

    type: bytes
    data: bytes = b""
    children: list[Box] | None = None
    tail: bytes = b""

    def child(self, kind: bytes) -> Box | None:
        return next((box for box in self.children or () if box.type == kind), None)

    def path(self, *kinds: bytes) -> Box | None:
        box: Box | None = self
        for kind in kinds:
            box = box.child(kind) if box is not None else None
        return box

    def to_bytes(self) -> bytes:
        body = self.data + b"".join(child.to_bytes() for child in self.children or ()) + self.tail
        if len(body) + 8 <= _U32:
            return struct.pack(">I4s", len(body) + 8, self.type) + body
        return struct.pack(">I4sQ", 1, self.type, len(body) + 16) + body


def _parse(data: bytes, kind: bytes) -> Box:
    """The box of type `kind` whose payload is `data`, its children parsed where this package needs them."""
    if kind in _CONTAINERS:
        prefix = 0
    elif kind == b"stsd":
        prefix = 8
    elif kind in VIDEO_ENTRIES:
        prefix = _VISUAL_FIELDS
    else:
        return Box(kind, data)
    if kind == b"moov" and b"mvex" in _types(data):
        raise Mp4Error("fragmented MP4 is not supported")
    children, pos = [], prefix
    while pos + 8 <= len(data):
        size, child = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > len(data):
                break
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = len(data) - pos
        if size < header or pos + size > len(data):
            break
        children.append(_parse(data[pos + header:pos + size], child))
        pos += size
    return Box(kind, data[:prefix], children, data[pos:])


def _types(data: bytes) -> set[bytes]:
    found, pos = set(), 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        found.add(kind)
        if size < 8:
            break
        pos += size
    return found


@dataclass(frozen=True)
class TopBox:
    """A box at the file's top level: type, where it starts, its size and its header's size."""

    type: bytes
    offset: int
    size: int
    header: int

    @property
    def end(self) -> int:
        return self.offset + self.size


def top_boxes(handle: BinaryIO) -> list[TopBox]:
    size_of_file = os.fstat(handle.fileno()).st_size
    found, pos = [], 0
    while pos + 8 <= size_of_file:
        handle.seek(pos)
        head = handle.read(16)
        size, kind = struct.unpack_from(">I4s", head)
        header = 8
        if size == 1:
            if len(head) < 16:
                raise Mp4Error("the file ends inside a box header")
            (size,) = struct.unpack_from(">Q", head, 8)
            header = 16
        elif size == 0:
            size = size_of_file - pos
        if size < header:
            raise Mp4Error(f"a damaged box ({kind!r}) at byte {pos}")
        if pos + size > size_of_file:
            if kind != b"mdat":
                raise Mp4Error(f"the file ends inside its {kind.decode('latin-1')!r} box")
            size = size_of_file - pos  # a media data box cut short: its samples are checked one by one
        if kind == b"moof":
            raise Mp4Error("fragmented MP4 is not supported")
        found.append(TopBox(kind, pos, size, header))
        pos += size
    return found


@dataclass
class Table:
    """A track's sample table, expanded: sizes per sample, offset and sample count per chunk, sync samples
    (indexes from 0; None: all)."""

    sizes: list[int]
    chunks: list[int]
    per_chunk: list[int]
    sync: frozenset[int] | None

    def samples(self) -> Iterator[tuple[int, int, int]]:
        """(chunk index, offset, size) of every sample, in decode order."""
        n = 0
        for chunk, (offset, count) in enumerate(zip(self.chunks, self.per_chunk, strict=True)):
            for size in self.sizes[n:n + count]:
                yield chunk, offset, size
                offset += size
            n += count


def _full(box: Box | None, kind: str) -> bytes:
    if box is None:
        raise Mp4Error(f"a track has no {kind} box")
    return box.data[4:]


def read_table(stbl: Box) -> Table:
    try:
        if (stsz := stbl.child(b"stsz")) is not None:
            constant, count = struct.unpack_from(">II", stsz.data, 4)
            sizes = [constant] * count if constant else list(struct.unpack_from(f">{count}I", stsz.data, 12))
        elif (stz2 := stbl.child(b"stz2")) is not None:
            bits, count = stz2.data[7], struct.unpack_from(">I", stz2.data, 8)[0]
            raw = stz2.data[12:]
            if bits == 4:
                sizes = [(raw[n // 2] >> (4 if n % 2 == 0 else 0)) & 15 for n in range(count)]
            else:
                sizes = list(struct.unpack_from(f">{count}{'B' if bits == 8 else 'H'}", raw))
        else:
            raise Mp4Error("a track has no sample sizes")
        if (co64 := stbl.child(b"co64")) is not None:
            (count,) = struct.unpack_from(">I", co64.data, 4)
            chunks = list(struct.unpack_from(f">{count}Q", co64.data, 8))
        else:
            stco = _full(stbl.child(b"stco"), "chunk offset")
            (count,) = struct.unpack_from(">I", stco)
            chunks = list(struct.unpack_from(f">{count}I", stco, 4))
        stsc = _full(stbl.child(b"stsc"), "sample-to-chunk")
        (entries,) = struct.unpack_from(">I", stsc)
        runs = [struct.unpack_from(">III", stsc, 4 + 12 * n)[:2] for n in range(entries)]
        per_chunk = []
        for n, (first, count) in enumerate(runs):
            last = runs[n + 1][0] - 1 if n + 1 < len(runs) else len(chunks)
            per_chunk += [count] * max(0, min(last, len(chunks)) - first + 1)
        per_chunk += [0] * (len(chunks) - len(per_chunk))
        sync = None
        if (stss := stbl.child(b"stss")) is not None:
            (count,) = struct.unpack_from(">I", stss.data, 4)
            sync = frozenset(n - 1 for n in struct.unpack_from(f">{count}I", stss.data, 8))
    except struct.error as error:
        raise Mp4Error("a damaged sample table") from error
    if sum(per_chunk) != len(sizes):
        raise Mp4Error(f"a sample table places {sum(per_chunk)} samples in chunks, but sizes {len(sizes)}")
    return Table(sizes, chunks, per_chunk, sync)


def _handler(trak: Box) -> bytes:
    hdlr = trak.path(b"mdia", b"hdlr")
    return hdlr.data[8:12] if hdlr is not None else b""


@dataclass(frozen=True)
class Sample:
    data: bytes
    sync: bool


@dataclass
class Movie:
    """A file's layout and its movie box, parsed."""

    path: Path
    boxes: list[TopBox]
    moov: Box

    @property
    def moov_box(self) -> TopBox:
        return next(box for box in self.boxes if box.type == b"moov")

    def tracks(self) -> list[Box]:
        return [box for box in self.moov.children or () if box.type == b"trak"]

    def video(self) -> Box:
        for trak in self.tracks():
            if _handler(trak) == b"vide":
                return trak
        raise Mp4Error("the file has no video track")


def read_movie(path: Path | str) -> Movie:
    path = Path(path)
    with open(path, "rb") as handle:
        boxes = top_boxes(handle)
        moovs = [box for box in boxes if box.type == b"moov"]
        if not moovs:
            raise Mp4Error("the file has no movie box (moov)")
        handle.seek(moovs[0].offset + moovs[0].header)
        data = handle.read(moovs[0].size - moovs[0].header)
    return Movie(path, boxes, _parse(data, b"moov"))


def _stbl(trak: Box) -> Box:
    stbl = trak.path(b"mdia", b"minf", b"stbl")
    if stbl is None:
        raise Mp4Error("a track has no sample table")
    return stbl


def _entries(trak: Box) -> list[Box]:
    stsd = _stbl(trak).child(b"stsd")
    return list(stsd.children or ()) if stsd is not None else []


def _record_of(entry: Box) -> Record | None:
    for kind in RECORD_CODEC:
        if (box := entry.child(kind.encode())) is not None:
            return parse_record(kind, box.data)
    return None


@dataclass
class VideoTrack:
    """The first video track of a file (see the module's description)."""

    path: Path
    fourcc: str
    record: Record | None
    table: Table

    @property
    def codec(self) -> str | None:
        return self.record.codec if self.record is not None else None

    @property
    def sample_count(self) -> int:
        return len(self.table.sizes)

    def samples(self) -> Iterator[Sample]:
        sync = self.table.sync
        with open(self.path, "rb") as handle:
            for n, (_chunk, offset, size) in enumerate(self.table.samples()):
                handle.seek(offset)
                data = handle.read(size)
                if len(data) != size:
                    raise Mp4Error(f"sample {n} lies past the end of the file")
                yield Sample(data, sync is None or n in sync)

    def find_units(self, types: frozenset[int] | set[int]) -> list[bytes]:
        """Every NAL unit of the samples whose type is one of `types`, in decode order; only the NAL headers
        of the others are read."""
        if self.record is None:
            raise Mp4Error(f"no NAL units known in {self.fourcc!r} samples")
        codec, length_size, found = self.record.codec, self.record.length_size, []
        with open(self.path, "rb") as handle:
            descriptor = handle.fileno()
            for _chunk, offset, size in self.table.samples():
                pos, end = offset, offset + size
                while pos + length_size < end:
                    head = os.pread(descriptor, length_size + 1, pos)
                    length = int.from_bytes(head[:length_size])
                    if length == 0 or pos + length_size + length > end or len(head) <= length_size:
                        break
                    if nal_type(codec, head[length_size:]) in types:
                        found.append(os.pread(descriptor, length, pos + length_size))
                    pos += length_size + length
        return found


def open_video(path: Path | str) -> VideoTrack:
    movie = read_movie(path)
    trak = movie.video()
    entries = _entries(trak)
    if not entries:
        raise Mp4Error("the video track has no sample entry")
    entry = entries[0]
    record = _record_of(entry) if entry.type in VIDEO_ENTRIES else None
    return VideoTrack(movie.path, entry.type.decode("latin-1"), record, read_table(_stbl(trak)))


def split_units(sample: bytes, length_size: int) -> list[bytes]:
    """The NAL units of a length-prefixed sample."""
    units, pos = [], 0
    while pos + length_size <= len(sample):
        length = int.from_bytes(sample[pos:pos + length_size])
        pos += length_size
        if pos + length > len(sample):
            raise Mp4Error("a NAL unit runs past the end of its sample")
        units.append(sample[pos:pos + length])
        pos += length
    return units


def join_units(units: Sequence[bytes], length_size: int) -> bytes:
    limit = 1 << (8 * length_size)
    if any(len(unit) >= limit for unit in units):
        raise Mp4Error(f"a NAL unit too long for {length_size}-byte lengths")
    return b"".join(len(unit).to_bytes(length_size) + unit for unit in units)


def _set_records(trak: Box, units: Sequence[bytes] | None, transform: Transform | None) -> None:
    """Every avcC/hvcC of the track's video sample entries made to hold `units`, or its own units through
    `transform`."""
    for entry in _entries(trak):
        if entry.type not in VIDEO_ENTRIES:
            continue
        for n, box in enumerate(entry.children or ()):
            if box.type.decode("latin-1") not in RECORD_CODEC:
                continue
            record = parse_record(box.type.decode("latin-1"), box.data)
            kept = list(units) if units is not None else [
                out for unit in record.units if transform is not None and (out := transform(unit)) is not None]
            complete = entry.type in (b"avc1", b"hvc1")
            assert entry.children is not None
            entry.children[n] = Box(box.type, build_record(record, kept, complete))


def _set_offsets(stbl: Box, offsets: Sequence[int]) -> None:
    assert stbl.children is not None
    wide = any(offset > _U32 for offset in offsets)
    box = (Box(b"co64", struct.pack(">II", 0, len(offsets)) + struct.pack(f">{len(offsets)}Q", *offsets)) if wide
           else Box(b"stco", struct.pack(">II", 0, len(offsets)) + struct.pack(f">{len(offsets)}I", *offsets)))
    for n, child in enumerate(stbl.children):
        if child.type in (b"stco", b"co64"):
            stbl.children[n] = box
            return
    stbl.children.append(box)


def _set_sizes(stbl: Box, sizes: Sequence[int]) -> None:
    assert stbl.children is not None
    box = Box(b"stsz", struct.pack(">III", 0, 0, len(sizes)) + struct.pack(f">{len(sizes)}I", *sizes))
    for n, child in enumerate(stbl.children):
        if child.type in (b"stsz", b"stz2"):
            stbl.children[n] = box
            return
    stbl.children.append(box)


def _order(boxes: list[TopBox], faststart: bool | None) -> list[TopBox]:
    """Top-level boxes in the order to write: with `faststart` set, the movie box moved before (True) or after
    (False) the media data."""
    if faststart is None:
        return list(boxes)
    moov = next(box for box in boxes if box.type == b"moov")
    rest = [box for box in boxes if box is not moov]
    media = [n for n, box in enumerate(rest) if box.type == b"mdat"]
    if not media:
        return boxes
    at = media[0] if faststart else media[-1] + 1
    return [*rest[:at], moov, *rest[at:]]


def _temporary(destination: Path) -> tuple[BinaryIO, Path]:
    descriptor, name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
    return os.fdopen(descriptor, "wb"), Path(name)


def _finish(handle: BinaryIO, temporary: Path, destination: Path, like: Path) -> None:
    try:
        handle.close()
        with contextlib.suppress(OSError):
            os.chmod(temporary, stat.S_IMODE(os.stat(like).st_mode))
        os.replace(temporary, destination)
    except BaseException:
        handle.close()
        temporary.unlink(missing_ok=True)
        raise


def _copy_range(source: BinaryIO, destination: BinaryIO, offset: int, size: int) -> None:
    source.seek(offset)
    left = size
    while left > 0:
        block = source.read(min(_COPY_BLOCK, left))
        if not block:
            raise Mp4Error("the file ended while it was copied")
        destination.write(block)
        left -= len(block)


def put_parameter_sets(path: Path | str, units: Sequence[bytes] | None, faststart: bool | None = None) -> None:
    """The video track's decoder configuration record made to hold exactly `units` (see the module); None keeps
    the records as they are (the file is only laid out again, by `faststart`)."""
    movie = read_movie(path)
    trak = movie.video()
    if units is not None:
        if not any(_record_of(entry) for entry in _entries(trak) if entry.type in VIDEO_ENTRIES):
            raise Mp4Error("the video track has no avcC or hvcC record")
        _set_records(trak, units, None)
    moov = movie.moov_box
    layout = _order(movie.boxes, faststart)
    tables = [(_stbl(track), read_table(_stbl(track)).chunks) for track in movie.tracks()]
    moved = [box for box in movie.boxes if box.type != b"moov"]
    size = len(movie.moov.to_bytes())
    for _attempt in range(3):  # offsets that outgrow 32 bits make the movie box grow once more
        starts, pos = {}, 0
        for box in layout:
            starts[box.offset] = pos
            pos += size if box is moov else box.size
        for stbl, chunks in tables:
            _set_offsets(stbl, [_moved(offset, moved, starts) for offset in chunks])
        data = movie.moov.to_bytes()
        if len(data) == size:
            break
        size = len(data)
    else:
        raise Mp4Error("the movie box does not settle")
    destination = movie.path
    handle, temporary = _temporary(destination)
    try:
        with open(movie.path, "rb") as source:
            for box in layout:
                if box is moov:
                    handle.write(data)
                else:
                    _copy_range(source, handle, box.offset, box.size)
    except BaseException:
        handle.close()
        temporary.unlink(missing_ok=True)
        raise
    _finish(handle, temporary, destination, movie.path)


def _moved(offset: int, boxes: list[TopBox], starts: dict[int, int]) -> int:
    for box in boxes:
        if box.offset <= offset < box.end:
            return offset - box.offset + starts[box.offset]
    raise Mp4Error(f"a chunk offset ({offset}) lies outside the media data")


def rewrite_nal_units(
    source: Path | str,
    destination: Path | str,
    transform: Transform,
    parameter_sets: Sequence[bytes] | None = None,
    faststart: bool | None = None,
) -> None:
    """`source` written to `destination` with every video NAL unit passed through `transform` (see the module)."""
    movie = read_movie(source)
    video = movie.video()
    entries = [entry for entry in _entries(video) if entry.type in VIDEO_ENTRIES]
    records = [record for entry in entries if (record := _record_of(entry)) is not None]
    if not records:
        raise Mp4Error("the video track has no avcC or hvcC record")
    length_size = records[0].length_size
    _set_records(video, parameter_sets, None if parameter_sets is not None else transform)
    tracks = movie.tracks()
    tables = [read_table(_stbl(track)) for track in tracks]
    chunks = sorted((offset, n, chunk) for n, table in enumerate(tables) for chunk, offset in enumerate(table.chunks))
    video_index = tracks.index(video)
    video_chunks = [chunk for _offset, n, chunk in chunks if n == video_index]
    if video_chunks != sorted(video_chunks):
        raise Mp4Error("the video chunks are not stored in decode order")
    first_sample = [[0] * len(table.chunks) for table in tables]
    for n, table in enumerate(tables):
        total = 0
        for chunk, count in enumerate(table.per_chunk):
            first_sample[n][chunk] = total
            total += count
    new_offsets = [[0] * len(table.chunks) for table in tables]
    new_sizes = list(tables[video_index].sizes)
    # the movie box's size is known before the samples are rewritten: their count does not change
    for n, (track, table) in enumerate(zip(tracks, tables, strict=True)):
        _set_offsets(_stbl(track), [0] * len(table.chunks))
        if n == video_index:
            _set_sizes(_stbl(track), new_sizes)
    moov_size = len(movie.moov.to_bytes())
    layout = [box for box in _order(movie.boxes, faststart) if box.type != b"mdat" or box is _first_mdat(movie)]
    types = [box.type for box in layout]
    before_media = b"mdat" in types and types.index(b"moov") < types.index(b"mdat")
    placed = 0
    destination = Path(destination)
    handle, temporary = _temporary(destination)
    try:
        with open(movie.path, "rb") as reader:
            for box in layout:
                if box.type == b"moov":
                    if not before_media:  # the media data is written: the offsets are known
                        _set_tables(tracks, video_index, new_offsets, new_sizes)
                        handle.write(movie.moov.to_bytes())
                        continue
                    placed = handle.tell()
                    handle.write(b"\0" * moov_size)
                elif box.type == b"mdat":
                    media_start = handle.tell()
                    handle.write(b"\0" * 16)  # a free box and a short header, or a long header
                    for _offset, n, chunk in chunks:
                        new_offsets[n][chunk] = handle.tell()
                        table, start = tables[n], first_sample[n][chunk]
                        count = table.per_chunk[chunk]
                        sizes = table.sizes[start:start + count]
                        reader.seek(table.chunks[chunk])
                        data = reader.read(sum(sizes))
                        if len(data) != sum(sizes):
                            raise Mp4Error("a chunk lies past the end of the file")
                        if n != video_index:
                            handle.write(data)
                            continue
                        pos = 0
                        for k, size in enumerate(sizes):
                            units = split_units(data[pos:pos + size], length_size)
                            pos += size
                            out = join_units([o for unit in units if (o := transform(unit)) is not None],
                                             length_size)
                            new_sizes[start + k] = len(out)
                            handle.write(out)
                    media_end = handle.tell()
                    handle.seek(media_start)
                    body = media_end - media_start - 16
                    if body + 8 <= _U32:
                        handle.write(struct.pack(">I4sI4s", 8, b"free", body + 8, b"mdat"))
                    else:
                        handle.write(struct.pack(">I4sQ", 1, b"mdat", body + 16))
                    handle.seek(media_end)
                else:
                    _copy_range(reader, handle, box.offset, box.size)
        if before_media:
            _set_tables(tracks, video_index, new_offsets, new_sizes)
            data = movie.moov.to_bytes()
            handle.seek(placed)
            if len(data) == moov_size:
                handle.write(data)
            else:  # offsets outgrew 32 bits: the reserved room becomes a free box, the movie box goes last
                handle.write(struct.pack(">I4s", moov_size, b"free"))
                handle.seek(0, os.SEEK_END)
                handle.write(data)
    except BaseException:
        handle.close()
        temporary.unlink(missing_ok=True)
        raise
    _finish(handle, temporary, destination, movie.path)


def _set_tables(tracks: list[Box], video_index: int, offsets: list[list[int]], sizes: list[int]) -> None:
    for n, track in enumerate(tracks):
        _set_offsets(_stbl(track), offsets[n])
        if n == video_index:
            _set_sizes(_stbl(track), sizes)


def _first_mdat(movie: Movie) -> TopBox | None:
    return next((box for box in movie.boxes if box.type == b"mdat"), None)


__all__ = [
    "Box", "Movie", "Mp4Error", "Sample", "Table", "TopBox", "VideoTrack", "open_video", "put_parameter_sets",
    "read_movie", "read_table", "rewrite_nal_units", "split_units", "join_units", "top_boxes",
]
