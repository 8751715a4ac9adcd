"""Test doubles for code that uses the client: fake clocks and an in-memory Vault Jobs backend.

`FakeVault` answers the Jobs endpoints (auth, status with its rate window, tasks, histories, monitors,
start_now, cancel, and vaultjobs' run-processor extension) and the object endpoints (`FakeObjects`) in
JSON or XML like Vault does — HTTP 200 with a FAILURE envelope for errors — behind
``httpx.MockTransport``. Jobs follow a script of statuses, one step per successful status call.
`FakeClock` replaces the monotonic clock and sleep, so waits run instantly::

    clock = FakeClock()
    vault = FakeVault(clock=clock)
    job_id = vault.add_job(["QUEUED", "RUNNING", "SUCCESS"])
    with VaultClient("https://fake.vault", username="user", password="pass",
                     transport=vault.transport(), clock=clock, sleep=clock.sleep) as client:
        assert client.wait(job_id).status is JobStatus.SUCCESS
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import itertools
import math
import re
import secrets
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import orjson

from ._fake_objects import FakeObjects

__all__ = ["FakeClock", "FakeJob", "FakeObjects", "FakeVault", "VirtualTime", "render_xml"]

T = TypeVar("T")

_TERMINAL = {
    "SUCCESS",
    "ERRORS_ENCOUNTERED",
    "CANCELLED",
    "TIMEOUT",
    "COMPLETED_DUE_TO_INACTIVITY",
    "MISSED_SCHEDULE",
    "FAILED_TO_RUN",
}


class FakeClock:
    """A monotonic clock that only moves when something sleeps (or `advance` is called)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)


