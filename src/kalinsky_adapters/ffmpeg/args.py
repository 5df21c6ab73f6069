"""The argv of every ffmpeg command a render runs: cutting pieces, the clips' sound, the audio track, the join.

Pure functions of the plan and the settings: nothing here runs a process or touches a file.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import attrs

from kalinsky_adapters.binaries import ffmpeg_options, find_font
from kalinsky_adapters.ffmpeg.codecs import CodecRules, EncoderSettings, NalRewrite
from kalinsky_adapters.ffmpeg.colour import SDR, Colour, conversion
from kalinsky_adapters.process import file_url
from kalinsky_core.model import VideoPath
from kalinsky_core.plan import Piece, RenderPlan, SegmentPlan

AUDIO_RATE = 48000
#: A codec whitelist that allows no decoder: files opened with it are not decoded while being probed.
NO_DECODER = "none"


#: Filters turning an upright picture into the stored picture of a video displayed with this rotation (the
#: inverse of what ffmpeg's autorotate applies when decoding it).
TURN_BACK = {90: "transpose=clock", 180: "hflip,vflip", 270: "transpose=cclock"}


def escape_filter_value(value: str) -> str:
    """Escape a filter option value for both levels of ffmpeg's filtergraph parsing (no shell is involved)."""
    option_level = "".join("\\" + c if c in "\\:'" else c for c in value)
    return "".join("\\" + c if c in "\\'[],;" else c for c in option_level)


def _us(seconds: float) -> str:
    return f"{round(seconds * 1_000_000)}us"


def timescale(plan: RenderPlan) -> int:
    """The video track's time scale for every piece: the copied frames' own, else a multiple of the frame rate."""
    if plan.output.coding is not None:
        return Fraction(plan.output.coding.time_base).denominator
    numerator = plan.output.fps.numerator
    return numerator * math.ceil(10_000 / numerator)


def output_colour(plan: RenderPlan) -> Colour:
    """The colour every encoded frame is converted into and tagged with: previews are always SDR BT.709, what
    browsers show right; clean renders are in the first clip's colours."""
    return SDR if plan.preview else Colour.of(plan.output.coding or plan.output.target)


@attrs.frozen
class Encoding:
    """Encoder settings by purpose. Clips that cannot be copied are encoded whole, at high quality. The frames
    next to copied ones (less than a GOP at each end of a clip) are encoded as fast as libx264 goes, spending bits
    instead of time: at this CRF they stay within 45 dB PSNR of the source's pictures (47 dB on average on the
    benchmark's noisy sources), where a difference does not show, and the output stays within 1.15 times the
    size of a stream copy (`bench/render.py --psnr`)."""

    clean: EncoderSettings = EncoderSettings(preset="superfast", crf=17, parameter_sets=2)
    clean_joins: EncoderSettings = EncoderSettings(preset="ultrafast", crf=20.5, parameter_sets=1)
    preview: EncoderSettings = EncoderSettings(preset="ultrafast", crf=26)

    def for_segment(self, plan: RenderPlan, segment: SegmentPlan) -> EncoderSettings:
        if plan.preview:
            return self.preview
        return self.clean_joins if segment.video is VideoPath.SMART else self.clean


#: How far before a piece of variable frame rate its frames are read: the frame shown at its start may have
#: started up to this long before (phones in low light, screen recordings of still pictures).
VARIABLE_RATE_LEAD_S = 1.0


def fit_filter(width: int, height: int, pixel_aspect: Fraction, *, fast: bool = False) -> str:
    """Scaling that fits a picture, as it is shown (its own pixel aspect applied: ffmpeg's `dar`), into a
    `width` x `height` picture of `pixel_aspect` pixels, centred on black: it keeps its shape, whatever the pixels
    of either. Sizes are even, rounded down (a hair up first, so that a picture of the output's shape fills it)."""
    aspect = float(pixel_aspect)
    wider = f"gt(dar,{float(Fraction(width) * pixel_aspect / height)!r})"  # than the output as shown
    even = "2*max(1,trunc({}/2+0.001))"
    fitted_width = even.format(f"{height}*dar/{aspect!r}")  # as high as the output
    fitted_height = even.format(f"{width}*{aspect!r}/dar")  # as wide as the output
    return (
        f"scale=w='if({wider},{width},{fitted_width})':h='if({wider},{fitted_height},{height})'"
        f"{':flags=fast_bilinear' if fast else ''},"
        f"pad={width}:{height}:-1:-1"
    )


