"""Colour management: every encoded clip is converted into the output's colour space, never merely relabelled.

A picture's colour description is four tags (primaries, transfer, matrix, range, named as ffprobe names them).
Untagged pictures are taken as players take HD video: BT.709, limited range. Conversions use zscale, which needs
the input's description spelled out (it refuses frames whose tags are unspecified). SDR goes into HDR with SDR
white at 203 cd/m² (BT.2408); HLG comes back to SDR the same way (highlights above SDR white clip); PQ, mastered
for far brighter displays, is tone-mapped (hable) into SDR.
"""

from __future__ import annotations

import attrs

from kalinsky_core.model import VideoCoding


@attrs.frozen
class Colour:
    primaries: str
    transfer: str
    matrix: str
    range: str

    @classmethod
    def of(cls, coding: VideoCoding | None) -> Colour:
        """The colour a stream coded so is shown in (BT.709 where it does not say)."""
        if coding is None:
            return SDR
        return cls(
            primaries=coding.color_primaries or SDR.primaries,
            transfer=coding.color_transfer or SDR.transfer,
            matrix=coding.color_space or SDR.matrix,
            range=coding.color_range or SDR.range,
        )

    def encoder_args(self) -> list[str]:
        """Encoder options that tag encoded frames with this colour, whatever tags the frames came with: pieces
        encoded from differently tagged sources then get the same parameter sets. Chroma siting is labelled as
        the scalers produce it (left)."""
        return ["-color_primaries", self.primaries, "-color_trc", self.transfer, "-colorspace", self.matrix,
                "-color_range", self.range, "-chroma_sample_location", "left"]

    @property
    def hdr(self) -> bool:
        return self.transfer in (HLG, PQ)

    @property
    def convertible(self) -> bool:
        """Whether zscale knows every tag by the name ffprobe gives it."""
        return (
            self.primaries in ZSCALE_PRIMARIES
            and self.transfer in ZSCALE_TRANSFERS
            and self.matrix in ZSCALE_MATRICES
            and self.range in ("tv", "pc")
        )


HLG, PQ = "arib-std-b67", "smpte2084"
SDR = Colour(primaries="bt709", transfer="bt709", matrix="bt709", range="tv")
#: SDR white in HDR, cd/m² (ITU-R BT.2408)
SDR_WHITE = 203
ZSCALE_PRIMARIES = frozenset({"bt709", "bt470m", "bt470bg", "smpte170m", "smpte240m", "film", "bt2020", "smpte428",
                              "smpte431", "smpte432"})
ZSCALE_TRANSFERS = frozenset({"bt709", "bt470m", "bt470bg", "smpte170m", "smpte240m", "linear", "bt2020-10",
                              "bt2020-12", "smpte2084", "iec61966-2-1", "arib-std-b67"})
ZSCALE_MATRICES = frozenset({"bt709", "fcc", "bt470bg", "smpte170m", "smpte240m", "bt2020nc", "bt2020c"})


def conversion(source: Colour, output: Colour) -> list[str]:
    """Filters converting pictures in `source`'s colour into `output`'s; none when they are alike, or when a tag
    is one zscale cannot convert (the pictures then pass as they are)."""
    if source == output or not (source.convertible and output.convertible):
        return []
    given = f"tin={source.transfer}:min={source.matrix}:pin={source.primaries}:rin={source.range}"
    target = f"t={output.transfer}:m={output.matrix}:p={output.primaries}:r={output.range}"
    if source.transfer == PQ and not output.hdr:
        return [
            f"zscale={given}:t=linear:npl=100",
            "format=gbrpf32le",
            f"zscale=p={output.primaries}",
            "tonemap=hable:desat=0",
            f"zscale={target}",
        ]
    return [f"zscale={given}:{target}:npl={SDR_WHITE}"]
