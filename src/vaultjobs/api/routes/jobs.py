"""The Jobs endpoints: status, tasks, log, and running processors (a vaultjobs extension)."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from starlette.responses import Response

from vaultjobs import errors
from vaultjobs.api.endpoint import Call
from vaultjobs.api.job_payloads import status_data
from vaultjobs.api.params import int_param, parse_id
from vaultjobs.api.routes import jobs_of
from vaultjobs.api.services import Services
from vaultjobs.control import transitions
from vaultjobs.jobs import JobRequest, require_access
from vaultjobs.models import Job, StatusFacts, User
from vaultjobs.session_cache import CachedSession
from vaultjobs.store.jobs import StatusRead
from vaultjobs.store.status_windows import StatusPoll, Viewer
from vaultjobs.timeutil import render_datetime

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


def page_details(path: str, total: int, limit: int, offset: int) -> tuple[str, dict[str, Any]]:
    details: dict[str, Any] = {"total": total, "limit": limit, "offset": offset}
    if offset + limit < total:
        details["next_page"] = f"{path}?limit={limit}&offset={offset + limit}"
    if offset > 0:
        details["previous_page"] = f"{path}?limit={limit}&offset={max(0, offset - limit)}"
    return f"{path}?limit={limit}&offset={offset}", details


@dataclass(frozen=True, slots=True)
class _CachedAsk:
    """A status asked for with a cached session: the job, who asks, the window in force, the session."""

    job_id: int
    viewer: Viewer
    window: float
    cached: CachedSession
    hashed: bytes
    now: datetime


class JobRoutes:
    def __init__(self, services: Services) -> None:
        self.s = services
        self.jobs = jobs_of(services)

    def _readable_job(self, call: Call) -> Job:
        user = call.require_user()
        return self.jobs.get(user, parse_id(str(call.path_params["job_id"])))

    def status(self, call: Call) -> dict[str, Any]:
        user = call.require_user()
        job_id = parse_id(str(call.path_params["job_id"]))
        return self._status(call, user, job_id, self.s.store.jobs.status_read(job_id))

    def status_cached(self, call: Call) -> dict[str, Any] | None:
        """Retrieve Job Status for a session checked a moment ago: one read carries the job, its task
        counts and the session epoch that confirms the session; where the store can, the same
        statement opens the window (only for that session, and a job it may see). None (nothing
        done) when the session needs the full check: :meth:`status` answers then, after it."""
        asked = self._cached_ask(call)
        if asked is None:
            return None
        poll = None
        if asked.window > 0:
            poll = self.s.store.status_windows.poll(asked.job_id, asked.now, asked.window, asked.viewer)
        read = self.s.store.jobs.status_read(asked.job_id) if poll is None else poll.read
        return self._cached_answer(call, asked, read, poll)

    async def status_cached_async(self, call: Call) -> dict[str, Any] | None:
        """:meth:`status_cached` on the event loop, for a store whose read and window are one
        statement (PostgreSQL): the poll waits for its batch (:meth:`StatusWindows.poll_async`), not
        a thread. None (nothing done) wherever the thread's path is needed: the full check, no window,
        or the control plane (whose scripted steps after a poll write to the store)."""
        if self.s.control is not None:
            return None
        asked = self._cached_ask(call)
        if asked is None or asked.window <= 0:
            return None
        poll = await self.s.store.status_windows.poll_async(asked.job_id, asked.now, asked.window, asked.viewer)
        if poll is None:
            return None
        return self._cached_answer(call, asked, poll.read, poll)

    def _cached_ask(self, call: Call) -> _CachedAsk | None:
        """The job asked for, who asks (a session from the cache, young enough) and the window in
        force; None when the session needs the full check."""
        now = self.s.clock.now()
        found = self.s.accounts.cached_session(call.request.headers.get("authorization"), now)
        if found is None:
            return None
        cached, hashed = found
        if not self.s.accounts.confirm(cached, cached.epoch, now):  # too old to be served from the cache
            return None
        try:
            job_id = parse_id(str(call.path_params["job_id"]))
        except errors.VaultError:
            return None  # reported after the session's full check, as for any other session
        user = cached.user
        viewer = Viewer(user_id=user.id, is_admin=user.is_admin, epoch=cached.epoch)
        return _CachedAsk(job_id, viewer, self.s.limits.current().status_window, cached, hashed, now)

    def _cached_answer(self, call: Call, asked: _CachedAsk, read: StatusRead,
                       poll: StatusPoll | None) -> dict[str, Any] | None:
        """The answer once the store has read (and polled): None when the read's session epoch says
        the session needs the full check."""
        if not self.s.accounts.confirm(asked.cached, read.session_epoch, asked.now):
            return None
        user, job_id, window = asked.cached.user, asked.job_id, asked.window
        call.user, call.session_hash = user, asked.hashed
        if poll is None:
            return self._status(call, user, job_id, read, asked.now)
        facts = require_access(user, job_id, read.facts)
        if poll.wait is not None:
            raise self._window_closed(job_id, poll.wait, window)
        return self._answered(call, user, read, facts)

    def _status(self, call: Call, user: User, job_id: int, read: StatusRead, now: datetime | None = None
                ) -> dict[str, Any]:
        """The status read for ``user``, its window opened at ``now`` (the clock's time)."""
        facts = require_access(user, job_id, read.facts)
        window = self.s.limits.current().status_window
        if window > 0:
            wait = self.s.store.status_windows.open(job_id, now or self.s.clock.now(), window)
            if wait is not None:
                raise self._window_closed(job_id, wait, window)
        return self._answered(call, user, read, facts)

    def _answered(self, call: Call, user: User, read: StatusRead, facts: StatusFacts) -> dict[str, Any]:
        """A status answered (``facts``: the read's, of a job the user may see): with the control plane
        on, a poll-driven scripted job takes its next step."""
        answer = {"data": status_data(facts, read.counts, call.version, user, read.whole_job)}
        if self.s.control is not None:
            transitions.after_poll(self.s.control, facts.id)
        return answer

    @staticmethod
    def _window_closed(job_id: int, wait: float, window: float) -> errors.ApiLimitExceeded:
        retry_after = max(1, math.ceil(wait))
        return errors.ApiLimitExceeded(
            f"Job status for [{job_id}] may be retrieved once every {window:g} seconds; "
            f"try again in {retry_after} s",
            retry_after=retry_after,
        )

    def tasks(self, call: Call) -> dict[str, Any]:
        job = self._readable_job(call)
        limit = int_param(call.query, "limit", 50, 1, 1000)
        offset = int_param(call.query, "offset", 0, 0, 10**9)
        page = self.s.store.jobs.list_tasks(job.id, limit, offset)
        url, details = page_details(f"/api/{call.version}/services/jobs/{job.id}/tasks", page.total, limit, offset)
        return {
            "url": url,
            "responseDetails": details,
            "job_id": job.id,
            "tasks": [{"id": t.task_id, "state": t.state.value, "status": t.state.value} for t in page.items],
        }

    def log(self, call: Call) -> Response:
        job = self._readable_job(call)
        lines = [f"{render_datetime(line.at)} {line.message}\n" for line in self.s.store.jobs.read_log(job.id)]
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
        job = self.jobs.enqueue(user, self._run_request(call))
        return {"url": f"/api/{call.version}/services/jobs/{job.id}", "job_id": job.id}

    async def run_cached(self, call: Call) -> dict[str, Any] | None:
        """Run on the event loop for a session checked a moment ago, with no thread of its own and no
        read that could keep the loop waiting: the job's durable insert is awaited in its batch, whose
        transaction confirms the session epoch. None (nothing done) when the session needs the full
        check, and for any error while it is not confirmed yet: a session that has ended must hear
        INVALID_SESSION_ID, not what is wrong with the body."""
        now = self.s.clock.now()
        found = self.s.accounts.cached_session(call.request.headers.get("authorization"), now)
        if found is None or self.s.control is not None:
            return None  # the control plane may script the job, which only enqueue (run) can hold
        cached, hashed = found
        if not self.s.accounts.within_max_age(cached, now):
            return None
        call.user, call.session_hash = cached.user, hashed
        try:
            job = await self.jobs.enqueue_async(cached.user, self._run_request(call), session_epoch=cached.epoch)
        except errors.VaultError:
            job = None
        if job is None:
            call.user = call.session_hash = None  # an answer of the full check names no unconfirmed user
            return None
        return {"url": f"/api/{call.version}/services/jobs/{job.id}", "job_id": job.id}

    def _run_request(self, call: Call) -> JobRequest:
        name = str(call.path_params["name"])
        self.jobs.processor(name)  # an unknown processor is reported before anything in the body
        request = self._json_object(call.body)
        unknown = sorted(set(request) - RUN_FIELDS)
        if unknown:
            raise errors.InvalidData(f"Unknown field [{unknown[0][:100]}]; expected parameters, title, schedule_at")
        parameters = request.get("parameters", {})
        if not isinstance(parameters, dict):
            raise errors.InvalidData("Invalid value for [parameters]: must be a JSON object")
        return JobRequest(
            processor=name,
            parameters=parameters,
            # As decoded: enqueue checks their types in its own order, after the parameters.
            title=request.get("title"),
            schedule_at=request.get("schedule_at"),
            method=call.request.method,
        )

    def start_now(self, call: Call) -> dict[str, Any]:
        """Start Job: a SCHEDULED instance runs now; its definition's schedule resumes at the next interval."""
        user = call.require_user()
        job_id = parse_id(str(call.path_params["job_id"]))
        self.jobs.start_now(user, job_id)
        return {"url": f"/api/{call.version}/services/jobs/{job_id}", "job_id": job_id}

    def cancel(self, call: Call) -> dict[str, Any]:
        """Cancel Job: up to 500 ids (JSON array of ``{"job_id": n}`` or CSV with a ``job_id`` column).

        Results come per item, in request order, in Vault's shape (where ``errors`` is one object).
        """
        user = call.require_user()
        raw_ids = parse_cancel_body(call.body, call.request.headers.get("content-type", ""))
        if not raw_ids:
            raise errors.InvalidData("The request names no jobs; send a JSON array of {\"job_id\": n}")
        most = self.s.limits.current().cancel_batch_size
        if len(raw_ids) > most:
            raise errors.InvalidData(f"A request may cancel at most {most} jobs, got {len(raw_ids)}")
        return {"data": [self._cancel_one(raw, user) for raw in raw_ids]}

    def _cancel_one(self, raw: object, user: User) -> dict[str, Any]:
        try:
            job_id = parse_id(str(raw))
            self.jobs.cancel(user, job_id)
        except errors.VaultError as exc:
            return {"responseStatus": "FAILURE", "errors": {"type": exc.type, "message": exc.message}}
        return {"responseStatus": "SUCCESS", "data": {"id": job_id}}

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