@attrs.define
class FfmpegCommands:
    """Builds ffmpeg's argv for each step of a render."""

    ffmpeg: str
    rules: CodecRules = attrs.field(factory=CodecRules)
    encoding: Encoding = Encoding()
    audio_codec: str = "aac"
    audio_bitrate: str = "128k"
    font: str | None = None  # found on first preview render when not given
    find_font: Callable[[], str] = find_font
    #: the options `ffmpeg` has, asked of it on first use (see `rotation_args`)
    options: Callable[[str], frozenset[str]] = ffmpeg_options

    @functools.cached_property
    def _font(self) -> str:
        return self.font or self.find_font()

    def rotation_args(self, rotation: int) -> tuple[list[str], list[str]]:
        """Input and output options tagging a copied video stream with a display rotation (none for 0):
        `-display_rotation` where ffmpeg has it (6.0 on), else (Debian's 5.1) the `rotate` tag, which its muxer
        writes as the display matrix (6.0 still does, though deprecated)."""
        if not rotation:
            return [], []
        if "display_rotation" in self.options(self.ffmpeg):
            return ["-display_rotation", str(rotation)], []
        return [], ["-metadata:s:v:0", f"rotate={rotation}"]

    def head(self) -> list[str]:
        return [self.ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y", "-progress", "pipe:1",
                "-stats_period", "0.5"]

    # -- filters -----------------------------------------------------------------------------------------------

    def timecode_filter(self, segment: SegmentPlan, height: int) -> str:
        font = escape_filter_value(self._font)
        size = max(12, height // 20)
        text = escape_filter_value(
            f"%{{pts:hms:{segment.output_offset:.6f}}}  #{segment.pos} %{{pts:hms:{segment.start:.6f}}}"
        )
        return (
            f"drawtext=fontfile={font}:text={text}:fontsize={size}:fontcolor=white"
            f":box=1:boxcolor=black@0.6:boxborderw={size // 4}:x={size // 2}:y={size // 2}"
        )

    def video_filter(
        self, plan: RenderPlan, segment: SegmentPlan, from_proxy: bool = False, lead: float | None = None
    ) -> str:
        """Decoded frames (upright, or as stored for `segment.as_stored`) to the output's coded pictures: those of
        an output that keeps a display rotation are stored turned back, as its copied frames are. Frames read
        `from_proxy` are in BT.709 SDR already (see proxies.py).

        Frames of a constant rate are read from the piece's first frame on, and timed from it. Those of a variable
        rate are read from `lead` seconds before the piece starts, and each output frame is the source frame shown
        at its time (the last one that started by then, to the nearest frame): a frame that lasts over the piece's
        start, or over several output frames, is shown for as long as it lasts."""
        out = plan.output
        width, height = out.stored_size if segment.as_stored else (out.width, out.height)
        pixel_aspect = out.stored_pixel_aspect if segment.as_stored else out.pixel_aspect
        steps = ["setpts=PTS-STARTPTS" if lead is None else f"setpts=PTS-{lead:.6f}/TB"]
        if segment.scale:
            steps.append(fit_filter(width, height, pixel_aspect, fast=plan.preview))
        # every encoded picture says its pixel aspect, so that pieces of one output never differ in it
        steps.append(f"setsar={pixel_aspect.numerator}/{pixel_aspect.denominator}")
        if lead is not None:
            steps.append(f"fps={out.frame_rate}:start_time=0")
        elif segment.convert_fps:
            steps.append(f"fps={out.frame_rate}")
        if out.rotation and not segment.as_stored:
            steps.append(TURN_BACK[out.rotation])
        steps += conversion(SDR if from_proxy else Colour.of(segment.coding), output_colour(plan))
        steps.append(f"format={self.rules.pix_fmt(out.coding or out.target)}")
        if plan.preview:
            steps.append(self.timecode_filter(segment, out.height))
        return ",".join(steps)

    @staticmethod
    def audio_filter(segment: SegmentPlan) -> str:
        duration = segment.duration
        steps = [
            f"aresample={AUDIO_RATE}",
            "aformat=sample_fmts=s16:channel_layouts=stereo",
            "asetpts=PTS-STARTPTS",
            "apad",
            f"atrim=end_sample={round(duration * AUDIO_RATE)}",
        ]
        if segment.fade > 0:
            steps.append(f"afade=t=in:st=0:d={segment.fade:.6f}")
            steps.append(f"afade=t=out:st={duration - segment.fade:.6f}:d={segment.fade:.6f}")
        return ",".join(steps)

    # -- commands ----------------------------------------------------------------------------------------------

    def audio_command(self, segment: SegmentPlan, source: Path, destination: Path) -> list[str]:
        """The clip's audio as 48 kHz stereo PCM, exactly as long as its video, faded in and out;
        silence for a source without audio."""
        if segment.has_audio:
            # Read a little past the clip: apad/atrim make the length exact.
            read = ["-ss", _us(segment.seek), "-t", _us(segment.duration + 1.0), "-i", file_url(source)]
        else:
            read = ["-f", "lavfi", "-i", f"anullsrc=r={AUDIO_RATE}:cl=stereo"]
        return [*self.head(), *read, "-map", "0:a:0", "-af", self.audio_filter(segment),
                "-c:a", "pcm_s16le", "-f", "wav", file_url(destination)]

    def encoder_args(self, plan: RenderPlan, segment: SegmentPlan) -> list[str]:
        output = plan.output
        args = self.rules.encoder_args(output.coding or output.target, self.encoding.for_segment(plan, segment))
        return args + output_colour(plan).encoder_args() + ["-video_track_timescale", str(timescale(plan))]

    def renumbering(self, plan: RenderPlan, segment: SegmentPlan) -> NalRewrite | None:
        """The rewrite an encoded piece of `segment` needs to refer to its parameter sets by their own ids, where
        the encoder cannot number them (a new one per piece); None when it needs none."""
        output = plan.output
        return self.rules.renumbering(output.coding or output.target, self.encoding.for_segment(plan, segment))

    def piece_command(
        self,
        plan: RenderPlan,
        segment: SegmentPlan,
        piece: Piece,
        source: Path,
        destination: Path,
        threads: int = 0,
        proxy: Path | None = None,
    ) -> list[str]:
        """The ffmpeg command that writes `piece`, from the `source` file or (previews) from its `proxy`;
        `threads` 0 lets ffmpeg choose how many threads to use."""
        if piece.copy:
            return [*self.head(), "-ss", _us(piece.seek), "-i", file_url(source), "-map", "0:v:0",
                    "-c:v", "copy", "-frames:v", str(piece.frames), "-an",
                    "-video_track_timescale", str(timescale(plan)), "-f", "mov", file_url(destination)]
        read = piece.source_seconds + 1.0  # a little past the last frame: -frames:v makes the end exact
        # A preview from the source itself decodes without the deblocking filter: markedly faster, hardly shows.
        fast_decode = ["-skip_loop_filter", "all"] if plan.preview and proxy is None else []
        threading = ["-threads", str(threads)] if threads else []
        filter_threads = ["-filter_threads", str(threads)] if threads else []
        reads = source if proxy is None else proxy
        # Frames rotated like the output's are encoded as stored, not turned upright (and back).
        as_stored = ["-autorotate", "0"] if segment.as_stored else []
        seek, lead = piece.seek, None
        if segment.coding is not None and not segment.coding.constant_rate:
            seek = max(0.0, piece.seek - VARIABLE_RATE_LEAD_S)
            lead = piece.seek - seek
        return [*self.head(), *filter_threads, *fast_decode, *threading, *as_stored,
                "-ss", _us(seek), "-t", _us(read + (lead or 0.0)),
                "-i", file_url(reads), "-map", "0:v:0",
                "-vf", self.video_filter(plan, segment, proxy is not None, lead),
                "-frames:v", str(piece.output_frames), *self.encoder_args(plan, segment), *threading,
                "-an", "-f", "mov", file_url(destination)]

    @staticmethod
    def concat_list(files: Sequence[Path | str], probe: bool = True) -> str:
        """A concat demuxer script. With `probe` False, the files are not decoded to learn their format: the
        demuxer otherwise decodes a frame of every file (a few tens of ms each, one after another), only to find
        a pixel format the pieces are known to share. No decoder being allowed on a file skips that."""
        lines = []
        for name in files:
            quoted = str(Path(name).resolve()).replace("'", "'\\''")
            lines.append(f"file '{quoted}'")
            if not probe:
                lines.append(f"option codec_whitelist {NO_DECODER}")
        return "\n".join(lines) + "\n"

    def audio_encode_command(self, audio_list: Path, destination: Path) -> list[str]:
        return [
            *self.head(),
            "-f", "concat", "-safe", "0", "-i", file_url(audio_list),
            "-map", "0:a:0",
            "-af", "aresample=async=1:min_hard_comp=0.01:first_pts=0",
            "-c:a", self.audio_codec, "-b:a", self.audio_bitrate,
            "-f", "mp4", file_url(destination),
        ]

    def concat_command(self, plan: RenderPlan, video_list: Path, audio: Path, destination: Path) -> list[str]:
        """The join, copied; tagged with the display rotation its frames are stored for (pieces encoded from
        upright pictures carry none of their own). The samples are copied as they are (no `auto_convert`: the
        pieces' parameter sets are not repeated in-band) and the movie box is written last: the joiner then puts
        every piece's parameter sets in the sample entry, moving the movie box to the front as it does."""
        rotation, rotation_tag = self.rotation_args(plan.output.rotation)
        return [
            *self.head(),
            *rotation, "-f", "concat", "-safe", "0", "-auto_convert", "0", "-i", file_url(video_list),
            "-i", file_url(audio),
            "-map", "0:v:0", "-map", "1:a:0",
            "-c", "copy", *rotation_tag,
            "-f", "mp4", file_url(destination),
        ]
