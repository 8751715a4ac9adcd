"""The sweeper: resolves what dead workers left behind and purges expired sessions."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from vaultjobs.control.limits import Limits
from vaultjobs.engine.wakeup import Wakeup
from vaultjobs.settings import Settings
from vaultjobs.status import JobStatus
from vaultjobs.store import Recovery, Store
from vaultjobs.timeutil import Clock

logger = logging.getLogger(__name__)


class Sweeper:
    def __init__(self, *, store: Store, settings: Settings, clock: Clock, wakeup: Wakeup, own_worker_id: str,
                 limits: Limits | None = None, infra_clock: Clock | None = None):
        self.store = store
        self.settings = settings
        self.clock = clock
        #: Heartbeats are real time even when ``clock`` is the control plane's virtual clock.
        self.infra_clock = infra_clock or clock
        self.limits = limits or Limits(settings)
        self.wakeup = wakeup
        self.own_worker_id = own_worker_id

    def tick(self) -> list[Recovery]:
        now = self.clock.now()
        self.end_overdue_jobs(now)
        recoveries = []
        real_now = self.infra_clock.now()
        for worker_id in self.store.nodes.dead_workers(real_now, self.settings.heartbeat_timeout):
            if worker_id == self.own_worker_id:
                continue
            report = self.store.nodes.recover_worker(
                worker_id, now, stale_before=real_now - timedelta(seconds=self.settings.heartbeat_timeout))
            recoveries.append(report)
            if report.requeued_jobs or report.ended_jobs:
                logger.warning(
                    "worker %s is gone: %d tasks requeued, jobs carried on %s, jobs ended %s",
                    worker_id,
                    report.requeued_tasks,
                    report.requeued_jobs,
                    report.ended_jobs,
                )
        if any(r.requeued_jobs for r in recoveries):
            self.wakeup.notify()
        self.settle_and_purge(now)
        return recoveries

    def apply_time_rules(self, now: datetime) -> None:
        """The sweeper's time rules alone (timeouts, inactivity, session lifetimes), at ``now``."""
        self.end_overdue_jobs(now)
        self.settle_and_purge(now)

    def settle_and_purge(self, now: datetime) -> None:
        limits = self.limits.current()
        self.store.jobs.settle_cancelling(now)
        self.store.users.purge_sessions(
            idle_before=now - timedelta(seconds=limits.session_idle_timeout),
            created_before=now - timedelta(seconds=limits.session_max_age),
        )

    def end_overdue_jobs(self, now: datetime) -> None:
        """TIMEOUT past the processor's timeout; COMPLETED_DUE_TO_INACTIVITY without progress.

        The workers running their tasks see ``ctx.cancelled`` and stop; what they finish afterwards
        is recorded as CANCELLED.
        """
        limits = self.limits.current()
        for job, status in self.store.jobs.overdue_jobs(now, job_timeout=limits.job_timeout,
                                                        inactivity_timeout=limits.inactivity_timeout):
            if status is JobStatus.TIMEOUT:
                reason = "ran past its timeout"
            else:
                reason = "made no progress (no task finished, no heartbeat) for its inactivity timeout"
            if self.store.jobs.transition_job(job.id, JobStatus.RUNNING, status, now, agent="sweeper",
                                              log=f"job ended {status.value}: it {reason}"):
                logger.warning("job %s ended %s: it %s", job.id, status.value, reason)
