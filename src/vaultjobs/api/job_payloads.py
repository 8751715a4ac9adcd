"""How a job is presented: its status ``data`` and links (Retrieve Job Status), its entries in
Retrieve Job Histories and Monitors, and the rules they share (its title, its planned start).

Kept apart from the routes so that every front end (the API, the Job Status page) presents a job
the same way: the page shows exactly the fields and links the API returns.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from vaultjobs.api.routes.result_links import has_result_links, result_links
from vaultjobs.models import Job, StatusFacts, User
from vaultjobs.status import PROGRESS_ORDER, JobStatus, TaskState
from vaultjobs.timeutil import render_datetime, render_ms


def job_links(facts: StatusFacts, version: str, whole_job: Callable[[], Job]) -> list[dict[str, str]]:
    """The job's ``links``; ``whole_job`` gives the whole job, asked for only when its job type has
    result links to make of it."""
    base = f"/api/{version}/services/jobs/{facts.id}"
    links = [{"rel": "self", "href": base, "method": "GET", "accept": "application/json"}]
    if facts.status.is_terminal:
        if has_result_links(facts.processor, facts.status):
            links.extend(result_links(whole_job(), version))
        links.append({"rel": "log", "href": f"{base}/log", "method": "GET", "accept": "text/plain"})
    return links


def job_status_data(job: Job, counts: dict[TaskState, int], version: str, viewer: User) -> dict[str, Any]:
    """The ``data`` of Retrieve Job Status, as DESIGN.md describes it."""
    return status_data(StatusFacts.of(job), counts, version, viewer, lambda: job)


def status_data(facts: StatusFacts, counts: dict[TaskState, int], version: str, viewer: User,
                whole_job: Callable[[], Job]) -> dict[str, Any]:
    """:func:`job_status_data` from the status read's facts (``whole_job`` gives the whole job, if
    its result links need it)."""
    tz = viewer.timezone if facts.scheduled else None
    data: dict[str, Any] = {"id": facts.id, "status": facts.status.value}
    if facts.method:
        data["method"] = facts.method
    data["links"] = job_links(facts, version, whole_job)
    data["progress"] = [{"status": s.value, "size": counts[s]} for s in PROGRESS_ORDER if counts.get(s)]
    data["created_by"] = facts.created_by
    data["created_date"] = render_ms(facts.created_ms, tz)
    if facts.run_start_ms is not None:
        data["run_start_date"] = render_ms(facts.run_start_ms, tz)
    if facts.run_end_ms is not None:
        data["run_end_date"] = render_ms(facts.run_end_ms, tz)
    return data


def job_title(job: Job) -> str:
    """The job's title, or its processor's name when it has none (Vault's ``title`` in histories)."""
    return job.title or job.processor


def planned_start(job: Job) -> datetime | None:
    """When a job starts or started: the planned time of a SCHEDULED job, else its run's start."""
    return job.scheduled_for if job.status is JobStatus.SCHEDULED else job.run_start


def _entry(job: Job, viewer: User) -> tuple[dict[str, Any], str | None]:
    tz = viewer.timezone if job.scheduled else None
    entry: dict[str, Any] = {
        "job_id": job.id,
        "title": job_title(job),
        "status": job.status.value,
        "created_by": job.created_by,
        "created_date": render_datetime(job.created_at, tz),
        "modified_by": job.modified_by,
        "modified_date": render_datetime(job.modified_at, tz),
    }
    return entry, tz


def history_entry(job: Job, viewer: User) -> dict[str, Any]:
    """A finished job in Retrieve Job Histories."""
    entry, tz = _entry(job, viewer)
    if job.run_start is not None:
        entry["run_start_date"] = render_datetime(job.run_start, tz)
    if job.run_end is not None:
        entry["run_end_date"] = render_datetime(job.run_end, tz)
    return entry


def monitor_entry(job: Job, viewer: User) -> dict[str, Any]:
    """An unfinished job in Retrieve Job Monitors: ``run_start_date`` is its planned start."""
    entry, tz = _entry(job, viewer)
    start = planned_start(job)
    if start is not None:
        entry["run_start_date"] = render_datetime(start, tz)
    return entry
