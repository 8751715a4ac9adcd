"""Wake-ups instead of sleep-polling: whoever enqueues work nudges the threads waiting for it."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Wakeup:
    """A counter-based signal: ``wait`` returns early when anything was notified since it last looked.

    ``remote`` also tells other nodes (PostgreSQL's NOTIFY); what they send back arrives through
    :meth:`notify_local`, so a notification never echoes.

    The scheduler waits on a second counter (:meth:`wait_schedule`), which :meth:`notify_work` leaves
    alone: a job queued through the API is the workers' business only, and at a thousand starts a
    second a scheduler woken by each would tick (a lease write and its reads) without pause. It waits
    on a condition of its own (over the same lock), so that such a notify does not even wake it to
    look: every wake-up is a thread switch that the request which caused it pays for.
    """

    def __init__(self, remote: Callable[[], None] | None = None,
                 remote_work: Callable[[], None] | None = None) -> None:
        lock = threading.Lock()
        self._cond = threading.Condition(lock)
        self._schedule_cond = threading.Condition(lock)
        self._generation = 0
        self._schedule_generation = 0
        self._remote = remote
        self._remote_work = remote_work or remote

    def notify(self) -> None:
        """Anything may have changed: wake every waiter, here and (``remote``) on other nodes."""
        self.notify_local()
        if self._remote is not None:
            self._remote()

    def notify_work(self) -> None:
        """Work was queued, nothing scheduled: wake the workers, here and (``remote_work``) on other
        nodes, not the schedulers."""
        self.notify_work_local()
        if self._remote_work is not None:
            self._remote_work()

    def notify_work_local(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def notify_local(self) -> None:
        with self._cond:
            self._generation += 1
            self._schedule_generation += 1
            self._cond.notify_all()
            self._schedule_cond.notify_all()

    def generation(self) -> int:
        with self._cond:
            return self._generation

    def wait(self, timeout: float, seen: int | None = None) -> bool:
        """Wait up to ``timeout`` s for a notify after generation ``seen``; True if one came."""
        with self._cond:
            start = self._generation if seen is None else seen
            return self._cond.wait_for(lambda: self._generation != start, timeout)

    def schedule_generation(self) -> int:
        with self._cond:
            return self._schedule_generation

    def wait_schedule(self, timeout: float, seen: int) -> bool:
        """:meth:`wait` for the scheduler: only notifies other than :meth:`notify_work` end it early."""
        with self._schedule_cond:
            return self._schedule_cond.wait_for(lambda: self._schedule_generation != seen, timeout)
