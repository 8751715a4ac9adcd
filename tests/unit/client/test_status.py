from __future__ import annotations

import pytest

from vaultjobs.client import JobStatus, TaskState

TERMINAL_FAILURES = [
    "ERRORS_ENCOUNTERED",
    "CANCELLED",
    "TIMEOUT",
    "COMPLETED_DUE_TO_INACTIVITY",
    "MISSED_SCHEDULE",
    "FAILED_TO_RUN",
]
IN_FLIGHT = ["SCHEDULED", "QUEUEING", "QUEUED", "RUNNING", "CANCELLING"]


def test_job_status_covers_the_ten_documented_statuses_plus_cancelling_and_failed_to_run() -> None:
    documented = {
        "SCHEDULED", "QUEUED", "RUNNING", "SUCCESS", "ERRORS_ENCOUNTERED", "QUEUEING",
        "CANCELLED", "TIMEOUT", "COMPLETED_DUE_TO_INACTIVITY", "MISSED_SCHEDULE",
    }  # fmt: skip
    assert {s.value for s in JobStatus} == documented | {"CANCELLING", "FAILED_TO_RUN"}


def test_success_is_terminal_success_and_not_failure() -> None:
    assert JobStatus.SUCCESS.is_terminal
    assert JobStatus.SUCCESS.is_success
    assert not JobStatus.SUCCESS.is_failure


@pytest.mark.parametrize("value", TERMINAL_FAILURES)
def test_failing_terminal_statuses(value: str) -> None:
    status = JobStatus(value)
    assert status.is_terminal and status.is_failure and not status.is_success


@pytest.mark.parametrize("value", IN_FLIGHT)
def test_in_flight_statuses_are_not_terminal(value: str) -> None:
    status = JobStatus(value)
    assert not status.is_terminal and not status.is_failure and not status.is_success


def test_parsing_is_case_insensitive_like_the_histories_filter() -> None:
    assert JobStatus("failed_to_run") is JobStatus.FAILED_TO_RUN
    assert JobStatus(" success ") is JobStatus.SUCCESS


def test_unknown_status_is_kept_raw_and_not_terminal() -> None:
    status = JobStatus("PAUSED_BY_MOON")
    assert status.is_unknown
    assert status.raw == "PAUSED_BY_MOON"
    assert status.name == "UNKNOWN"
    assert status == "PAUSED_BY_MOON"
    assert not status.is_terminal and not status.is_success and not status.is_failure
    assert JobStatus("PAUSED_BY_MOON") is status
    assert status not in list(JobStatus)


def test_known_members_are_not_unknown_and_print_as_their_value() -> None:
    assert not JobStatus.RUNNING.is_unknown
    assert str(JobStatus.RUNNING) == "RUNNING"
    assert f"{JobStatus.RUNNING}" == "RUNNING"


def test_task_states() -> None:
    assert {s.value for s in TaskState} == {"QUEUED", "RUNNING", "SUCCESS", "ERRORS_ENCOUNTERED", "CANCELLED"}
    assert TaskState.SUCCESS.is_done and TaskState.CANCELLED.is_done
    assert not TaskState.RUNNING.is_done
    assert TaskState("WEIRD").is_unknown
