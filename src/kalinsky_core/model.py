"""The domain model: sources, clips and the Assembly aggregate. Immutable values, no I/O."""

from __future__ import annotations

import enum
import ipaddress
import urllib.parse
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import attrs

#: File extensions (lower case) that count as source videos.
SOURCE_EXTENSIONS = frozenset({".mp4", ".mov", ".mkv", ".webm"})


def _frames(values: Iterable[int]) -> tuple[int, ...]:
    return tuple(values)


@attrs.frozen
class VideoCoding:
    """How a video stream is coded, as probed. Whether its frames may be copied, and next to which others, is the
    codec rules' call (the `CodingRules` port), which also know how to encode frames that match it."""

    codec: str
    profile: str  # as ffprobe names it: "High", "Main", "Constrained Baseline", ...
    level: int  # level_idc, e.g. 40 for 4.0
    pix_fmt: str
    reorder_depth: int  # frames of B-frame delay (ffprobe's has_b_frames)
    time_base: str  # the stream's time base, e.g. "1/15360"
    rotation: int = 0  # display rotation, degrees
    constant_rate: bool = True
    # The colour description, as ffprobe names it ("" where the stream does not say): e.g. "bt2020",
    # "arib-std-b67" (HLG) or "smpte2084" (PQ), "bt2020nc", "tv"
    color_primaries: str = ""
    color_transfer: str = ""
    color_space: str = ""
    color_range: str = ""
    # PQ's static HDR metadata, in SMPTE ST 2086 / CTA-861.3 notation ("" when absent): the mastering display as
    # "G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min)" (chromaticities in 0.00002, luminance in 0.0001 cd/m²) and the content
    # light level as "MaxCLL,MaxFALL" (cd/m²)
    #: A digest of the stream's parameter sets (H.264 SPS/PPS, as the sample entry holds them): streams copied into
    #: one output must agree on them, or a decoder would be handed two sets under one id ("" when unknown).
    parameter_sets: str = ""
    master_display: str = ""
    max_cll: str = ""
    #: How fields are stored, as ffprobe names it: "progressive", "tt", "bb", "tb", "bt" ("" when not said)
    field_order: str = ""
    #: Whether the stream is stored in MP4/MOV, whose time stamps are exact enough to join copied frames by (other
    #: containers' are too coarse or loose): frames of other files are never copied
    mp4: bool = True
    #: The stored pictures' sample (pixel) aspect ratio as "W:H", "1:1" for square pixels (anamorphic video, e.g.
    #: HDV's 1440x1080 shown 16:9, has others); "" when indexed before it was recorded
    sample_aspect: str = ""

    @property
    def pixel_aspect(self) -> Fraction:
        """The width of a stored pixel over its height (1 where unknown)."""
        return pixel_aspect(self.sample_aspect)


def pixel_aspect(sample_aspect: str) -> Fraction:
    """A sample aspect ratio "W:H" as a fraction; 1 for "", "0:1" (unknown) or anything unreadable."""
    width, _, height = sample_aspect.partition(":")
    try:
        aspect = Fraction(int(width), int(height))
    except (ValueError, ZeroDivisionError):
        return Fraction(1)
    return aspect if aspect > 0 else Fraction(1)


@attrs.frozen
class FileIdentity:
    """What tells one file from another: its size, modification time and inode (`stat`, cheap), and a hash of
    sampled blocks of its content (`digest`, read from the file; empty where not read)."""

    size: int
    mtime_ns: int
    inode: int
    device: int
    digest: str = ""

    def same_stat(self, other: FileIdentity) -> bool:
        """Whether `other` has the same size, modification time and inode: the same file, unchanged, unless
        someone took pains to hide a change (which `digest` still tells)."""
        return (self.size, self.mtime_ns, self.inode, self.device) == (
            other.size, other.mtime_ns, other.inode, other.device
        )


@attrs.frozen
class MediaInfo:
    """What a prober learns about one media file."""

    duration: float
    width: int
    height: int
    codec: str
    frame_rate: str  # exact rational, e.g. "30/1" or "30000/1001"
    has_audio: bool
    file_size: int
    coding: VideoCoding | None = None  # None: unknown, never copied
    keyframes: tuple[int, ...] = ()  # indices of the frames coded as keyframes, ascending
    frame_count: int | None = None
    # With B-frames: the frames a copied run may end before, ascending (see kalinsky_core.copying)
    copy_ends: tuple[int, ...] = ()
    identity: FileIdentity | None = None  # of the file as probed
    audio_codec: str = ""  # of the first audio stream, as ffprobe names it ("" without one)
    audio_duration: float | None = None  # of the first audio stream, seconds (None: unknown or no audio)