class VirtualTime:
    """Virtual time for asyncio tests: ``sleep`` parks the task until the driver moves time forward.

    The driver advances to the earliest wake-up only once every task is blocked, so concurrent waits
    interleave exactly as they would in real time, instantly.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (self.now + seconds, next(self._seq), future))
        await future

    def run(self, main: Callable[[], Awaitable[T]]) -> T:
        """Run ``main()`` in a fresh event loop under virtual time; return its result."""

        async def drive() -> T:
            task = asyncio.ensure_future(main())
            while not task.done():
                for _ in range(200):
                    await asyncio.sleep(0)
                    if task.done():
                        break
                if task.done():
                    break
                if not self._heap:
                    raise AssertionError("deadlock: every task is blocked and nothing sleeps")
                when, _, future = heapq.heappop(self._heap)
                self.now = max(self.now, when)
                future.set_result(None)
            return task.result()

        return asyncio.run(drive())


def render_xml(body: dict[str, Any]) -> bytes:
    """Render a body as vaultjobs does: ``<VaultResponse>``, lists as ``key/singular`` or ``key/item``."""
    root = ET.Element("VaultResponse")

    def fill(element: ET.Element, key: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                if v is not None:
                    fill(ET.SubElement(element, k), k, v)
        elif isinstance(value, list):
            child = "item" if key == "progress" or not key.endswith("s") else key[:-1]
            for item in value:
                fill(ET.SubElement(element, child), child, item)
        elif isinstance(value, bool):
            element.text = "true" if value else "false"
        else:
            element.text = str(value)

    for key, value in body.items():
        if value is not None:
            fill(ET.SubElement(root, key), key, value)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


@dataclasses.dataclass
class FakeJob:
    """A scripted job: each successful status call moves one step along ``statuses`` (the last stays)."""

    id: int
    statuses: list[str]
    title: str = "Fake job"
    tasks: list[dict[str, str]] = dataclasses.field(default_factory=list)
    progress: list[list[dict[str, Any]]] | None = None
    links: list[dict[str, str]] = dataclasses.field(default_factory=list)
    step: int = 0
    created_date: str = "2026-01-05T10:00:00.000Z"

    @property
    def status(self) -> str:
        return self.statuses[min(self.step, len(self.statuses) - 1)]

    def advance(self) -> None:
        self.step += 1


class FakeVault:
    """An in-memory Vault Jobs API. See the module docstring.

    Inspection: ``requests`` (every request received), ``status_calls`` (job id → clock readings of the
    status calls it answered), ``logins``. Control: `add_job`, `expire_sessions`, `fail_next`.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] | None = None,
        users: dict[str, str] | None = None,
        status_window: float = 10.0,
        send_retry_after: bool = False,
        headers: dict[str, str] | None = None,
        page_size: int = 50,
    ) -> None:
        self.clock = clock or FakeClock()
        self.users = users if users is not None else {"user": "pass"}
        self.status_window = status_window
        self.send_retry_after = send_retry_after
        self.extra_headers = headers or {}
        self.page_size = page_size
        self.jobs: dict[int, FakeJob] = {}
        self.sessions: set[str] = set()
        self.requests: list[httpx.Request] = []
        self.status_calls: dict[int, list[float]] = {}
        self.refused_calls: dict[int, list[float]] = {}
        self.logins = 0
        self._next_id = 1001
        self._window: dict[int, float] = {}
        self._faults: list[httpx.Response] = []
        self._lock = threading.RLock()
        #: The object endpoints' catalog, records and jobs (see `FakeObjects`).
        self.objects = FakeObjects(self)

    # -- control -----------------------------------------------------------------------------------

    def add_job(
        self,
        statuses: list[str],
        *,
        tasks: list[dict[str, str]] | None = None,
        progress: list[list[dict[str, Any]]] | None = None,
        links: list[dict[str, str]] | None = None,
        title: str = "Fake job",
    ) -> int:
        with self._lock:
            job_id = self._next_id
            self._next_id += 1
            self.jobs[job_id] = FakeJob(
                id=job_id,
                statuses=list(statuses),
                tasks=list(tasks or []),
                progress=progress,
                links=list(links or []),
                title=title,
            )
            return job_id

    def new_session(self) -> str:
        session_id = secrets.token_hex(16)
        self.sessions.add(session_id)
        return session_id

    def expire_sessions(self) -> None:
        self.sessions.clear()

    def fail_next(
        self,
        error_type: str,
        message: str = "injected",
        *,
        http_status: int = 200,
        headers: dict[str, str] | None = None,
        response_status: str = "FAILURE",
    ) -> None:
        """Answer the next request (whatever it is) with this error envelope."""
        body = {"responseStatus": response_status, "errors": [{"type": error_type, "message": message}]}
        self._faults.append(httpx.Response(http_status, json=body, headers=headers))

    def fail_next_raw(self, response: httpx.Response) -> None:
        """Answer the next request with exactly this response."""
        self._faults.append(response)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- the API -----------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            if self._faults:
                return self._faults.pop(0)
            xml = "xml" in request.headers.get("accept", "")
            if request.url.path == "/api/mdl/execute" and request.method == "POST":
                if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.sessions:
                    return self._reply(xml, self._failure("INVALID_SESSION_ID", "Invalid or expired session ID."))
                return self._reply(xml, self.objects.route_mdl(request))
            match = re.match(r"^/api/(v\d+\.\d+)/(.*)$", request.url.path)
            if match is None:
                return self._reply(xml, self._failure("MALFORMED_URL", "unknown path"))
            version, rest = match.groups()
            if rest == "auth" and request.method == "POST":
                return self._reply(xml, self._auth(request))
            session = request.headers.get("authorization", "").removeprefix("Bearer ")
            if session not in self.sessions:
                return self._reply(xml, self._failure("INVALID_SESSION_ID", "Invalid or expired session ID."))
            body, headers = self._route(request, version, rest)
            return self._reply(xml, body, headers)

    def _reply(
        self, xml: bool, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        all_headers = {
            "X-VaultAPI-Status": str(body.get("responseStatus")),
            "X-VaultAPI-ExecutionId": secrets.token_hex(8),
            **self.extra_headers,
            **(headers or {}),
        }
        if xml:
            all_headers["Content-Type"] = "application/xml;charset=UTF-8"
            return httpx.Response(200, content=render_xml(body), headers=all_headers)
        all_headers["Content-Type"] = "application/json;charset=UTF-8"
        return httpx.Response(200, content=orjson.dumps(body), headers=all_headers)

    @staticmethod
    def _failure(error_type: str, message: str, **extra: Any) -> dict[str, Any]:
        return {"responseStatus": "FAILURE", "errors": [{"type": error_type, "message": message}], **extra}

    def _auth(self, request: httpx.Request) -> dict[str, Any]:
        form = urllib.parse.parse_qs(request.content.decode())
        username = form.get("username", [""])[0]
        password = form.get("password", [""])[0]
        if not password:
            return self._failure("NO_PASSWORD_PROVIDED", "No password", errorType="AUTHENTICATION_FAILED")
        if self.users.get(username) != password:
            return self._failure(
                "USERNAME_OR_PASSWORD_INCORRECT", "Authentication failed", errorType="AUTHENTICATION_FAILED"
            )
        self.logins += 1
        return {
            "responseStatus": "SUCCESS",
            "sessionId": self.new_session(),
            "userId": 61603,
            "vaultId": 1776,
        }

    def _route(
        self, request: httpx.Request, version: str, rest: str
    ) -> tuple[dict[str, Any], dict[str, str]]:
        method = request.method
        ok: dict[str, Any] = {"responseStatus": "SUCCESS"}
        if rest == "keep-alive" and method == "POST":
            return ok, {}
        if rest == "session" and method == "DELETE":
            self.sessions.discard(request.headers.get("authorization", ""))
            return ok, {}
        if rest in ("services/jobs/histories", "services/jobs/monitors") and method == "GET":
            return self._list(request, version, rest), {}
        if rest == "services/jobs/actions/cancel" and method == "POST":
            return self._cancel(request), {}
        if m := re.fullmatch(r"services/jobs/start_now/(\d+)", rest):
            return self._start_now(int(m.group(1)), version), {}
        if m := re.fullmatch(r"services/jobs/processors/([^/]+)/actions/run", rest):
            job_id = self.add_job(["QUEUED", "RUNNING", "SUCCESS"], title=urllib.parse.unquote(m.group(1)))
            return {**ok, "url": f"/api/{version}/services/jobs/{job_id}", "job_id": job_id}, {}
        if m := re.fullmatch(r"services/jobs/(\d+)/tasks", rest):
            return self._tasks(request, version, int(m.group(1))), {}
        if m := re.fullmatch(r"services/jobs/(\d+)", rest):
            return self._status(version, int(m.group(1)))
        answer = self.objects.route(request, version, rest)
        if answer is not None:
            return answer, {}
        return self._failure("MALFORMED_URL", f"unknown path {rest}"), {}

    def _status(self, version: str, job_id: int) -> tuple[dict[str, Any], dict[str, str]]:
        job = self.jobs.get(job_id)
        if job is None:
            return self._failure("INVALID_DATA", f"The resource [{job_id}] does not exist"), {}
        now = self.clock()
        opens = self._window.get(job_id)
        if opens is not None and now < opens:
            self.refused_calls.setdefault(job_id, []).append(now)
            headers = {"Retry-After": str(math.ceil(opens - now))} if self.send_retry_after else {}
            return self._failure("API_LIMIT_EXCEEDED", "Job status polled too often"), headers
        self._window[job_id] = now + self.status_window
        self.status_calls.setdefault(job_id, []).append(now)
        data: dict[str, Any] = {
            "id": job_id,
            "status": job.status,
            "method": "POST",
            "links": [
                {
                    "rel": "self",
                    "href": f"/api/{version}/services/jobs/{job_id}",
                    "method": "GET",
                    "accept": "application/json",
                },
                *job.links,
            ],
            "created_by": 61603,
            "created_date": job.created_date,
        }
        if job.progress is not None:
            data["progress"] = job.progress[min(job.step, len(job.progress) - 1)]
        if job.status != "QUEUED" and job.status != "SCHEDULED":
            data["run_start_date"] = "2026-01-05T10:00:01.000Z"
        if job.status in _TERMINAL:
            data["run_end_date"] = "2026-01-05T10:00:09.000Z"
        job.advance()
        return {"responseStatus": "SUCCESS", "responseMessage": "OK", "data": data}, {}

    def _page(self, request: httpx.Request, path: str, total: int) -> tuple[int, int, dict[str, Any]]:
        limit = int(request.url.params.get("limit", self.page_size))
        offset = int(request.url.params.get("offset", 0))
        details: dict[str, Any] = {"total": total, "limit": limit, "offset": offset}
        if offset + limit < total:
            query = {k: v for k, v in request.url.params.items() if k not in ("limit", "offset")}
            query.update(limit=str(limit), offset=str(offset + limit))
            details["next_page"] = f"{path}?{urllib.parse.urlencode(query)}"
        return limit, offset, details

    def _tasks(self, request: httpx.Request, version: str, job_id: int) -> dict[str, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            return self._failure("INVALID_DATA", f"The resource [{job_id}] does not exist")
        path = f"/api/{version}/services/jobs/{job_id}/tasks"
        limit, offset, details = self._page(request, path, len(job.tasks))
        return {
            "responseStatus": "SUCCESS",
            "url": f"{path}?limit={limit}&offset={offset}",
            "responseDetails": details,
            "job_id": job_id,
            "tasks": job.tasks[offset : offset + limit],
        }

    def _list(self, request: httpx.Request, version: str, rest: str) -> dict[str, Any]:
        histories = rest.endswith("histories")
        wanted = request.url.params.get("status")
        jobs = [
            job
            for job in sorted(self.jobs.values(), key=lambda j: -j.id)
            if (job.status in _TERMINAL) == histories and (wanted is None or job.status.lower() == wanted)
        ]
        path = f"/api/{version}/{rest}"
        limit, offset, details = self._page(request, path, len(jobs))
        entries = []
        for job in jobs[offset : offset + limit]:
            entry = {
                "job_id": job.id,
                "title": job.title,
                "status": job.status,
                "created_by": 61603,
                "created_date": job.created_date,
                "modified_by": 61603,
                "modified_date": job.created_date,
                "run_start_date": "2026-01-05T10:00:01.000Z",
            }
            if histories:
                entry["run_end_date"] = "2026-01-05T10:00:09.000Z"
            entries.append(entry)
        return {
            "responseStatus": "SUCCESS",
            "responseMessage": "OK",
            "url": f"{path}?limit={limit}&offset={offset}",
            "responseDetails": details,
            "jobs": entries,
        }

    def _cancel(self, request: httpx.Request) -> dict[str, Any]:
        items = orjson.loads(request.content)
        if len(items) > 500:
            return self._failure("INVALID_DATA", "At most 500 jobs per request")
        results: list[dict[str, Any]] = []
        for item in items:
            job = self.jobs.get(int(item["job_id"]))
            if job is None or job.status in _TERMINAL or job.status == "RUNNING":
                results.append(
                    {
                        "responseStatus": "FAILURE",
                        "errors": {
                            "type": "INVALID_DATA",
                            "message": f"Job [{item['job_id']}] is not found in QUEUED or QUEUEING state",
                        },
                    }
                )
                continue
            job.statuses, job.step = ["CANCELLING", "CANCELLED"], 0
            results.append({"responseStatus": "SUCCESS", "data": {"id": job.id}})
        return {"responseStatus": "SUCCESS", "data": results}

    def _start_now(self, job_id: int, version: str) -> dict[str, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            return self._failure("INVALID_DATA", f"The resource [{job_id}] does not exist")
        if job.status != "SCHEDULED":
            return self._failure("OPERATION_NOT_ALLOWED", f"Job [{job_id}] is not SCHEDULED")
        job.statuses = ["QUEUEING", "QUEUED", "RUNNING", "SUCCESS"]
        job.step = 0
        return {
            "responseStatus": "SUCCESS",
            "url": f"/api/{version}/services/jobs/{job_id}",
            "job_id": job_id,
        }
