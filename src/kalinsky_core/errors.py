"""Domain errors. Each carries the user-facing message; mapping to HTTP codes is the web layer's job."""

from __future__ import annotations


class KalinskyError(Exception):
    """Base of every error the core raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotIndexed(KalinskyError):
    def __init__(self) -> None:
        super().__init__("No index. Call POST /sources/reindex first.")


class SourceNotFound(KalinskyError):
    """No indexed source has this index or filename; `clip` is the position of the clip that asked for it."""

    def __init__(self, ref: int | str, clip: int | None = None) -> None:
        super().__init__(f"Source {ref} not found")
        self.ref = ref
        self.clip = clip


class InvalidClip(KalinskyError):
    """A clip list that cannot be assembled: bad trim, empty list, bad numbers. `clip` is the 1-based position
    of the clip at fault, None when the fault is the list's (an empty one)."""

    def __init__(self, message: str, clip: int | None = None) -> None:
        super().__init__(message)
        self.clip = clip


class AssemblyNotFound(KalinskyError):
    def __init__(self) -> None:
        super().__init__("Assembly not found")


class AssemblyFinished(KalinskyError):
    """A change that only an unfinished assembly allows, asked of a finished one."""

    def __init__(self, assembly_id: str, status: str) -> None:
        super().__init__(f"Assembly {assembly_id} is already {status}")


class AssemblyProcessing(KalinskyError):
    """A change that only a finished assembly allows (deleting it), asked while it still renders."""

    def __init__(self, assembly_id: str) -> None:
        super().__init__(f"Assembly {assembly_id} is still processing")


class InvalidCallback(KalinskyError):
    """A `callback_url` that cannot be told anything: not an absolute http or https URL."""


class ReportMissing(KalinskyError):
    """An assembly without a render report: only renders that end `done` make one."""

    def __init__(self, assembly_id: str, status: str) -> None:
        super().__init__(f"Assembly {assembly_id} has no report: it is {status}")


class ProbeFailed(KalinskyError):
    """A media file that ffprobe (or another prober) cannot read as a video."""


class RenderFailed(KalinskyError):
    """A render step failed; the message is what the user sees in the assembly's `error`."""


class StorageUnavailable(KalinskyError):
    """The records cannot be read or written now (a full disk, a locked or broken database): nothing was
    changed, and trying again later may work."""
