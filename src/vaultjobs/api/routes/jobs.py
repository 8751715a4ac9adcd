"""The Jobs endpoints: status, tasks, log, and running processors (a vaultjobs extension)."""

from __future__ import annotations

import csv
import io
import math
from datetime import timedelta
from typing import Any

import orjson
from starlette.responses import Response

from vaultjobs import errors
from vaultjobs.api.endpoint import Call
from vaultjobs.api.params import int_param, parse_id
from vaultjobs.api.routes.result_links import result_links
from vaultjobs.api.services import Services
from vaultjobs.models import Job, User
from vaultjobs.sdk import MAX_PARAMETERS_BYTES, ParameterError
from vaultjobs.status import PROGRESS_ORDER, JobStatus, TaskState
from vaultjobs.store import NewJob
from vaultjobs.timeutil import parse_datetime, render_datetime

MAX_TITLE_LENGTH = 255
MAX_CANCEL_IDS = 500
RUN_FIELDS = frozenset({"parameters", "title", "schedule_at"})


def parse_cancel_body(body: bytes, content_type: str) -> list[object]:
    """The job ids of a Cancel Job body, as sent (each checked later, per item)."""
    if "csv" in content_type.lower():
        try:
            rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise errors.InvalidData(f"The request body is not valid CSV: {exc}") from exc
        rows = [r for r in rows if any(cell.strip() for cell in r)]
        if not rows:
            return []
        header = [cell.strip().lower() for cell in rows[0]]
        if "job_id" not in header:
            raise errors.InvalidData("The CSV body needs a [job_id] column")
        column = header.index("job_id")
        return [row[column].strip() if column < len(row) else "" for row in rows[1:]]
    try:
        value = orjson.loads(body) if body.strip() else []
    except orjson.JSONDecodeError as exc:
        raise errors.InvalidData(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(value, list):
        raise errors.InvalidData('The request body must be a JSON array of {"job_id": n}')
    return [item.get("job_id", "") if isinstance(item, dict) else item for item in value]


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


def page_details(path: str, total: int, limit: int, offset: int) -> tuple[str, dict[str, Any]]:
    details: dict[str, Any] = {"total": total, "limit": limit, "offset": offset}
    if offset + limit < total:
        details["next_page"] = f"{path}?limit={limit}&offset={offset + limit}"
    if offset > 0:
        details["previous_page"] = f"{path}?limit={limit}&offset={max(0, offset - limit)}"
    return f"{path}?limit={limit}&offset={offset}", details


class JobRoutes:
    def __init__(self, services: Services) -> None:
        self.s = services

    def _readable_job(self, call: Call) -> tuple[Job, User]:
        user = call.require_user()
        job_id = parse_id(str(call.path_params["job_id"]))
        return self._may_read(job_id, self.s.store.get_job(job_id), user), user

    @staticmethod
    def _may_read(job_id: int, job: Job | None, user: User) -> Job:
        if job is None:
            raise errors.InvalidData(f"The resource [{job_id}] does not exist")
        if job.created_by != user.id and not user.is_admin:
            raise errors.InsufficientAccess(f"You do not have access to job [{job_id}]")
        return job

    def status(self, call: Call) -> dict[str, Any]:
        user = call.require_user()
        job_id = parse_id(str(call.path_params["job_id"]))
        found = self.s.store.job_and_task_counts(job_id)  # one query: the job and its task counts
        job = self._may_read(job_id, found[0] if found else None, user)
        counts = found[1] if found else {}
        window = self.s.settings.status_window
        if window > 0:
            wait = self.s.store.open_status_window(job.id, self.s.clock.now(), window)
            if wait is not None:
                retry_after = max(1, math.ceil(wait))
                raise errors.ApiLimitExceeded(
                    f"Job status for [{job.id}] may be retrieved once every {window:g} seconds; "
                    f"try again in {retry_after} s",
                    retry_after=retry_after,
                )
        return {"data": job_status_data(job, counts, call.version, user)}

    def tasks(self, call: Call) -> dict[str, Any]:
        job, _ = self._readable_job(call)
        limit = int_param(call.query, "limit", 50, 1, 1000)
        offset = int_param(call.query, "offset", 0, 0, 10**9)
        page = self.s.store.list_tasks(job.id, limit, offset)
        url, details = page_details(f"/api/{call.version}/services/jobs/{job.id}/tasks", page.total, limit, offset)
        return {
            "url": url,
            "responseDetails": details,
            "job_id": job.id,
            "tasks": [{"id": t.task_id, "state": t.state.value, "status": t.state.value} for t in page.items],
        }

    def log(self, call: Call) -> Response:
        job, _ = self._readable_job(call)
        lines = [f"{render_datetime(line.at)} {line.message}\n" for line in self.s.store.read_log(job.id)]
        return Response("".join(lines), media_type="text/plain;charset=UTF-8")

    def processors(self, call: Call) -> dict[str, Any]:
        call.require_user()
        return {
            "data": [
                {
                    "name": spec.name,
                    "description": spec.description,
                    "chunk_size": spec.chunk_size,
                    "idempotent": spec.idempotent,
                    "timeout": spec.timeout,
                    "inactivity_timeout": spec.inactivity_timeout,
                    "admin_cancellable": spec.admin_cancellable,
                }
                for spec in self.s.registry
            ]
        }

    def run(self, call: Call) -> dict[str, Any]:
        user = call.require_user()
        name = str(call.path_params["name"])
        spec = self.s.registry.spec(name)
        if spec is None:
            raise errors.InvalidData(f"Processor [{name[:100]}] does not exist")
        request = self._json_object(call.body)
        unknown = sorted(set(request) - RUN_FIELDS)
        if unknown:
            raise errors.InvalidData(f"Unknown field [{unknown[0][:100]}]; expected parameters, title, schedule_at")
        parameters = request.get("parameters", {})
        if not isinstance(parameters, dict):
            raise errors.InvalidData("Invalid value for [parameters]: must be a JSON object")
        validate = getattr(self.s.registry.instantiate(name), "validate", None)
        if callable(validate):
            try:
                parameters = validate(dict(parameters))
            except ParameterError as exc:
                raise errors.InvalidData(str(exc)) from exc
        if len(orjson.dumps(parameters)) > MAX_PARAMETERS_BYTES:
            raise errors.InvalidData(f"Invalid value for [parameters]: larger than {MAX_PARAMETERS_BYTES} bytes")
        title = request.get("title")
        if title is not None and (
            not isinstance(title, str) or len(title) > MAX_TITLE_LENGTH or any(ord(c) < 32 for c in title)
        ):
            raise errors.InvalidData(
                f"Invalid value for [title]: a string of up to {MAX_TITLE_LENGTH} characters, no control characters"
            )
        now = self.s.clock.now()
        scheduled_for = None
        if request.get("schedule_at") is not None:
            raw = request["schedule_at"]
            try:
                if not isinstance(raw, str):
                    raise ValueError(raw)
                scheduled_for = parse_datetime(raw, user.timezone)
            except ValueError as exc:
                raise errors.InvalidData(
                    "Invalid value for [schedule_at]: an ISO 8601 date-time from 1970 to 9999, "
                    "such as 2026-12-01T02:00:00Z"
                ) from exc
            if scheduled_for < now - timedelta(seconds=self.s.settings.schedule_grace):
                raise errors.InvalidData("Invalid value for [schedule_at]: the time has passed")
        job = self.s.store.create_job(
            NewJob(
                processor=name,
                parameters=parameters,
                created_by=user.id,
                title=title,
                method=call.request.method,
                status=JobStatus.SCHEDULED if scheduled_for else JobStatus.QUEUED,
                scheduled=scheduled_for is not None,
                scheduled_for=scheduled_for,
                idempotent=spec.idempotent,
                timeout=spec.timeout,
                inactivity_timeout=spec.inactivity_timeout,
                cancellable=spec.admin_cancellable,
            ),
            now,
        )
        self.s.notify()
        return {"url": f"/api/{call.version}/services/jobs/{job.id}", "job_id": job.id}

    def start_now(self, call: Call) -> dict[str, Any]:
        """Start Job: a SCHEDULED instance runs now; its definition's schedule resumes at the next interval."""
        job, user = self._readable_job(call)
        if job.status is not JobStatus.SCHEDULED or not self.s.store.transition_job(
            job.id, JobStatus.SCHEDULED, JobStatus.QUEUEING, self.s.clock.now(), by=user.id,
            log=f"started now by user {user.id}",
        ):
            current = self.s.store.job_status(job.id) or job.status
            raise errors.OperationNotAllowed(
                f"Job [{job.id}] is {current.value}; only a SCHEDULED job can be started now"
            )
        self.s.notify()
        return {"url": f"/api/{call.version}/services/jobs/{job.id}", "job_id": job.id}

    def cancel(self, call: Call) -> dict[str, Any]:
        """Cancel Job: up to 500 ids (JSON array of ``{"job_id": n}`` or CSV with a ``job_id`` column).

        Results come per item, in request order, in Vault's shape (where ``errors`` is one object).
        """
        user = call.require_user()
        raw_ids = parse_cancel_body(call.body, call.request.headers.get("content-type", ""))
        if not raw_ids:
            raise errors.InvalidData("The request names no jobs; send a JSON array of {\"job_id\": n}")
        if len(raw_ids) > MAX_CANCEL_IDS:
            raise errors.InvalidData(f"A request may cancel at most {MAX_CANCEL_IDS} jobs, got {len(raw_ids)}")
        return {"data": [self._cancel_one(raw, user) for raw in raw_ids]}

    def _cancel_one(self, raw: object, user: User) -> dict[str, Any]:
        def failure(error: errors.VaultError) -> dict[str, Any]:
            return {"responseStatus": "FAILURE", "errors": {"type": error.type, "message": error.message}}

        try:
            job_id = parse_id(str(raw))
        except errors.VaultError as exc:
            return failure(exc)
        job = self.s.store.get_job(job_id)
        if job is None:
            return failure(errors.InvalidData(f"Job [{job_id}] is not found"))
        if job.created_by != user.id and not user.is_admin:
            return failure(errors.InsufficientAccess(f"You do not have access to job [{job_id}]"))
        accepted, status = self.s.store.cancel_job(job_id, user.id, self.s.clock.now())
        if accepted:
            self.s.notify()
            return {"responseStatus": "SUCCESS", "data": {"id": job_id}}
        if status is JobStatus.RUNNING:
            return failure(
                errors.OperationNotAllowed(f"Job [{job_id}] is RUNNING and its processor cannot be cancelled")
            )
        return failure(
            errors.InvalidData(f"Job [{job_id}] is not found in SCHEDULED, QUEUEING, QUEUED or RUNNING state")
        )

    @staticmethod
    def _json_object(body: bytes) -> dict[str, Any]:
        if not body.strip():
            return {}
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise errors.InvalidData(f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise errors.InvalidData("The request body must be a JSON object")
        return value
