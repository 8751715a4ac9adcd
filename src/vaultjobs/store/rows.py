"""How the rows of jobs, job definitions and users read as models, and the JSON of their columns."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import orjson

from vaultjobs.models import Definition, Job, StatusFacts, User
from vaultjobs.status import JobStatus
from vaultjobs.timeutil import from_ms, maybe_from_ms

JOB_COLUMNS = (
    "id, processor, title, parameters, status, method, scheduled, created_by, created_at, modified_by, "
    "modified_at, scheduled_for, run_start, run_end, phase, worker_id, progress_at, idempotent, result, "
    "definition, cancellable"
)
DEFINITION_COLUMNS = (
    "name, processor, title, parameters, owner_id, cron, timezone, interval_ms, timeout_ms, "
    "inactivity_timeout_ms, single_instance, enabled"
)
USER_COLUMNS = (
    "id, username, timezone, is_admin, active, created_at, password_changed_at, failed_logins, locked_until"
)


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def dumps_or_none(value: Any) -> str | None:
    return None if value is None else dumps(value)


def job_from_row(row: Sequence[Any]) -> Job:
    return Job(
        id=row[0],
        processor=row[1],
        title=row[2],
        parameters=orjson.loads(row[3]),
        status=JobStatus(row[4]),
        method=row[5],
        scheduled=bool(row[6]),
        created_by=row[7],
        created_at=from_ms(row[8]),
        modified_by=row[9],
        modified_at=from_ms(row[10]),
        scheduled_for=maybe_from_ms(row[11]),
        run_start=maybe_from_ms(row[12]),
        run_end=maybe_from_ms(row[13]),
        phase=row[14],
        worker_id=row[15],
        progress_at=maybe_from_ms(row[16]),
        idempotent=bool(row[17]),
        result=None if row[18] is None else orjson.loads(row[18]),
        definition=row[19],
        cancellable=bool(row[20]),
    )


_JOB_STATUSES = {status.value: status for status in JobStatus}
#: The columns of :class:`StatusFacts`, picked from a row of :data:`JOB_COLUMNS`.
_FACT_COLUMNS = operator.itemgetter(*(
    JOB_COLUMNS.split(", ").index(name)
    for name in ("id", "processor", "status", "method", "scheduled", "created_by", "created_at", "run_start",
                 "run_end")
))


def status_facts_from_row(row: Sequence[Any]) -> StatusFacts:
    """What Retrieve Job Status shows of the job in ``row`` (of :data:`JOB_COLUMNS`), nothing decoded."""
    job_id, processor, status, method, scheduled, created_by, created, start, end = _FACT_COLUMNS(row)
    return StatusFacts(job_id, processor, _JOB_STATUSES[status], method, bool(scheduled), created_by, created,
                       start, end)


def ms_or_none(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def seconds_or_none(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000.0


def definition_from_row(row: tuple[Any, ...]) -> Definition:
    return Definition(
        name=row[0],
        processor=row[1],
        title=row[2],
        parameters=orjson.loads(row[3]),
        owner_id=row[4],
        cron=row[5],
        timezone=row[6],
        interval=seconds_or_none(row[7]),
        timeout=seconds_or_none(row[8]),
        inactivity_timeout=seconds_or_none(row[9]),
        single_instance=bool(row[10]),
        enabled=bool(row[11]),
    )


def user_from_row(row: tuple[Any, ...]) -> User:
    return User(
        id=row[0],
        username=row[1],
        timezone=row[2],
        is_admin=bool(row[3]),
        active=bool(row[4]),
        created_at=from_ms(row[5]),
        password_changed_at=from_ms(row[6]),
        failed_logins=row[7],
        locked_until=maybe_from_ms(row[8]),
    )
