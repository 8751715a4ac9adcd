"""The scheduler: SCHEDULED instances become QUEUEING then QUEUED when due, or MISSED_SCHEDULE when
they are found later than the schedule grace allows (for example because no scheduler ran)."""

from __future__ import annotations

import logging
from datetime import timedelta

from vaultjobs.engine.wakeup import Wakeup
from vaultjobs.registry import Registry
from vaultjobs.settings import Settings
from vaultjobs.status import JobStatus
from vaultjobs.store import Store
from vaultjobs.timeutil import Clock

logger = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, *, store: Store, registry: Registry, settings: Settings, clock: Clock, wakeup: Wakeup):
        self.store = store
        self.registry = registry
        self.settings = settings
        self.clock = clock
        self.wakeup = wakeup

    def tick(self) -> int:
        """Handle every due instance; return how many were queued."""
        queued = 0
        grace = timedelta(seconds=self.settings.schedule_grace)
        while True:
            now = self.clock.now()
            due = self.store.due_scheduled_jobs(now)
            if not due:
                return queued
            for job in due:
                assert job.scheduled_for is not None
                if now - job.scheduled_for > grace:
                    self.store.transition_job(
                        job.id,
                        JobStatus.SCHEDULED,
                        JobStatus.MISSED_SCHEDULE,
                        now,
                        log=f"missed its scheduled time {job.scheduled_for.isoformat()} by more than "
                        f"the {self.settings.schedule_grace:g} s grace",
                    )
                    continue
                if not self.store.transition_job(job.id, JobStatus.SCHEDULED, JobStatus.QUEUEING, now):
                    continue
                if job.processor not in self.registry:
                    self.store.transition_job(
                        job.id,
                        JobStatus.QUEUEING,
                        JobStatus.FAILED_TO_RUN,
                        now,
                        log=f"processor [{job.processor}] is not installed",
                    )
                    continue
                if self.store.transition_job(job.id, JobStatus.QUEUEING, JobStatus.QUEUED, now):
                    queued += 1
            if queued:
                self.wakeup.notify()

    def seconds_until_next(self) -> float:
        """How long the scheduler may sleep before something becomes due."""
        nxt = self.store.next_scheduled_time()
        if nxt is None:
            return self.settings.poll_interval
        return max(0.0, min(self.settings.poll_interval, (nxt - self.clock.now()).total_seconds()))
