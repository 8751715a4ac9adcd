"""Links a finished job's status shows to what it produced, by job type.

DESIGN.md: once a job is finished its status ``links`` add the job type's result links —
``artifacts`` → its results endpoint, ``file``/``content`` for files it produced in file staging.
Each job type's route module registers a function here when it is imported; the status endpoint
asks for the links of whichever job type it shows. Link functions read only the job (its id, its
creator and its parameters), never the store, so the status endpoint stays as fast as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from vaultjobs.models import Job
from vaultjobs.status import JobStatus

LinkFunction = Callable[[Job, str], list[dict[str, str]]]

_LINKS: dict[str, LinkFunction] = {}

#: The end states whose jobs have results to show (a cancelled or timed-out job may have none).
RESULT_STATUSES = frozenset({JobStatus.SUCCESS, JobStatus.ERRORS_ENCOUNTERED})


def register(processor: str, links: LinkFunction) -> None:
    _LINKS[processor] = links


def has_result_links(processor: str, status: JobStatus) -> bool:
    """Whether a job of ``processor`` in ``status`` has result links (without reading the job)."""
    return status in RESULT_STATUSES and processor in _LINKS


def result_links(job: Job, version: str) -> list[dict[str, str]]:
    """The result links of a finished job, or none."""
    if not has_result_links(job.processor, job.status):
        return []
    return _LINKS[job.processor](job, version)


def link(rel: str, href: str, accept: str = "application/json") -> dict[str, str]:
    return {"rel": rel, "href": href, "method": "GET", "accept": accept}


def staged_file_links(version: str, staging_path: str) -> list[dict[str, str]]:
    """``file`` (the item's listing) and ``content`` (its bytes) for a file in file staging."""
    quoted = quote(staging_path.lstrip("/"), safe="/")
    return [
        link("file", f"/api/{version}/services/file_staging/items/{quoted}"),
        link("content", f"/api/{version}/services/file_staging/items/content/{quoted}",
             "application/octet-stream;charset=UTF-8"),
    ]
