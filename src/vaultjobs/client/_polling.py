"""The poll gate: spaces status calls per ``(host, job_id)`` without serialising different jobs."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Hashable

__all__ = ["PollGate"]

_PRUNE_ABOVE = 4096


class PollGate:
    """Hands out time slots for status calls, per key, on a monotonic clock.

    ``reserve(key)`` returns how long to sleep before calling; the reservation is taken under a lock that
    is never held while sleeping, so it is safe to share between threads and asyncio tasks, and
    waiting for one job never delays another. Share one gate between clients to coordinate them too.
    The cadence and the refusal rule are described on `PollPolicy`.
    """

    def __init__(
        self,
        interval: float,
        *,
        jitter: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        after_answer: float | None = None,
    ) -> None:
        self.interval = interval
        #: The least gap between an answer and the next call for its key (default: ``interval``).
        self.after_answer = interval if after_answer is None else after_answer
        self.jitter = jitter
        self._clock = clock
        self._rng = rng
        self._lock = threading.Lock()
        self._next: dict[Hashable, float] = {}

    def reserve(self, key: Hashable, *, not_after: float | None = None) -> float | None:
        """Take the next slot for ``key``; return seconds until it (0 if now).

        With ``not_after`` (a clock reading), return None and take nothing if the slot is later.
        """
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(key, now))
            if not_after is not None and slot > not_after:
                return None
            self._next[key] = slot + self.interval + (self.jitter * self._rng() if self.jitter else 0.0)
            if len(self._next) > _PRUNE_ABOVE:
                self._next = {k: t for k, t in self._next.items() if t > now}
            return slot - now

    def answered(self, key: Hashable) -> None:
        """Record that a call for ``key`` was answered now: the next slot is at least ``after_answer`` away.

        The server opens its window somewhere between a call's start and its answer; a slow answer
        (a loaded server) may open it later than the cadence from the start assumed, and only a gap
        measured from the answer is sure to clear it.
        """
        with self._lock:
            now = self._clock()
            self._next[key] = max(self._next.get(key, now), now + self.after_answer)

    def refused(self, key: Hashable, retry_after: float | None) -> float:
        """Record that the server refused a call for ``key``; return when (clock reading) to retry.

        With the server's ``retry_after`` the next slot is exactly then (but at least a moment away,
        never a hot loop); without it, a full interval from now.
        """
        with self._lock:
            now = self._clock()
            if retry_after is not None:
                slot = now + max(retry_after, min(1.0, self.interval))
            else:
                slot = max(self._next.get(key, now), now + self.interval)
            self._next[key] = slot
            return slot

    def next_slot(self, key: Hashable) -> float:
        """Clock reading of the next free slot for ``key``."""
        with self._lock:
            now = self._clock()
            return max(now, self._next.get(key, now))
