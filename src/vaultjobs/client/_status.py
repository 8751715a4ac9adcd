"""Job and task status enums: the one place that knows which statuses are terminal.

Vault documents ten job statuses; `CANCELLING` (Cancel Job) and `FAILED_TO_RUN` (histories) are used
elsewhere in its API. A value Vault adds later is not an error: it becomes an ``UNKNOWN`` pseudo-member
that keeps the raw text (``JobStatus("NEW_THING").raw == "NEW_THING"``) and is treated as not terminal,
so a wait on it runs until its deadline instead of guessing.
"""

from __future__ import annotations

import enum

__all__ = ["JobStatus", "TaskState"]


class _FallbackEnum(enum.StrEnum):
    """A str enum that parses case-insensitively and keeps unknown values as ``UNKNOWN`` pseudo-members."""

    @classmethod
    def _missing_(cls, value: object) -> _FallbackEnum | None:
        if not isinstance(value, str):
            return None
        member = cls._value2member_map_.get(value.strip().upper())
        if member is not None:
            return member  # type: ignore[return-value]
        pseudo = str.__new__(cls, value)
        pseudo._name_ = "UNKNOWN"
        pseudo._value_ = value
        cls._value2member_map_[value] = pseudo
        return pseudo

    @property
    def raw(self) -> str:
        """The status text exactly as the server sent it (for known members, the canonical name)."""
        return str(self._value_)

    @property
    def is_unknown(self) -> bool:
        """True for a value this client does not know (an ``UNKNOWN`` pseudo-member)."""
        return self._name_ == "UNKNOWN"


class JobStatus(_FallbackEnum):
    """Status of a Vault job instance (``data.status`` of Retrieve Job Status, ``status`` in histories)."""

    #: Waiting for its scheduled time.
    SCHEDULED = "SCHEDULED"
    #: Due; being checked and placed on a queue.
    QUEUEING = "QUEUEING"
    #: Waiting for a free worker.
    QUEUED = "QUEUED"
    #: Started and not yet finished.
    RUNNING = "RUNNING"
    #: Cancel accepted; becomes CANCELLED (cannot fail).
    CANCELLING = "CANCELLING"
    #: Finished; everything succeeded.
    SUCCESS = "SUCCESS"
    #: Finished; the job or at least one of its tasks failed.
    ERRORS_ENCOUNTERED = "ERRORS_ENCOUNTERED"
    #: Cancelled before or while running.
    CANCELLED = "CANCELLED"
    #: Ran past its maximum run time and was stopped.
    TIMEOUT = "TIMEOUT"
    #: Ended because it made no progress for too long.
    COMPLETED_DUE_TO_INACTIVITY = "COMPLETED_DUE_TO_INACTIVITY"
    #: Its scheduled start passed without it running.
    MISSED_SCHEDULE = "MISSED_SCHEDULE"
    #: Could not start at all (seen in job histories).
    FAILED_TO_RUN = "FAILED_TO_RUN"

    @property
    def is_terminal(self) -> bool:
        """True once the job will never change status again."""
        return self in _TERMINAL

    @property
    def is_success(self) -> bool:
        """True only for SUCCESS."""
        return self is JobStatus.SUCCESS

    @property
    def is_failure(self) -> bool:
        """True for every terminal status other than SUCCESS."""
        return self in _TERMINAL and self is not JobStatus.SUCCESS


#: Statuses a job never leaves. Everything else (including unknown values) is still in flight.
_TERMINAL = frozenset(
    {
        JobStatus.SUCCESS,
        JobStatus.ERRORS_ENCOUNTERED,
        JobStatus.CANCELLED,
        JobStatus.TIMEOUT,
        JobStatus.COMPLETED_DUE_TO_INACTIVITY,
        JobStatus.MISSED_SCHEDULE,
        JobStatus.FAILED_TO_RUN,
    }
)


class TaskState(_FallbackEnum):
    """State of one SDK job task (``/tasks`` ``state`` and the keys of job ``progress``)."""

    #: Waiting for a worker.
    QUEUED = "QUEUED"
    #: Being processed.
    RUNNING = "RUNNING"
    #: Processed successfully.
    SUCCESS = "SUCCESS"
    #: Processed with errors.
    ERRORS_ENCOUNTERED = "ERRORS_ENCOUNTERED"
    #: Not processed because the job was cancelled.
    CANCELLED = "CANCELLED"

    @property
    def is_done(self) -> bool:
        """True for a task that will not run again (SUCCESS, ERRORS_ENCOUNTERED, CANCELLED)."""
        return self in (TaskState.SUCCESS, TaskState.ERRORS_ENCOUNTERED, TaskState.CANCELLED)
