"""The scheduler: keeps the next instance of every enabled job definition SCHEDULED, and moves due
instances SCHEDULED → QUEUEING → QUEUED.

In QUEUEING an instance is checked before it may run: its processor must be installed and accept
its parameters (else FAILED_TO_RUN), and a single-instance definition must have no other instance
queued or running (else it waits, and becomes MISSED_SCHEDULE once the schedule grace has passed).
An instance found later than the grace allows — no scheduler ran at its time — is MISSED_SCHEDULE.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from vaultjobs.definitions import next_run
from vaultjobs.engine.wakeup import Wakeup
from vaultjobs.errors import InvalidData, ProcessorNotInstalled
from vaultjobs.jobs import Jobs
from vaultjobs.models import Definition, Job
from vaultjobs.registry import Registry
from vaultjobs.settings import Settings
from vaultjobs.status import JobStatus
from vaultjobs.store import Store, StoreError
from vaultjobs.timeutil import Clock

logger = logging.getLogger(__name__)

#: Vault's single-instance states, besides SCHEDULED (of which a definition has one at most anyway).
SINGLE_INSTANCE_BUSY = frozenset({JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.CANCELLING})


class Scheduler:
    def __init__(self, *, store: Store, registry: Registry, settings: Settings, clock: Clock, wakeup: Wakeup):
        self.store = store
        self.settings = settings
        self.clock = clock
        self.wakeup = wakeup
        self.grace = timedelta(seconds=settings.schedule_grace)
        # Not woken by its own instances: tick() works out when it next has something to do.
        self.jobs = Jobs(store=store, registry=registry, clock=clock, schedule_grace=settings.schedule_grace)

    def tick(self) -> int:
        """Schedule, queue and check; return how many instances were queued."""
        now = self.clock.now()
        definitions = {d.name: d for d in self.store.schedules.list_definitions()}
        for definition in definitions.values():
            if definition.enabled:
                self._schedule_next(definition, now)
        for job in self.store.schedules.due_scheduled_jobs(now, limit=1000):
            assert job.scheduled_for is not None
            if now - job.scheduled_for > self.grace:
                self.store.jobs.transition_job(
                    job.id, JobStatus.SCHEDULED, JobStatus.MISSED_SCHEDULE, now,
                    log=f"missed its scheduled time {job.scheduled_for.isoformat()} by more than the "
                    f"{self.settings.schedule_grace:g} s schedule grace (no scheduler was running)",
                )
            else:
                self.store.jobs.transition_job(job.id, JobStatus.SCHEDULED, JobStatus.QUEUEING, now)
        queued = 0
        for job in self.store.jobs.queueing_jobs():
            if self._queue(job, definitions.get(job.definition or ""), now):
                queued += 1
        if queued:
            self.wakeup.notify()
        # instances created or missed above may make the next tick's work different
        return queued

    def _schedule_next(self, definition: Definition, now: datetime) -> None:
        if self.store.schedules.definition_has_instance(definition.name, frozenset({JobStatus.SCHEDULED})):
            return
        last = self.store.schedules.last_instance_time(definition.name)
        try:
            self.jobs.schedule_instance(definition, next_run(definition, max(last, now) if last else now, last))
        except StoreError:
            logger.debug("another scheduler scheduled %s first", definition.name)

    def _queue(self, job: Job, definition: Definition | None, now: datetime) -> bool:
        def fail(reason: str) -> bool:
            self.store.jobs.transition_job(job.id, JobStatus.QUEUEING, JobStatus.FAILED_TO_RUN, now, log=reason)
            return False

        try:
            self.jobs.validated_parameters(job.processor, job.parameters)
        except ProcessorNotInstalled:
            return fail(f"failed to run: processor [{job.processor}] is not installed")
        except InvalidData as exc:
            return fail(f"failed to run: {exc}")
        if (
            definition is not None
            and definition.single_instance
            and self.store.schedules.definition_has_instance(definition.name, SINGLE_INSTANCE_BUSY)
        ):
            due = job.scheduled_for or job.created_at
            if now - due > self.grace:
                self.store.jobs.transition_job(
                    job.id, JobStatus.QUEUEING, JobStatus.MISSED_SCHEDULE, now,
                    log=f"another instance of single-instance definition [{definition.name}] was still "
                    f"queued or running {self.settings.schedule_grace:g} s after this one was due",
                )
            return False
        return self.store.jobs.transition_job(job.id, JobStatus.QUEUEING, JobStatus.QUEUED, now)

    def seconds_until_next(self) -> float:
        """How long the scheduler may sleep before something becomes due."""
        nxt = self.store.schedules.next_scheduled_time()
        if nxt is None:
            return self.settings.poll_interval
        return max(0.0, min(self.settings.poll_interval, (nxt - self.clock.now()).total_seconds()))
