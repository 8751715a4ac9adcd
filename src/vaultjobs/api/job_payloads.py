"""How a job is presented: its status ``data`` and its links, as Retrieve Job Status shows them.

Kept apart from the routes so that every front end (the API, the Job Status page) presents a job
the same way: the page shows exactly the fields and links the API returns.
"""

from __future__ import annotations

from typing import Any

from vaultjobs.api.routes.result_links import result_links
from vaultjobs.models import Job, User
from vaultjobs.status import PROGRESS_ORDER, TaskState
from vaultjobs.timeutil import render_datetime


def job_links(job: Job, version: str) -> list[dict[str, str]]:
    base = f"/api/{version}/services/jobs/{job.id}"
    links = [{"rel": "self", "href": base, "method": "GET", "accept": "application/json"}]
    if job.status.is_terminal:
        links.extend(result_links(job, version))
        links.append({"rel": "log", "href": f"{base}/log", "method": "GET", "accept": "text/plain"})
    return links


def job_status_data(job: Job, counts: dict[TaskState, int], version: str, viewer: User) -> dict[str, Any]:
    """The ``data`` of Retrieve Job Status, as DESIGN.md describes it."""
    tz = viewer.timezone if job.scheduled else None
    data: dict[str, Any] = {"id": job.id, "status": job.status.value}
    if job.method:
        data["method"] = job.method
    data["links"] = job_links(job, version)
    data["progress"] = [{"status": s.value, "size": counts[s]} for s in PROGRESS_ORDER if counts.get(s)]
    data["created_by"] = job.created_by
    data["created_date"] = render_datetime(job.created_at, tz)
    if job.run_start is not None:
        data["run_start_date"] = render_datetime(job.run_start, tz)
    if job.run_end is not None:
        data["run_end_date"] = render_datetime(job.run_end, tz)
    return data
