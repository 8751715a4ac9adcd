"""Retention: finished jobs, their tasks, log lines and status windows go ``retention_days`` after they ended.

The purge runs on the leader (the engine says which node leads), once shortly after start and then every few minutes
— more often when the retention period is short, so nothing outlives it by more than a tenth.
Unfinished jobs are never touched, however old. Each store call deletes one small batch in its own
short write transaction, and the purge pauses between batches, so jobs keep starting and finishing
while a large backlog of old jobs is purged. ``retention_days`` ≤ 0 keeps finished jobs forever.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from vaultjobs.settings import Settings
from vaultjobs.store import Store
from vaultjobs.timeutil import Clock

logger = logging.getLogger(__name__)

#: How often the purge runs at most apart, and how soon after start it runs first.
INTERVAL = 300.0
FIRST_DELAY = 5.0
#: Shortest interval, for tiny retention periods (tests).
MIN_INTERVAL = 0.1
#: One batch: at most this many jobs and this many rows in all (jobs, tasks, log lines, windows).
BATCH_JOBS = 500
BATCH_ROWS = 20_000
#: Pause between batches, so that other writers get the database.
PAUSE = 0.02


class Retention:
    def __init__(self, *, store: Store, settings: Settings, clock: Clock) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    @property
    def enabled(self) -> bool:
        return self.settings.retention_days > 0

    @property
    def interval(self) -> float:
        """Seconds between purges: at most ``INTERVAL``, at most a tenth of the retention period."""
        return max(MIN_INTERVAL, min(INTERVAL, self.settings.retention_days * 86_400 / 10))

    def purge(self, stop: threading.Event | None = None) -> int:
        """Delete everything past retention, batch by batch; returns the rows deleted."""
        if not self.enabled:
            return 0
        cutoff = self.clock.now() - timedelta(days=self.settings.retention_days)
        deleted = 0
        while stop is None or not stop.is_set():
            rows = self.store.history.purge_finished_jobs(cutoff, max_jobs=BATCH_JOBS, max_rows=BATCH_ROWS)
            if not rows:
                break
            deleted += rows
            if stop is not None:
                stop.wait(PAUSE)
        if deleted:
            logger.info("retention: purged %d rows of jobs finished before %s", deleted, cutoff.isoformat())
        return deleted

    def run(self, stop: threading.Event, leads: Callable[[], bool] = lambda: True) -> None:
        """The node's retention loop, until ``stop`` is set; it purges while ``leads()``."""
        if not self.enabled:
            return
        delay = min(FIRST_DELAY, self.interval)
        while not stop.wait(delay):
            try:
                if leads():
                    self.purge(stop)
            except Exception:
                logger.exception("retention purge failed")
            delay = self.interval
