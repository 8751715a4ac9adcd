"""Wake-ups instead of sleep-polling: whoever enqueues work nudges the threads waiting for it."""

from __future__ import annotations

import threading


class Wakeup:
    """A counter-based signal: ``wait`` returns early when anything was notified since it last looked."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generation = 0

    def notify(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def generation(self) -> int:
        with self._cond:
            return self._generation

    def wait(self, timeout: float, seen: int | None = None) -> bool:
        """Wait up to ``timeout`` s for a notify after generation ``seen``; True if one came."""
        with self._cond:
            start = self._generation if seen is None else seen
            return self._cond.wait_for(lambda: self._generation != start, timeout)
