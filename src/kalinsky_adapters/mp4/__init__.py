"""ISO BMFF (MP4, MOV) files read and rewritten in pure Python: the first video track's sample entry (its avcC or
hvcC record and the parameter sets in it) and its samples' NAL units.

    from kalinsky_adapters import mp4
    track = mp4.open_video(path)            # .fourcc, .codec, .record.units, .record.length_size, .samples()
    mp4.put_parameter_sets(path, units)     # the record holds exactly `units`; offsets fixed; atomic
    mp4.rewrite_nal_units(src, dst, transform)  # every video NAL unit through transform(unit) -> bytes | None

See boxes.py (files) and records.py (records and parameter sets).
"""

from kalinsky_adapters.mp4.boxes import (
    Sample,
    VideoTrack,
    join_units,
    open_video,
    put_parameter_sets,
    rewrite_nal_units,
    split_units,
)
from kalinsky_adapters.mp4.records import (
    PARAMETER_SET_TYPES,
    Mp4Error,
    ParameterSetConflict,
    Record,
    merge_parameter_sets,
    nal_type,
    parameter_set_key,
)

__all__ = [
    "PARAMETER_SET_TYPES", "Mp4Error", "ParameterSetConflict", "Record", "Sample", "VideoTrack", "join_units",
    "merge_parameter_sets", "nal_type", "open_video", "parameter_set_key", "put_parameter_sets", "rewrite_nal_units",
    "split_units",
]
