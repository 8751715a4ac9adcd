"""What the engine and the API need from a store, whichever database is behind it.

Every method is one atomic unit of work. Every job state change is a conditional update
(``… WHERE status = :expected``) so that two nodes can never both move the same job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from vaultjobs.models import Definition, Job, LogLine, Page, Session, Task, User
from vaultjobs.status import JobStatus, TaskState


class StoreError(Exception):
    """A store operation could not be done."""


class UserExists(StoreError):
    """A user with that name exists already."""


class UnknownUser(StoreError):
    """No user has that name."""


@dataclass(frozen=True, kw_only=True)
class NewJob:
    processor: str
    parameters: dict[str, Any]
    created_by: int
    title: str | None = None
    method: str | None = "POST"
    status: JobStatus = JobStatus.QUEUED
    scheduled: bool = False
    scheduled_for: datetime | None = None
    idempotent: bool = False
    timeout: float | None = None
    inactivity_timeout: float | None = None
    definition: str | None = None
    cancellable: bool = True


@dataclass(frozen=True, kw_only=True)
class TaskOutcome:
    state: TaskState
    message: str | None = None
    output: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class Started:
    """What storing a job's tasks led to."""

    #: The job has no tasks: the caller now holds it in its complete phase.
    complete_now: bool
    #: The first task, already claimed by the caller (with ``claim_first``).
    first_task: Task | None = None


@dataclass(frozen=True, kw_only=True)
class TaskPlan:
    """A job's tasks as ``init`` planned them (JSON payloads), with the log lines of its init."""

    job_id: int
    chunks: list[str]
    logs: Sequence[tuple[datetime, str]] = ()
    #: Whether the worker that ran ``init`` keeps the first task (saving it a claim).
    claim_first: bool = True


@dataclass(frozen=True, kw_only=True)
class FinishedTask:
    """How one task a worker ran ended, with the log lines it wrote."""

    job_id: int
    seq: int
    outcome: TaskOutcome
    logs: Sequence[tuple[datetime, str]] = ()


@dataclass(frozen=True, kw_only=True)
class JobEnd:
    """How a worker ends one job it holds."""

    job_id: int
    status: JobStatus
    result: dict[str, Any] | None = None
    logs: Sequence[tuple[datetime, str]] = ()


@dataclass(kw_only=True)
class Recovery:
    """What resolving one dead worker did."""

    worker_id: str
    requeued_tasks: int = 0
    requeued_jobs: list[int] = field(default_factory=list)
    ended_jobs: list[int] = field(default_factory=list)


