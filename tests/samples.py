"""Domain values for tests that need no files behind them."""

from kalinsky_core.model import Assembly, Clip, FileIdentity, MediaInfo, Source, VideoCoding, assembly_id

H264 = VideoCoding(codec="h264", profile="High", level=40, pix_fmt="yuv420p", reorder_depth=2, time_base="1/15360")


def source(index: int = 1, filename: str = "a.mp4", duration: float = 10.0, fps: str = "30", **extra) -> Source:
    info = MediaInfo(
        duration=duration,
        width=extra.pop("width", 320),
        height=extra.pop("height", 240),
        codec="h264",
        frame_rate=fps,
        has_audio=extra.pop("has_audio", True),
        file_size=1000,
        coding=extra.pop("coding", None),
        keyframes=extra.pop("keyframes", ()),
        frame_count=extra.pop("frame_count", None),
        copy_ends=extra.pop("copy_ends", ()),
        identity=extra.pop("identity", None),
    )
    return Source.from_media(index, filename, info)


def sources() -> tuple[Source, ...]:
    return (
        source(1, "a.mp4", 4.0, fps="30000/1001", coding=H264, keyframes=(0, 30, 60, 90), frame_count=120,
               copy_ends=(1, 5, 9, 13, 30, 31, 35, 60, 61, 90, 91, 95, 120),
               identity=FileIdentity(size=1000, mtime_ns=1_700_000_000_123_456_789, inode=42, device=2049,
                                     digest="0123456789abcdef0123456789abcdef")),
        source(2, "it's b.mov", 4.0, has_audio=False),
    )


def assembly(sequence: int, preview: bool = True) -> Assembly:
    return Assembly(
        id=assembly_id(sequence),
        name=f"cut {sequence}",
        preview=preview,
        clips=(Clip(pos=1, filename="a.mp4", start=0.5, end=1.25), Clip(pos=2, filename="it's b.mov", start=0, end=4)),
        created=f"2026-01-0{sequence}T00:00:00.000Z",
    )
