"""Recording what units of work led to, apart from running them.

Running a unit (a job's ``init``, a task, a ``complete``) and writing what it led to are separate
steps. The writes go through one :class:`OutcomeWriter` per worker, which survives the database
going away for a while (a restart, a lost connection, a full disk):

- a worker thread retries each write with exponential backoff for up to ``outcome_retry`` seconds,
  so a short outage costs a pause, not the outcome;
- past that, the thread gives up on waiting (:class:`OutcomeNotRecorded`) and goes on, and the
  writer's own thread keeps trying the write in the background until the database is back: a
  finished task's real outcome is written late rather than lost or guessed, and the jobs whose last
  task that was are handed back for any worker to complete; units held and not started are handed
  back to the queue.

So a store error after a unit started never leaves its tasks RUNNING under a live worker until a
timeout ends the job: what ran is recorded as it ended, what did not run goes back to the queue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: First wait between attempts, and the longest.
FIRST_DELAY = 0.05
MAX_DELAY = 2.0


class OutcomeNotRecorded(Exception):
    """A write kept failing for longer than the retry budget; the background writer took it over."""


@dataclass
class _Deferred:
    what: str
    write: Callable[[], object]
    delay: float = FIRST_DELAY
    due: float = 0.0


class OutcomeWriter:
    def __init__(self, *, budget: float, stopping: threading.Event,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self._stopping = stopping
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._deferred: list[_Deferred] = []
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def write(self, what: str, attempt: Callable[[], T], *, later: Callable[[], object] | None = None) -> T:
        """``attempt()``, retried with backoff while it raises, for up to the budget. Past it,
        ``later`` (or ``attempt`` itself) is handed to the background writer and
        :class:`OutcomeNotRecorded` raised."""
        deadline = self._monotonic() + self.budget
        delay = FIRST_DELAY
        while True:
            try:
                return attempt()
            except Exception as exc:
                if self._monotonic() + delay > deadline or self._stopping.is_set():
                    self.defer(what, later or attempt)
                    raise OutcomeNotRecorded(f"could not record {what}: {exc}") from exc
                logger.warning("recording %s failed (%s: %s); retrying in %.2f s", what, type(exc).__name__, exc,
                               delay)
                self._stopping.wait(delay)
                delay = min(MAX_DELAY, delay * 2)

    def defer(self, what: str, write: Callable[[], object]) -> None:
        """Have the background writer run ``write`` until it succeeds."""
        with self._lock:
            self._deferred.append(_Deferred(what=what, write=write))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="vaultjobs-outcomes", daemon=True)
                self._thread.start()
        self._wake.set()
        logger.warning("recording %s is left to the background writer until the database is back", what)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._deferred)

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the background writes; whether none is left."""
        deadline = self._monotonic() + timeout
        while self.pending and self._monotonic() < deadline:
            self._wake.set()
            time.sleep(0.02)
        return not self.pending

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._deferred:
                    self._thread = None
                    return
                now = self._monotonic()
                due = [d for d in self._deferred if d.due <= now]
                wait = min((d.due for d in self._deferred), default=now) - now
            for item in due:
                try:
                    item.write()
                except Exception as exc:
                    item.delay = min(MAX_DELAY, item.delay * 2)
                    item.due = self._monotonic() + item.delay
                    logger.debug("background recording of %s failed again: %s", item.what, exc)
                    continue
                logger.info("recorded %s once the database was back", item.what)
                with self._lock:
                    self._deferred.remove(item)
            if not due:
                self._wake.wait(max(0.01, wait))
                self._wake.clear()