class Store(Protocol):
    def migrate(self) -> list[int]: ...
    def close(self) -> None: ...
    def execute(self, sql: str, params: tuple[Any, ...] = ...) -> list[tuple[Any, ...]]: ...

    # nodes
    def notify_work(self) -> None: ...
    def listen(self, callback: Callable[[], None]) -> None: ...
    def acquire_lease(self, name: str, holder: str, now: datetime, ttl: float) -> bool: ...
    def release_lease(self, name: str, holder: str) -> None: ...

    # users and sessions
    def create_user(
        self, *, username: str, password_hash: str, timezone: str, is_admin: bool, now: datetime
    ) -> User: ...
    def get_user(self, user_id: int) -> User | None: ...
    def get_user_by_name(self, username: str) -> User | None: ...
    def get_password_hash(self, user_id: int) -> str: ...
    def list_users(self) -> list[User]: ...
    def count_users(self) -> int: ...
    def set_password(self, user_id: int, password_hash: str, now: datetime) -> None: ...
    def set_active(self, user_id: int, active: bool) -> None: ...
    def record_login_failure(
        self, user_id: int, now: datetime, lock_after: int, lock_seconds: float
    ) -> User: ...
    def record_login_success(self, user_id: int) -> None: ...
    def count_auth_attempt(self, username: str, window_start: datetime) -> int: ...
    def create_session(self, token_hash: bytes, user_id: int, now: datetime) -> None: ...
    def get_session(self, token_hash: bytes) -> tuple[Session, User] | None: ...
    def touch_session(self, token_hash: bytes, now: datetime) -> None: ...
    def delete_session(self, token_hash: bytes) -> None: ...
    def purge_sessions(self, idle_before: datetime, created_before: datetime) -> int: ...

    # jobs
    def create_job(self, new: NewJob, now: datetime) -> Job: ...
    def get_job(self, job_id: int) -> Job | None: ...
    def transition_job(
        self,
        job_id: int,
        expected: JobStatus,
        new: JobStatus,
        now: datetime,
        *,
        log: str | None = None,
        by: int | None = None,
    ) -> bool: ...
    def job_status(self, job_id: int) -> JobStatus | None: ...
    def cancel_job(self, job_id: int, by: int, now: datetime) -> tuple[bool, JobStatus]: ...
    def settle_cancelling(self, now: datetime) -> list[int]: ...
    def overdue_jobs(self, now: datetime) -> list[tuple[Job, JobStatus]]: ...
    def queueing_jobs(self) -> list[Job]: ...
    def claim_jobs(self, worker_id: str, now: datetime, limit: int) -> list[Job]: ...
    def claim_job(self, worker_id: str, now: datetime) -> Job | None: ...
    def claim_tasks(self, worker_id: str, now: datetime, limit: int) -> list[Task]: ...
    def claim_task(self, worker_id: str, now: datetime) -> Task | None: ...
    def release(
        self, worker_id: str, job_ids: Sequence[int] = (), tasks: Sequence[tuple[int, int]] = ()
    ) -> None: ...
    def job_statuses(self, job_ids: Sequence[int]) -> dict[int, JobStatus]: ...
    def get_jobs(self, job_ids: Sequence[int]) -> dict[int, Job]: ...
    def statuses_and_task_counts(self, job_ids: Sequence[int]) -> dict[int, tuple[JobStatus, dict[TaskState, int]]]: ...
    def start_tasks_of(self, worker_id: str, plans: Sequence[TaskPlan], now: datetime) -> list[Started | None]: ...
    def start_tasks(
        self,
        job_id: int,
        worker_id: str,
        chunks: list[str],
        now: datetime,
        *,
        claim_first: bool = False,
        logs: Sequence[tuple[datetime, str]] = (),
    ) -> Started: ...
    def finish_tasks(self, worker_id: str, finished: Sequence[FinishedTask], now: datetime) -> set[int]: ...
    def finish_tasks_counted(
        self, worker_id: str, finished: Sequence[FinishedTask], now: datetime
    ) -> dict[int, tuple[JobStatus, dict[TaskState, int]]]: ...
    def finish_jobs(self, worker_id: str, ends: Sequence[JobEnd], now: datetime) -> set[int]: ...
    def finish_task(
        self,
        job_id: int,
        seq: int,
        worker_id: str,
        outcome: TaskOutcome,
        now: datetime,
        *,
        logs: Sequence[tuple[datetime, str]] = (),
    ) -> bool: ...
    def finish_job(
        self,
        job_id: int,
        worker_id: str,
        status: JobStatus,
        now: datetime,
        result: dict[str, Any] | None = None,
        log: str | None = None,
        *,
        logs: Sequence[tuple[datetime, str]] = (),
    ) -> bool: ...
    def touch_job_progress(self, job_id: int, now: datetime) -> None: ...
    def task_counts(self, job_id: int) -> dict[TaskState, int]: ...
    def job_and_task_counts(self, job_id: int) -> tuple[Job, dict[TaskState, int]] | None: ...
    def list_tasks(self, job_id: int, limit: int, offset: int) -> Page: ...
    def failed_tasks(self, job_id: int) -> list[Task]: ...
    def append_log(self, job_id: int, message: str, now: datetime) -> None: ...
    def append_logs(self, job_id: int, logs: Sequence[tuple[datetime, str]]) -> None: ...
    def read_log(self, job_id: int) -> list[LogLine]: ...
    def open_status_window(self, job_id: int, now: datetime, window: float) -> float | None: ...

    # scheduler
    def due_scheduled_jobs(self, now: datetime, limit: int = 100) -> list[Job]: ...
    def next_scheduled_time(self) -> datetime | None: ...
    def upsert_definition(self, definition: Definition, now: datetime, *, keep_enabled: bool) -> None: ...
    def list_definitions(self) -> list[Definition]: ...
    def set_definition_enabled(self, name: str, enabled: bool, now: datetime) -> bool: ...
    def definition_has_instance(self, name: str, statuses: frozenset[JobStatus]) -> bool: ...
    def last_instance_time(self, name: str) -> datetime | None: ...
    def next_instance_time(self, name: str) -> datetime | None: ...

    # workers
    def register_worker(self, worker_id: str, hostname: str, pid: int, now: datetime) -> None: ...
    def heartbeat_worker(self, worker_id: str, now: datetime) -> None: ...
    def stop_worker(self, worker_id: str, now: datetime) -> None: ...
    def dead_workers(self, now: datetime, timeout: float) -> list[str]: ...
    def recover_worker(self, worker_id: str, now: datetime) -> Recovery: ...

    # histories, monitors and retention (SQLite: store/sqlite_history.py)
    def job_histories(
        self,
        *,
        created_by: int | None,
        status: JobStatus | None,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        offset: int,
    ) -> Page: ...
    def job_monitors(
        self,
        *,
        created_by: int | None,
        statuses: frozenset[JobStatus] | None,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        offset: int,
    ) -> Page: ...
    def purge_finished_jobs(self, finished_before: datetime, *, max_jobs: int = ..., max_rows: int = ...) -> int: ...
