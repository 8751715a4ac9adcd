"""The scheduler: keeps the next instance of every enabled job definition SCHEDULED, and moves due
instances SCHEDULED → QUEUEING → QUEUED.

In QUEUEING an instance is checked before it may run: its processor must be installed and accept
its parameters (else FAILED_TO_RUN), and a single-instance definition must have no other instance
queued or running (else it waits, and becomes MISSED_SCHEDULE once the schedule grace has passed).
An instance found later than the grace allows — no scheduler ran at its time — is MISSED_SCHEDULE.

One definition's trouble stays its own: a processor whose ``validate`` raises fails that instance
(FAILED_TO_RUN, with the exception in its log) and every other definition is scheduled as usual.
Every write of a tick is fenced by the scheduler lease (:mod:`vaultjobs.store.leases`): a scheduler
that lost the lease while paused writes nothing and stops its tick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from vaultjobs.definitions import next_run
from vaultjobs.engine.wakeup import Wakeup
from vaultjobs.errors import InvalidData, ProcessorNotInstalled
from vaultjobs.jobs import Hold, Jobs
from vaultjobs.models import Definition, Job
from vaultjobs.registry import Registry
from vaultjobs.settings import Settings
from vaultjobs.status import JobStatus
from vaultjobs.store import Store, StoreError
from vaultjobs.store.leases import Fence, LeaseLost
from vaultjobs.timeutil import Clock

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Vault's single-instance states, besides SCHEDULED (of which a definition has one at most anyway).
SINGLE_INSTANCE_BUSY = frozenset({JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.CANCELLING})


class Scheduler:
    def __init__(self, *, store: Store, registry: Registry, settings: Settings, clock: Clock, wakeup: Wakeup,
                 hold: Hold | None = None):
        self.store = store
        self.settings = settings
        self.clock = clock
        self.wakeup = wakeup
        self.grace = timedelta(seconds=settings.schedule_grace)
        # Not woken by its own instances: tick() works out when it next has something to do.
        self.jobs = Jobs(store=store, registry=registry, clock=clock, schedule_grace=settings.schedule_grace,
                         hold=hold)
        self.fence: Fence | None = None

    def tick(self, fence: Fence | None = None) -> int:
        """Schedule, queue and check; return how many instances were queued. With ``fence``, every
        write is made only while its holder holds the lease (:class:`LeaseLost` ends the tick)."""
        self.fence = fence
        now = self.clock.now()
        definitions = {d.name: d for d in self.store.schedules.list_definitions()}
        for definition in definitions.values():
            if definition.enabled:
                self._isolated(f"scheduling definition {definition.name}", self._schedule_next, definition, now)
        for job in self.store.schedules.due_scheduled_jobs(now, limit=1000):
            assert job.scheduled_for is not None
            if now - job.scheduled_for > self.grace:
                self._move(
                    job, JobStatus.SCHEDULED, JobStatus.MISSED_SCHEDULE, now,
                    log=f"missed its scheduled time {job.scheduled_for.isoformat()} by more than the "
                    f"{self.settings.schedule_grace:g} s schedule grace (no scheduler was running)",
                )
            else:
                self._move(job, JobStatus.SCHEDULED, JobStatus.QUEUEING, now)
        queued = 0
        for job in self.store.jobs.queueing_jobs():
            if self._isolated(f"queueing job {job.id}", self._queue, job, definitions.get(job.definition or ""), now):
                queued += 1
        if queued:
            self.wakeup.notify()
        # instances created or missed above may make the next tick's work different
        return queued

    def _isolated(self, what: str, step: Callable[..., T], *args: Any) -> T | None:
        """``step(*args)``, its failure logged and kept from the rest of the tick (a lost lease is not
        kept: it ends the tick)."""
        try:
            return step(*args)
        except LeaseLost:
            raise
        except Exception:
            logger.exception("scheduler: %s failed; going on with the others", what)
            return None

    def _move(self, job: Job, expected: JobStatus, new: JobStatus, now: datetime, log: str | None = None) -> bool:
        return self.store.jobs.transition_job(job.id, expected, new, now, log=log, agent="scheduler",
                                             fence=self.fence)

    def _schedule_next(self, definition: Definition, now: datetime) -> None:
        if self.store.schedules.definition_has_instance(definition.name, frozenset({JobStatus.SCHEDULED})):
            return
        last = self.store.schedules.last_instance_time(definition.name)
        try:
            self.jobs.schedule_instance(definition, next_run(definition, max(last, now) if last else now, last),
                                        fence=self.fence)
        except LeaseLost:
            raise
        except StoreError:
            logger.debug("another scheduler scheduled %s first", definition.name)

    def _queue(self, job: Job, definition: Definition | None, now: datetime) -> bool:
        def fail(reason: str) -> bool:
            self._move(job, JobStatus.QUEUEING, JobStatus.FAILED_TO_RUN, now, log=reason)
            return False

        try:
            self.jobs.validated_parameters(job.processor, job.parameters)
        except ProcessorNotInstalled:
            return fail(f"failed to run: processor [{job.processor}] is not installed")
        except InvalidData as exc:
            return fail(f"failed to run: {exc}")
        except Exception as exc:  # noqa: BLE001 - a processor's own validate may raise anything
            return fail(f"failed to run: the processor's validate raised {type(exc).__name__}: {exc}")
        if (
            definition is not None
            and definition.single_instance
            and self.store.schedules.definition_has_instance(definition.name, SINGLE_INSTANCE_BUSY)
        ):
            due = job.scheduled_for or job.created_at
            if now - due > self.grace:
                self._move(
                    job, JobStatus.QUEUEING, JobStatus.MISSED_SCHEDULE, now,
                    log=f"another instance of single-instance definition [{definition.name}] was still "
                    f"queued or running {self.settings.schedule_grace:g} s after this one was due",
                )
            return False
        return self._move(job, JobStatus.QUEUEING, JobStatus.QUEUED, now)

    def seconds_until_next(self) -> float:
        """How long the scheduler may sleep before something becomes due."""
        nxt = self.store.schedules.next_scheduled_time()
        if nxt is None:
            return self.settings.poll_interval
        return max(0.0, min(self.settings.poll_interval, (nxt - self.clock.now()).total_seconds()))
