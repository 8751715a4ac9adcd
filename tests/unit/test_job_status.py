from __future__ import annotations

import pytest

from vaultjobs.status import (
    ACTIVE_JOB_STATUSES,
    JOB_TRANSITIONS,
    TERMINAL_JOB_STATUSES,
    JobStatus,
    TaskState,
    can_transition,
)


def test_terminal_and_active_statuses_partition_all_statuses() -> None:
    assert TERMINAL_JOB_STATUSES | ACTIVE_JOB_STATUSES == set(JobStatus)
    assert not TERMINAL_JOB_STATUSES & ACTIVE_JOB_STATUSES


@pytest.mark.parametrize("status", sorted(TERMINAL_JOB_STATUSES))
def test_terminal_statuses_never_change_again(status: JobStatus) -> None:
    assert status.is_terminal
    assert JOB_TRANSITIONS[status] == frozenset()
    assert not any(can_transition(status, other) for other in JobStatus)


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        (JobStatus.QUEUED, JobStatus.RUNNING, True),
        (JobStatus.RUNNING, JobStatus.SUCCESS, True),
        (JobStatus.RUNNING, JobStatus.COMPLETED_DUE_TO_INACTIVITY, True),
        (JobStatus.SCHEDULED, JobStatus.QUEUEING, True),
        (JobStatus.QUEUEING, JobStatus.QUEUED, True),
        (JobStatus.SCHEDULED, JobStatus.MISSED_SCHEDULE, True),
        (JobStatus.CANCELLING, JobStatus.CANCELLED, True),
        # backwards or skipping steps is refused
        (JobStatus.RUNNING, JobStatus.QUEUED, False),
        (JobStatus.QUEUED, JobStatus.SUCCESS, False),
        (JobStatus.SCHEDULED, JobStatus.RUNNING, False),
        (JobStatus.CANCELLING, JobStatus.SUCCESS, False),
        # FAILED_TO_RUN only before a job ran
        (JobStatus.RUNNING, JobStatus.FAILED_TO_RUN, False),
        (JobStatus.QUEUEING, JobStatus.FAILED_TO_RUN, True),
    ],
)
def test_transitions(current: JobStatus, new: JobStatus, allowed: bool) -> None:
    assert can_transition(current, new) is allowed


def test_only_success_is_success() -> None:
    assert [s for s in JobStatus if s.is_success] == [JobStatus.SUCCESS]


def test_task_states() -> None:
    assert {s for s in TaskState if s.is_terminal} == {
        TaskState.SUCCESS,
        TaskState.ERRORS_ENCOUNTERED,
        TaskState.CANCELLED,
    }
    assert JobStatus("RUNNING") is JobStatus.RUNNING
    assert str(JobStatus.RUNNING) == "RUNNING"
