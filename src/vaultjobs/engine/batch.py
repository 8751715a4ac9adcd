"""Claiming in batches without holding work back.

A worker thread claims several units at once (jobs to initialise or complete, tasks) and runs them
one after the other, writing what they led to together. That saves round trips when units are
quick, but a slow unit would keep the ones claimed with it waiting, RUNNING in name only. So:

- :class:`BatchSize` grows a thread's claim size while nothing is handed back and drops it back
  to one after a batch that had to hand units back;
- :class:`HeldUnits` is what a batch holds and has not started; a :class:`HandBack` watcher hands
  those units back to the store (for any thread of any worker) once the unit running has run for
  longer than ``hold`` seconds, or the units run one after the other since the batch last wrote have
  (many quick units hold the rest back as surely as one slow unit: without this rule a larger claim
  would leave a worker's other threads idle while one thread works through its batch).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from vaultjobs import metrics
from vaultjobs.store import Store
from vaultjobs.timeutil import Clock

logger = logging.getLogger(__name__)

#: ``("job", job_id)`` or ``("task", job_id, seq)``.
UnitKey = tuple[Any, ...]


def job_key(job_id: int) -> UnitKey:
    return ("job", job_id)


def task_key(job_id: int, seq: int) -> UnitKey:
    return ("task", job_id, seq)


class BatchSize:
    """A thread's claim size: back to 1 after a batch that had to hand units back (one of them was
    slow), doubled after each full batch that did not. The hand-back is what keeps a large batch
    from holding work back, so the size needs no other brake; a loaded machine that slows every
    unit a little keeps its batches."""

    def __init__(self, most: int) -> None:
        self.most = most
        self.size = 1

    def record(self, units: int, handed_back: bool) -> None:
        if handed_back:
            self.size = 1
        elif units >= self.size:
            self.size = min(self.most, self.size * 2)


class HeldUnits:
    """Units one batch holds in the store and has not started, in the order it will start them."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._waiting: dict[UnitKey, None] = {}
        #: When the unit running now started (monotonic), or None between units.
        self._busy_since: float | None = None
        #: When the units run one after the other since the batch last paused (to write) began.
        #: Time spent writing does not count: a slow database is no reason to hand work back.
        self._running_since: float | None = None
        #: Whether units were taken away before they started.
        self.handed_back = False
        #: Called by the hand-back watcher while the unit running now has run for ``hold`` s or more.
        self.on_slow: Callable[[], None] | None = None

    def hold(self, keys: Sequence[UnitKey]) -> None:
        with self._lock:
            for key in keys:
                self._waiting[key] = None

    def start(self, key: UnitKey) -> bool:
        """Mark ``key`` running; False when it was handed back meanwhile (skip it)."""
        with self._lock:
            if key not in self._waiting:
                return False
            del self._waiting[key]
            self._mark_busy()
            return True

    def busy(self) -> None:
        """Processor code runs now that is no waiting unit of its own (the ``complete`` of a job whose
        ``init`` this batch ran): it holds the waiting units back as a unit would."""
        with self._lock:
            self._mark_busy()

    def _mark_busy(self) -> None:
        """(Under the lock.)"""
        self._busy_since = self._clock.monotonic()
        if self._running_since is None:
            self._running_since = self._busy_since

    def pause(self) -> None:
        """No unit runs (the batch is writing): nothing is held back by a unit."""
        with self._lock:
            self._busy_since = self._running_since = None

    def take_all(self) -> list[UnitKey]:
        with self._lock:
            keys, self._waiting = list(self._waiting), {}
            self.handed_back = self.handed_back or bool(keys)
            return keys

    def take_if_held_back(self, hold: float) -> list[UnitKey]:
        """Everything waiting, if the unit running has run for ``hold`` s or more, or the units run
        since the batch last wrote have; else nothing."""
        with self._lock:
            if not self._waiting or self._running_since is None:
                return []
            if self._clock.monotonic() - self._running_since < hold:
                return []
            keys, self._waiting = list(self._waiting), {}
            self.handed_back = True
            return keys

    def slow(self, hold: float) -> bool:
        """Whether the unit running now has run for ``hold`` s or more."""
        with self._lock:
            return self._busy_since is not None and self._clock.monotonic() - self._busy_since >= hold


class HandBack:
    """Hands back units that batches hold behind a slow unit, and who was holding what."""

    def __init__(self, store: Store, worker_id: str, hold: float, clock: Clock,
                 on_handed_back: Callable[[], None]) -> None:
        self.store = store
        self.worker_id = worker_id
        self.hold = hold
        self.clock = clock
        self.on_handed_back = on_handed_back
        self._lock = threading.Lock()
        self._batches: set[HeldUnits] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def track(self, units: HeldUnits) -> None:
        with self._lock:
            self._batches.add(units)

    def forget(self, units: HeldUnits) -> None:
        with self._lock:
            self._batches.discard(units)

    def release(self, keys: Sequence[UnitKey]) -> None:
        """Give ``keys`` back to the store for anyone to take."""
        if not keys:
            return
        jobs = [key[1] for key in keys if key[0] == "job"]
        tasks = [(key[1], key[2]) for key in keys if key[0] == "task"]
        self.store.work.release(self.worker_id, jobs, tasks)
        metrics.HANDED_BACK.inc(len(keys))
        logger.debug("handed back %d units", len(keys))
        self.on_handed_back()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="vaultjobs-hand-back", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the watcher runs (it does in a pool of threads that claim more than one unit)."""
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _watch(self) -> None:
        while not self._stop.wait(self.hold / 4):
            with self._lock:
                batches = list(self._batches)
            for units in batches:
                keys = units.take_if_held_back(self.hold)
                if keys:
                    try:
                        self.release(keys)
                    except Exception:
                        logger.exception("could not hand back %d units; their batch keeps them", len(keys))
                        units.hold(keys)
                if units.on_slow is not None and units.slow(self.hold):
                    try:
                        units.on_slow()
                    except Exception:
                        logger.exception("a slow batch's finished work could not be passed on")
