"""Job and task states, which of them are final, and the moves allowed between them.

Every state change in the store is checked against :data:`JOB_TRANSITIONS`, so a bug elsewhere can
never move a finished job again or skip a step of the lifecycle.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """The status of a job instance, with Vault's names."""

    #: Waiting for its scheduled time.
    SCHEDULED = "SCHEDULED"
    #: Due, being checked and placed on the queue.
    QUEUEING = "QUEUEING"
    #: On the queue, waiting for a free worker.
    QUEUED = "QUEUED"
    #: Claimed by a worker.
    RUNNING = "RUNNING"
    #: Every task succeeded and the processor completed.
    SUCCESS = "SUCCESS"
    #: The processor raised, or a task failed.
    ERRORS_ENCOUNTERED = "ERRORS_ENCOUNTERED"
    #: Ran past its processor's timeout.
    TIMEOUT = "TIMEOUT"
    #: Made no progress for its inactivity timeout, or its worker died and it cannot be re-run.
    COMPLETED_DUE_TO_INACTIVITY = "COMPLETED_DUE_TO_INACTIVITY"
    #: Not queued within the schedule grace period of its time.
    MISSED_SCHEDULE = "MISSED_SCHEDULE"
    #: A cancel was accepted while it ran; the worker stops between tasks.
    CANCELLING = "CANCELLING"
    #: Cancelled before or while it ran.
    CANCELLED = "CANCELLED"
    #: Could not start: unknown processor, bad parameters, single-instance clash.
    FAILED_TO_RUN = "FAILED_TO_RUN"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_JOB_STATUSES

    @property
    def is_success(self) -> bool:
        return self is JobStatus.SUCCESS


TERMINAL_JOB_STATUSES: frozenset[JobStatus] = frozenset(
    {
        JobStatus.SUCCESS,
        JobStatus.ERRORS_ENCOUNTERED,
        JobStatus.TIMEOUT,
        JobStatus.COMPLETED_DUE_TO_INACTIVITY,
        JobStatus.MISSED_SCHEDULE,
        JobStatus.CANCELLED,
        JobStatus.FAILED_TO_RUN,
    }
)

#: Statuses of jobs that are not finished (what "monitors" lists).
ACTIVE_JOB_STATUSES: frozenset[JobStatus] = frozenset(set(JobStatus) - TERMINAL_JOB_STATUSES)

_S = JobStatus
JOB_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    _S.SCHEDULED: frozenset({_S.QUEUEING, _S.MISSED_SCHEDULE, _S.CANCELLED, _S.FAILED_TO_RUN}),
    _S.QUEUEING: frozenset({_S.QUEUED, _S.CANCELLED, _S.FAILED_TO_RUN, _S.MISSED_SCHEDULE}),
    _S.QUEUED: frozenset({_S.RUNNING, _S.CANCELLED, _S.FAILED_TO_RUN}),
    _S.RUNNING: frozenset(
        {
            _S.SUCCESS,
            _S.ERRORS_ENCOUNTERED,
            _S.TIMEOUT,
            _S.COMPLETED_DUE_TO_INACTIVITY,
            _S.CANCELLING,
        }
    ),
    _S.CANCELLING: frozenset({_S.CANCELLED}),
}
for _terminal in TERMINAL_JOB_STATUSES:
    JOB_TRANSITIONS[_terminal] = frozenset()


def can_transition(current: JobStatus, new: JobStatus) -> bool:
    """Whether a job may move from ``current`` to ``new``."""
    return new in JOB_TRANSITIONS[current]


class TaskState(StrEnum):
    """The state of one task (a chunk of job items)."""

    #: Waiting for a worker.
    QUEUED = "QUEUED"
    #: Being processed by a worker.
    RUNNING = "RUNNING"
    #: Processed without failure.
    SUCCESS = "SUCCESS"
    #: The processor raised or marked the task failed.
    ERRORS_ENCOUNTERED = "ERRORS_ENCOUNTERED"
    #: Never processed, because the job was cancelled or ended first.
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_TASK_STATES


TERMINAL_TASK_STATES: frozenset[TaskState] = frozenset(
    {TaskState.SUCCESS, TaskState.ERRORS_ENCOUNTERED, TaskState.CANCELLED}
)

#: The order task states appear in a job's ``progress``: finished work first.
PROGRESS_ORDER: tuple[TaskState, ...] = (
    TaskState.SUCCESS,
    TaskState.ERRORS_ENCOUNTERED,
    TaskState.CANCELLED,
    TaskState.RUNNING,
    TaskState.QUEUED,
)
