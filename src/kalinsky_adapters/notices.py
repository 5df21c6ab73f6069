"""Who is told when an assembly finishes (done, failed, cancelled): webhooks today, any listener tomorrow."""

from __future__ import annotations

import logging
from collections.abc import Callable

from kalinsky_core.model import Assembly

log = logging.getLogger(__name__)

Listener = Callable[[Assembly], None]


class FinishedNotices:
    """Listeners are called in the event loop as each assembly finishes; they must not block (start a task)."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add a listener; the function returned removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def publish(self, assembly: Assembly) -> None:
        for listener in list(self._listeners):
            try:
                listener(assembly)
            except Exception:  # one listener's bug must not keep the others (or the render) from going on
                log.exception("a listener failed on the end of %s", assembly.id)
