"""Typed, frozen models of what the Vault Jobs API returns.

Every constructor takes the decoded payload (JSON or XML, see `_parse`) and coerces values, so both
formats give equal models. Date-times are always timezone-aware.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from ._parse import as_datetime, as_dict, as_int, as_list, as_str
from ._status import JobStatus, TaskState

__all__ = [
    "CancelOutcome",
    "ErrorDetail",
    "HistoryEntry",
    "Job",
    "JobStarted",
    "Link",
    "MonitorEntry",
    "Page",
    "Progress",
    "ProgressEntry",
    "RateLimitInfo",
    "Session",
    "Task",
    "VaultResponse",
    "VaultWarning",
]

T = TypeVar("T")


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date); None if absent or invalid."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class RateLimitInfo:
    """Rate-limit telemetry Vault sends in the headers of every response."""

    #: ``X-VaultAPI-BurstLimit``: calls allowed per burst window (5 minutes on Vault).
    burst_limit: int | None = None
    #: ``X-VaultAPI-BurstLimitRemaining``: calls left in the current burst window.
    burst_remaining: int | None = None
    #: ``X-VaultAPI-DailyLimit`` (API v20.3 and older only).
    daily_limit: int | None = None
    #: ``X-VaultAPI-DailyLimitRemaining`` (API v20.3 and older only).
    daily_remaining: int | None = None
    #: ``X-VaultAPI-ResponseDelay``: milliseconds Vault held this response because the burst was spent.
    response_delay_ms: int | None = None
    #: ``X-VaultAPI-ExecutionId``: the id of this call in Vault's API usage logs.
    execution_id: str | None = None
    #: ``X-VaultAPI-UserId``.
    user_id: int | None = None
    #: ``X-VaultAPI-Status``: echo of ``responseStatus`` (API v23.2+).
    api_status: str | None = None
    #: ``Retry-After`` in seconds (vaultjobs sends it with API_LIMIT_EXCEEDED; Vault does not).
    retry_after: float | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo:
        return cls(
            burst_limit=_header_int(headers, "X-VaultAPI-BurstLimit"),
            burst_remaining=_header_int(headers, "X-VaultAPI-BurstLimitRemaining"),
            daily_limit=_header_int(headers, "X-VaultAPI-DailyLimit"),
            daily_remaining=_header_int(headers, "X-VaultAPI-DailyLimitRemaining"),
            response_delay_ms=_header_int(headers, "X-VaultAPI-ResponseDelay"),
            execution_id=headers.get("X-VaultAPI-ExecutionId"),
            user_id=_header_int(headers, "X-VaultAPI-UserId"),
            api_status=headers.get("X-VaultAPI-Status"),
            retry_after=parse_retry_after(headers.get("Retry-After")),
        )


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class ErrorDetail:
    """One entry of ``errors``: Vault's stable ``type`` and its (non-contractual) ``message``."""

    type: str
    message: str | None = None
    subtype: str | None = None

    @classmethod
    def from_payload(cls, payload: Any) -> ErrorDetail:
        item = as_dict(payload)
        return cls(
            type=as_str(item.get("type")) or "UNKNOWN",
            message=as_str(item.get("message")),
            subtype=as_str(item.get("subtype")),
        )

    @classmethod
    def list_from(cls, payload: Any) -> tuple[ErrorDetail, ...]:
        return tuple(cls.from_payload(item) for item in as_list(payload))


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class VaultWarning:
    """One entry of ``warnings`` (Vault names its key ``type`` or ``warning_type``)."""

    type: str | None
    message: str | None = None

    @classmethod
    def list_from(cls, payload: Any) -> tuple[VaultWarning, ...]:
        warnings = []
        for raw in as_list(payload):
            item = as_dict(raw)
            warnings.append(
                cls(
                    type=as_str(item.get("type")) or as_str(item.get("warning_type")),
                    message=as_str(item.get("message")),
                )
            )
        return tuple(warnings)


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class VaultResponse:
    """A decoded Vault envelope: ``responseStatus``, errors, warnings, the whole body and the telemetry."""

    response_status: str
    body: Mapping[str, Any]
    errors: tuple[ErrorDetail, ...] = ()
    warnings: tuple[VaultWarning, ...] = ()
    response_message: str | None = None
    rate_limit: RateLimitInfo = dataclasses.field(default_factory=RateLimitInfo)
    http_status: int = 200
    raw: bytes = b""

    @property
    def ok(self) -> bool:
        return self.response_status in ("SUCCESS", "WARNING")


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Link:
    """One entry of a job's ``links`` (``self``, ``artifacts``, ``file``, ``content``, ``log`` …)."""

    rel: str
    href: str
    method: str | None = None
    accept: str | None = None

    @classmethod
    def from_payload(cls, payload: Any) -> Link:
        item = as_dict(payload)
        return cls(
            rel=as_str(item.get("rel")) or "",
            href=as_str(item.get("href")) or "",
            method=as_str(item.get("method")),
            accept=as_str(item.get("accept")),
        )


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class ProgressEntry:
    """How many of an SDK job's tasks are in one state."""

    status: TaskState
    size: int


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Progress:
    """An SDK job's ``progress``: task counts per task state."""

    entries: tuple[ProgressEntry, ...] = ()

    @classmethod
    def from_payload(cls, payload: Any) -> Progress:
        entries = []
        for raw in as_list(payload):
            item = as_dict(raw)
            entries.append(
                ProgressEntry(
                    status=TaskState(as_str(item.get("status")) or as_str(item.get("state")) or ""),
                    size=as_int(item.get("size")) or 0,
                )
            )
        return cls(entries=tuple(entries))

    def count(self, state: TaskState | str) -> int:
        """Number of tasks in ``state``."""
        wanted = TaskState(state)
        return sum(entry.size for entry in self.entries if entry.status == wanted)

    @property
    def total(self) -> int:
        """Number of tasks in the job."""
        return sum(entry.size for entry in self.entries)

    @property
    def done(self) -> int:
        """Tasks that will not run again (succeeded, failed or cancelled)."""
        return sum(entry.size for entry in self.entries if entry.status.is_done)

    @property
    def failed(self) -> int:
        return self.count(TaskState.ERRORS_ENCOUNTERED)


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Job:
    """A job instance as Retrieve Job Status describes it (``id`` and ``job_id`` both read into ``id``)."""

    id: int
    status: JobStatus
    method: str | None = None
    title: str | None = None
    links: tuple[Link, ...] = ()
    progress: Progress | None = None
    created_by: int | None = None
    created_date: dt.datetime | None = None
    run_start_date: dt.datetime | None = None
    run_end_date: dt.datetime | None = None
    #: The payload the job was built from, as decoded.
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)
    #: Telemetry of the response that carried this job.
    rate_limit: RateLimitInfo | None = dataclasses.field(default=None, compare=False, repr=False)

    @classmethod
    def from_payload(cls, payload: Any, *, rate_limit: RateLimitInfo | None = None) -> Job:
        data = as_dict(payload)
        job_id = as_int(data.get("id"))
        if job_id is None:
            job_id = as_int(data.get("job_id"))
        if job_id is None:
            raise ValueError("job payload has neither 'id' nor 'job_id'")
        progress = data.get("progress")
        return cls(
            id=job_id,
            status=JobStatus(as_str(data.get("status")) or ""),
            method=as_str(data.get("method")),
            title=as_str(data.get("title")),
            links=tuple(Link.from_payload(item) for item in as_list(data.get("links"))),
            progress=None if progress is None else Progress.from_payload(progress),
            created_by=as_int(data.get("created_by")),
            created_date=as_datetime(data.get("created_date")),
            run_start_date=as_datetime(data.get("run_start_date")),
            run_end_date=as_datetime(data.get("run_end_date")),
            raw=data,
            rate_limit=rate_limit,
        )

    def link(self, rel: str) -> Link | None:
        """The first link with this ``rel``, or None when the job has none (yet)."""
        return next((link for link in self.links if link.rel == rel), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict in Vault's field names."""
        out: dict[str, Any] = {"id": self.id, "status": self.status.raw}
        if self.title is not None:
            out["title"] = self.title
        if self.method is not None:
            out["method"] = self.method
        out["links"] = [
            {k: v for k, v in dataclasses.asdict(link).items() if v is not None} for link in self.links
        ]
        if self.progress is not None:
            out["progress"] = [{"status": e.status.raw, "size": e.size} for e in self.progress.entries]
        if self.created_by is not None:
            out["created_by"] = self.created_by
        for name in ("created_date", "run_start_date", "run_end_date"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value.isoformat()
        return out


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Task:
    """One SDK job task from ``/tasks`` (state read from ``state``, or ``status`` as VAPIL does)."""

    id: str
    state: TaskState
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_payload(cls, payload: Any) -> Task:
        data = as_dict(payload)
        return cls(
            id=as_str(data.get("id")) or "",
            state=TaskState(as_str(data.get("state")) or as_str(data.get("status")) or ""),
            raw=data,
        )


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class HistoryEntry:
    """A completed job instance from Retrieve Job Histories."""

    job_id: int
    status: JobStatus
    title: str | None = None
    created_by: int | None = None
    created_date: dt.datetime | None = None
    modified_by: int | None = None
    modified_date: dt.datetime | None = None
    run_start_date: dt.datetime | None = None
    run_end_date: dt.datetime | None = None
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_payload(cls, payload: Any) -> HistoryEntry:
        data = as_dict(payload)
        job_id = as_int(data.get("job_id"))
        if job_id is None:
            job_id = as_int(data.get("id"))
        if job_id is None:
            raise ValueError("history entry has no 'job_id'")
        return cls(
            job_id=job_id,
            status=JobStatus(as_str(data.get("status")) or ""),
            title=as_str(data.get("title")),
            created_by=as_int(data.get("created_by")),
            created_date=as_datetime(data.get("created_date")),
            modified_by=as_int(data.get("modified_by")),
            modified_date=as_datetime(data.get("modified_date")),
            run_start_date=as_datetime(data.get("run_start_date")),
            run_end_date=as_datetime(data.get("run_end_date")),
            raw=data,
        )


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class MonitorEntry:
    """A job instance not yet completed, from Retrieve Job Monitors (``run_start_date`` of a SCHEDULED
    instance is its next planned start)."""

    job_id: int
    status: JobStatus
    title: str | None = None
    created_by: int | None = None
    created_date: dt.datetime | None = None
    modified_by: int | None = None
    modified_date: dt.datetime | None = None
    run_start_date: dt.datetime | None = None
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_payload(cls, payload: Any) -> MonitorEntry:
        entry = HistoryEntry.from_payload(payload)
        return cls(
            job_id=entry.job_id,
            status=entry.status,
            title=entry.title,
            created_by=entry.created_by,
            created_date=entry.created_date,
            modified_by=entry.modified_by,
            modified_date=entry.modified_date,
            run_start_date=entry.run_start_date,
            raw=entry.raw,
        )


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Page(Generic[T]):
    """One page of a paged list (``/tasks``, histories, monitors) with its ``responseDetails``."""

    items: tuple[T, ...]
    total: int | None = None
    limit: int | None = None
    offset: int | None = None
    next_page: str | None = None
    rate_limit: RateLimitInfo | None = dataclasses.field(default=None, compare=False, repr=False)


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class JobStarted:
    """The answer to an action that starts a job (``start_now``, ``deep_copy``, packages …; vaultjobs'
    ``run_processor``). From a client, ``started.wait()`` follows the job to its end (``await`` it with
    an async client), as ``client.wait(started.job_id)`` does."""

    job_id: int
    url: str | None = None
    rate_limit: RateLimitInfo | None = dataclasses.field(default=None, compare=False, repr=False)
    waiter: Callable[..., Any] | None = dataclasses.field(default=None, compare=False, repr=False)

    @classmethod
    def from_payload(cls, body: Mapping[str, Any], *, rate_limit: RateLimitInfo | None = None) -> JobStarted:
        job_id = as_int(body.get("job_id"))
        if job_id is None:
            raise ValueError("response has no 'job_id'")
        return cls(
            job_id=job_id, url=as_str(body.get("url")) or as_str(body.get("URL")), rate_limit=rate_limit
        )

    def wait(self, *, timeout: float = 3600.0, on_update: Callable[[Any], None] | None = None) -> Any:
        """The finished job (:meth:`VaultClient.wait`), or with an async client a coroutine of it."""
        if self.waiter is None:
            raise RuntimeError("this JobStarted was not answered to a client; use client.wait(job_id)")
        return self.waiter(self.job_id, timeout=timeout, on_update=on_update)


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class CancelOutcome:
    """What Cancel Job answered for one requested job id (items come back in request order)."""

    job_id: int
    accepted: bool
    errors: tuple[ErrorDetail, ...] = ()


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Session:
    """A Vault API session (``POST /auth``)."""

    session_id: str = dataclasses.field(repr=False)
    user_id: int | None = None
    vault_id: int | None = None