@attrs.frozen
class Source:
    """An indexed source video. `index` is 1-based, in filename order."""

    index: int
    filename: str
    duration: float
    resolution: str  # "WIDTHxHEIGHT" as displayed (rotation applied)
    codec: str
    file_size: int
    width: int
    height: int
    frame_rate: str
    has_audio: bool
    coding: VideoCoding | None = None
    #: Indices of the keyframes a copied run may start at, ascending (empty when unknown).
    keyframes: tuple[int, ...] = attrs.field(default=(), converter=_frames, repr=False)
    frame_count: int | None = None
    #: For a stream with B-frames, the frames a copied run may end before, ascending (a run ends after an anchor
    #: frame and the B-frames shown before it). Empty without B-frames, where a run may end anywhere, or when
    #: unknown, where it ends at keyframes or at the end of the file.
    copy_ends: tuple[int, ...] = attrs.field(default=(), converter=_frames, repr=False)
    #: The file as indexed; renders check that the file they read is still this one. None: indexed before
    #: identities were recorded (only the size is checked then).
    identity: FileIdentity | None = attrs.field(default=None, repr=False)
    #: The first audio stream's codec as ffprobe names it ("" without audio, or indexed before it was recorded)
    #: and length in seconds (None when unknown).
    audio_codec: str = ""
    audio_duration: float | None = None

    @property
    def fps(self) -> Fraction:
        return Fraction(self.frame_rate)

    @property
    def pixel_aspect(self) -> Fraction:
        """The width of a pixel over its height as the picture is shown (upright: a quarter turn inverts it)."""
        if self.coding is None:
            return Fraction(1)
        aspect = self.coding.pixel_aspect
        return 1 / aspect if round(self.coding.rotation / 90) % 2 else aspect

    @classmethod
    def from_media(cls, index: int, filename: str, info: MediaInfo) -> Source:
        return cls(
            index=index,
            filename=filename,
            duration=info.duration,
            resolution=f"{info.width}x{info.height}",
            codec=info.codec,
            file_size=info.file_size,
            width=info.width,
            height=info.height,
            frame_rate=info.frame_rate,
            has_audio=info.has_audio,
            coding=info.coding,
            keyframes=info.keyframes,
            frame_count=info.frame_count,
            copy_ends=info.copy_ends,
            identity=info.identity,
            audio_codec=info.audio_codec,
            audio_duration=info.audio_duration,
        )


@attrs.frozen
class SkippedFile:
    """A file in the sources folder that could not be indexed, and why."""

    filename: str
    reason: str


@attrs.frozen
class SourceIndex:
    """The result of a reindex: what was indexed and what was skipped."""

    sources: tuple[Source, ...]
    skipped: tuple[SkippedFile, ...] = ()


@attrs.frozen
class ClipInput:
    """A clip as a user asks for it: a source by 1-based index or exact filename, optional trim."""

    source: int | str
    start: float | None = None
    end: float | None = None


class VideoPath(str, enum.Enum):
    """How a clip's video is made in a render."""

    COPY = "copy"  # every frame copied as coded
    SMART = "smart"  # copied, with the frames around the cuts encoded again
    REENCODE = "reencode"  # encoded whole


@attrs.frozen
class Clip:
    """A resolved clip of an assembly (the seed's ClipDetail). Times are seconds in the source."""

    pos: int
    filename: str
    start: float
    end: float
    video: VideoPath = attrs.field(default=VideoPath.REENCODE, converter=VideoPath)
    duration: float = attrs.field(init=False)

    @duration.default
    def _duration(self) -> float:
        return self.end - self.start


def _clips(clips: Iterable[Clip]) -> tuple[Clip, ...]:
    return tuple(clips)


class CallbackStatus(str, enum.Enum):
    """Where the notice of a finished assembly to its `callback_url` stands."""

    PENDING = "pending"  # the assembly has not finished yet, or the first attempt is under way
    RETRYING = "retrying"  # an attempt failed; another one follows
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # every attempt failed: no more follow


@attrs.frozen
class Callback:
    """A URL told when its assembly finishes (done, failed or cancelled), and how the telling went."""

    url: str
    status: CallbackStatus = attrs.field(default=CallbackStatus.PENDING, converter=CallbackStatus)
    attempts: int = 0
    last_error: str | None = None


