"""The records the service keeps: users, sessions, jobs, tasks, log lines and status transitions.

Frozen, keyword-only dataclasses with timezone-aware datetimes only, so a value read from the store
can be passed anywhere without being changed behind the reader's back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from vaultjobs.status import JobStatus, TaskState
from vaultjobs.timeutil import floor_ms, require_aware

#: Each record class's date-time fields, looked up once: every job read builds a Job.
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _check_aware(instance: object) -> None:
    names = _FIELD_NAMES.get(type(instance))
    if names is None:
        names = _FIELD_NAMES[type(instance)] = tuple(
            f.name for f in dataclasses.fields(instance) if "datetime" in str(f.type))  # type: ignore[arg-type]
    for name in names:
        value = getattr(instance, name)
        # Every time the store reads is in UTC: those need no closer look.
        if isinstance(value, datetime) and value.tzinfo is not UTC:
            require_aware(value, f"{type(instance).__name__}.{name}")


@dataclass(frozen=True, kw_only=True, slots=True)
class User:
    id: int
    username: str
    timezone: str
    is_admin: bool
    active: bool
    created_at: datetime
    password_changed_at: datetime
    failed_logins: int = 0
    locked_until: datetime | None = None

    def __post_init__(self) -> None:
        _check_aware(self)


@dataclass(frozen=True, kw_only=True, slots=True)
class Session:
    """A login session; the token itself is never stored, only its hash."""

    token_hash: bytes
    user_id: int
    created_at: datetime
    last_seen: datetime

    def __post_init__(self) -> None:
        _check_aware(self)


@dataclass(frozen=True, kw_only=True, slots=True)
class Job:
    id: int
    processor: str
    title: str | None
    parameters: dict[str, Any]
    status: JobStatus
    #: HTTP method of the request that created the job; None for jobs made by a schedule.
    method: str | None
    #: Whether this instance came from a schedule (its dates render in the user's time zone).
    scheduled: bool
    created_by: int
    created_at: datetime
    modified_by: int
    modified_at: datetime
    scheduled_for: datetime | None = None
    run_start: datetime | None = None
    run_end: datetime | None = None
    #: Where a RUNNING job is: "init", "process" or "complete".
    phase: str | None = None
    worker_id: str | None = None
    progress_at: datetime | None = None
    idempotent: bool = False
    result: dict[str, Any] | None = None
    #: Name of the job definition whose schedule made this instance.
    definition: str | None = None
    #: Whether a RUNNING instance may be cancelled (the processor's ``admin_cancellable``).
    cancellable: bool = True

    def __post_init__(self) -> None:
        _check_aware(self)

    def evolve(self, **changes: Any) -> Job:
        return dataclasses.replace(self, **changes)


class StatusFacts(NamedTuple):
    """What Retrieve Job Status shows of a job, as the store holds it: times in epoch ms, nothing
    decoded. Status is the call every client makes in a loop, and building the whole :class:`Job`
    (its datetimes, its JSON) cost as much as the statement that reads it. A NamedTuple rather than
    a frozen dataclass like the other records: it is built from a row once per call, and a tuple is
    made several times faster."""

    id: int
    processor: str
    status: JobStatus
    method: str | None
    scheduled: bool
    created_by: int
    created_ms: int
    run_start_ms: int | None
    run_end_ms: int | None

    @classmethod
    def of(cls, job: Job) -> StatusFacts:
        return cls(job.id, job.processor, job.status, job.method, job.scheduled, job.created_by,
                   floor_ms(job.created_at), _floor_ms_or_none(job.run_start), _floor_ms_or_none(job.run_end))


def _floor_ms_or_none(value: datetime | None) -> int | None:
    return None if value is None else floor_ms(value)


@dataclass(frozen=True, kw_only=True, slots=True)
class Definition:
    """A job definition: what to run, as whom, and on which schedule (cron in a zone, or an interval)."""

    name: str
    processor: str
    parameters: dict[str, Any]
    owner_id: int
    title: str | None = None
    cron: str | None = None
    timezone: str = "UTC"
    #: Seconds between instances, for interval schedules.
    interval: float | None = None
    timeout: float | None = None
    inactivity_timeout: float | None = None
    single_instance: bool = False
    enabled: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class Task:
    job_id: int
    seq: int
    state: TaskState
    items: list[dict[str, Any]] = field(default_factory=list)
    worker_id: str | None = None
    attempts: int = 0
    message: str | None = None
    output: dict[str, Any] | None = None

    @property
    def task_id(self) -> str:
        """The id Vault shows for a task (``Task1``, ``Task2`` …)."""
        return f"Task{self.seq}"


@dataclass(frozen=True, kw_only=True, slots=True)
class LogLine:
    at: datetime
    message: str

    def __post_init__(self) -> None:
        _check_aware(self)


@dataclass(frozen=True, kw_only=True, slots=True)
class Transition:
    """One change of a job's status, as the store recorded it when it happened."""

    #: None for the status the job was created in.
    from_status: JobStatus | None
    to_status: JobStatus
    at: datetime
    #: Who or what made it: ``user:<id>``, ``worker:<id>``, ``scheduler``, ``sweeper``, ``definitions``;
    #: None when the writer did not say.
    actor: str | None

    def __post_init__(self) -> None:
        _check_aware(self)

    @property
    def user_id(self) -> int | None:
        """The user whose request made the change, if a user's did."""
        kind, _, rest = (self.actor or "").partition(":")
        return int(rest) if kind == "user" and rest.isdigit() else None


@dataclass(frozen=True, kw_only=True, slots=True)
class Page:
    """One page of a listing and the total it was cut from."""

    items: list[Any]
    total: int
    limit: int
    offset: int
