"""Retrieve Job Histories and Retrieve Job Monitors (``GET /api/{v}/services/jobs/histories|monitors``).

Decisions where Vault's documentation leaves room (spec sections 2.3 and 2.4):

* **Histories** list finished jobs (SUCCESS, ERRORS_ENCOUNTERED, FAILED_TO_RUN, MISSED_SCHEDULE, TIMEOUT,
  COMPLETED_DUE_TO_INACTIVITY, CANCELLED), newest *finished* first (ties: highest id first).
  ``start_date``/``end_date`` filter on when the job finished: the end of its run, or, for a job that
  ended without running (cancelled before it started, MISSED_SCHEDULE, FAILED_TO_RUN), the moment it
  ended — Vault's "defaults: first completed job / now". ``run_start_date``/``run_end_date`` are omitted
  for a job that never ran, as on the status endpoint.
* **Monitors** list unfinished jobs, newest *created* first; ``start_date``/``end_date`` filter on the
  created date. Vault's ``status`` values are ``scheduled``, ``queued`` and ``running``; QUEUEING (being
  placed on the queue) counts as ``queued`` and CANCELLING (running, asked to stop) as ``running``, and
  both show their own status in the entries. ``queueing`` and ``cancelling`` filter on exactly those
  (an extension). ``run_start_date`` is the next planned start for SCHEDULED jobs, the run's start for
  RUNNING/CANCELLING ones, and omitted for jobs waiting in the queue; there is no ``run_end_date``.
* Dates are ``YYYY-MM-DDTHH:MM:SSZ`` (UTC) and both bounds are inclusive to the second: ``end_date`` of
  ``…T12:00:00Z`` includes a job finished at 12:00:00.900. ``status`` is lower-case as Vault documents it
  (other cases are accepted). ``limit`` is 1–200 (default 50), ``offset`` 0 or more (default 0). A bad
  value is INVALID_DATA naming the parameter.
* ``title`` is the job's title, or its processor's name when it has none. Dates render as on the status
  endpoint: UTC, or the caller's time zone for jobs that came from a schedule.
* Admins see every job; other users see the jobs they created (the status endpoint's rule).
* ``url`` is the page asked for; ``next_page``/``previous_page`` are relative, carry the same filters,
  and are omitted where there is no such page. ``total`` is exact (see ``store/history.py`` for
  how it stays cheap at millions of jobs).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from vaultjobs import errors
from vaultjobs.api.endpoint import Call
from vaultjobs.api.job_payloads import history_entry, monitor_entry
from vaultjobs.api.params import int_param
from vaultjobs.api.services import Services
from vaultjobs.jobs import visible_creator
from vaultjobs.models import Page
from vaultjobs.status import TERMINAL_JOB_STATUSES, JobStatus

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_OFFSET = 10**9
_QUERY_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")

HISTORY_STATUSES: dict[str, JobStatus] = {
    s.value.lower(): s for s in sorted(TERMINAL_JOB_STATUSES, key=lambda s: list(JobStatus).index(s))
}
S = JobStatus
MONITOR_STATUSES: dict[str, frozenset[JobStatus]] = {
    "scheduled": frozenset({S.SCHEDULED}),
    "queued": frozenset({S.QUEUED, S.QUEUEING}),
    "running": frozenset({S.RUNNING, S.CANCELLING}),
    "queueing": frozenset({S.QUEUEING}),
    "cancelling": frozenset({S.CANCELLING}),
}


def parse_query_date(raw: str, name: str) -> datetime:
    """A query date, ``YYYY-MM-DDTHH:MM:SSZ``; INVALID_DATA naming ``name`` otherwise."""
    try:
        if not _QUERY_DATE.fullmatch(raw):
            raise ValueError(raw)
        return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise errors.InvalidData(
            f"Invalid value for parameter [{name}]: [{raw[:64]}] is not a date-time like 2026-01-31T23:59:59Z"
        ) from None


class ListQuery:
    """The filters and page of one histories or monitors request, read and checked."""

    def __init__(self, call: Call, statuses: Collection[str]) -> None:
        query = call.query
        self.filters: list[tuple[str, str]] = []
        self.start: datetime | None = None
        self.end: datetime | None = None
        raw = query.get("start_date")
        if raw:
            self.start = parse_query_date(raw, "start_date")
            self.filters.append(("start_date", raw))
        raw = query.get("end_date")
        if raw:
            self.end = parse_query_date(raw, "end_date") + timedelta(seconds=1)  # inclusive to the second
            self.filters.append(("end_date", raw))
            if self.start is not None and self.end <= self.start:
                raise errors.InvalidData("Invalid value for parameter [end_date]: it is before [start_date]")
        self.status: str | None = None
        raw = query.get("status")
        if raw:
            key = raw.strip().lower()
            if key not in statuses:
                raise errors.InvalidData(
                    f"Invalid value for parameter [status]: [{raw[:64]}]; expected one of {', '.join(statuses)}"
                )
            self.status = key
            self.filters.append(("status", key))
        self.limit = int_param(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        self.offset = int_param(query, "offset", 0, 0, MAX_OFFSET)

    def link(self, path: str, offset: int) -> str:
        parts = [f"{name}={quote(value, safe=':')}" for name, value in self.filters]
        parts += [f"limit={self.limit}", f"offset={offset}"]
        return f"{path}?{'&'.join(parts)}"

    def envelope(self, path: str, page: Page, jobs: list[dict[str, Any]]) -> dict[str, Any]:
        details: dict[str, Any] = {"total": page.total, "limit": self.limit, "offset": self.offset}
        if self.offset + self.limit < page.total:
            details["next_page"] = self.link(path, self.offset + self.limit)
        if self.offset > 0:
            details["previous_page"] = self.link(path, max(0, self.offset - self.limit))
        return {"responseMessage": "OK", "url": self.link(path, self.offset), "responseDetails": details,
                "jobs": jobs}


class HistoryRoutes:
    def __init__(self, services: Services) -> None:
        self.s = services

    def histories(self, call: Call) -> dict[str, Any]:
        user = call.require_user()
        q = ListQuery(call, HISTORY_STATUSES)
        page = self.s.store.history.job_histories(
            created_by=visible_creator(user),
            status=None if q.status is None else HISTORY_STATUSES[q.status],
            start=q.start,
            end=q.end,
            limit=q.limit,
            offset=q.offset,
        )
        path = f"/api/{call.version}/services/jobs/histories"
        return q.envelope(path, page, [history_entry(job, user) for job in page.items])

    def monitors(self, call: Call) -> dict[str, Any]:
        user = call.require_user()
        q = ListQuery(call, MONITOR_STATUSES)
        page = self.s.store.history.job_monitors(
            created_by=visible_creator(user),
            statuses=None if q.status is None else MONITOR_STATUSES[q.status],
            start=q.start,
            end=q.end,
            limit=q.limit,
            offset=q.offset,
        )
        path = f"/api/{call.version}/services/jobs/monitors"
        return q.envelope(path, page, [monitor_entry(job, user) for job in page.items])