#: The setting that lets webhooks reach receivers on private, loopback and other non-global addresses.
ALLOW_PRIVATE_SETTING = "KALINSKY_WEBHOOK_ALLOW_PRIVATE"

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def address_kind(address: IpAddress) -> str | None:
    """What kind of address `address` is when a webhook must not go there unless private receivers are allowed
    ("a loopback address"), or None for a global unicast address. Refused: loopback, link-local (169.254.0.0/16,
    where clouds answer metadata), private (RFC 1918, fc00::/7), multicast, unspecified, reserved and other
    non-global addresses (shared 100.64.0.0/10, documentation ranges...); IPv4 inside IPv6 is judged as IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address_kind(address.ipv4_mapped)
        if address in _NAT64:
            return address_kind(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    kinds = [
        ("an unspecified", address.is_unspecified),
        ("a loopback", address.is_loopback),
        ("a link-local", address.is_link_local),
        ("a multicast", address.is_multicast),
        ("a private", address.is_private),
        ("a reserved", address.is_reserved),
        ("a non-global", not address.is_global),
    ]
    return next((f"{name} address" for name, found in kinds if found), None)


def refused_address(address: IpAddress) -> str | None:
    """Why a delivery to `address` is refused, saying how to allow it; None for a global unicast address."""
    kind = address_kind(address)
    return None if kind is None else f"refused: {address} is {kind}; set {ALLOW_PRIVATE_SETTING}=true to allow"


def callback_url_problem(url: str, *, allow_private: bool = False) -> str | None:
    """Why `url` cannot be a callback URL (only absolute http and https URLs with a host can, and unless
    `allow_private`, none whose host is a non-global IP address), or None. Host names are checked where they
    lead when a notice is sent."""
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # a port out of range is a ValueError
    except ValueError:
        return "callback_url is not a URL"
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return "callback_url must be an http or https URL"
    if any(character.isspace() or ord(character) < 32 for character in url):
        return "callback_url must not contain spaces or control characters"
    if not allow_private:
        try:
            address = ipaddress.ip_address(parts.hostname.split("%")[0])
        except ValueError:
            return None
        kind = address_kind(address)
        if kind is not None:
            return f"callback_url must not point at {kind} ({address}); set {ALLOW_PRIVATE_SETTING}=true to allow"
    return None


class AssemblyStatus(str, enum.Enum):
    """`processing` from creation until the render ends (also while it waits for a free render slot);
    then `done`, `failed`, or `cancelled` when a user stopped it."""

    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self is not AssemblyStatus.PROCESSING


class Phase(str, enum.Enum):
    """Where the render of an assembly still `processing` is: waiting for a worker, cutting its clips, joining
    them. A finished assembly has no phase."""

    QUEUED = "queued"
    RENDERING = "rendering"
    JOINING = "joining"


@attrs.frozen
class Assembly:
    """The aggregate. What was asked (id, name, preview, clips, created) never changes after creation;
    only the render state (status, progress, error, duration; who renders it, in which phase, how many
    times it was started) moves on, through the methods below. Where a finished render's file lives is the
    outputs' business, not the aggregate's."""

    id: str
    name: str | None
    preview: bool
    clips: tuple[Clip, ...] = attrs.field(converter=_clips)
    created: str  # ISO 8601, UTC
    status: AssemblyStatus = AssemblyStatus.PROCESSING
    progress: float = 0.0
    eta_seconds: float | None = None  # estimated seconds until the render is done, while it runs
    error: str | None = None
    duration: float | None = None  # of the finished output, as measured in the file
    callback: Callback | None = None  # told when it finishes, if asked for
    worker: str | None = None  # `host:pid` of the process rendering it; None while queued and once finished
    attempts: int = 0  # renders of it started so far (a worker that died leaves it to the next)
    phase: Phase | None = attrs.field(default=Phase.QUEUED, converter=attrs.converters.optional(Phase))

    @clips.validator
    def _clips_numbered_from_one(self, _attribute: attrs.Attribute[tuple[Clip, ...]], clips: tuple[Clip, ...]) -> None:
        if not clips:
            raise ValueError("an assembly has at least one clip")
        if [clip.pos for clip in clips] != list(range(1, len(clips) + 1)):
            raise ValueError("clip positions must be 1..n in order")

    def with_progress(self, progress: float, eta_seconds: float | None = None) -> Assembly:
        return attrs.evolve(self, progress=min(max(progress, 0.0), 1.0), eta_seconds=eta_seconds)

    def in_phase(self, phase: Phase) -> Assembly:
        return attrs.evolve(self, phase=phase)

    def _ended(self, status: AssemblyStatus, **changes: Any) -> Assembly:
        return attrs.evolve(self, status=status, eta_seconds=None, worker=None, phase=None, **changes)

    def completed(self, duration: float) -> Assembly:
        return self._ended(AssemblyStatus.DONE, progress=1.0, error=None, duration=duration)

    def failed(self, error: str) -> Assembly:
        return self._ended(AssemblyStatus.FAILED, error=error, duration=None)

    def cancelled(self) -> Assembly:
        return self._ended(AssemblyStatus.CANCELLED, error=None, duration=None)


def assembly_id(sequence: int) -> str:
    """`asm_001`, `asm_002`, ... (at least three digits, more when needed)."""
    return f"asm_{sequence:03d}"
