"""Every client operation as one flow (see `_flow`): sessions, gated status, wait, paging and cancel.

`VaultClient` and `AsyncVaultClient` only run these; the rules they follow (the poll gate, retrying
API_LIMIT_EXCEEDED, the deadline, logging in once and replaying once) live here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeAlias, TypeVar

import httpx

from ._auth import is_invalid_session
from ._core import (
    ClientCore,
    JobListFilters,
    cancel_batches,
    check_job_id,
    flatten_job_ids,
    list_params,
    processor_path,
)
from ._errors import JobFailed, RateLimited, WaitTimeout
from ._flow import Flow, exclusive, send, sleep
from ._models import (
    CancelOutcome,
    HistoryEntry,
    Job,
    JobStarted,
    MonitorEntry,
    Page,
    Session,
    Task,
    VaultResponse,
)

__all__ = [
    "PageFlow",
    "call",
    "cancel",
    "ensure_session",
    "history_pages",
    "login",
    "logout",
    "monitor_pages",
    "pages",
    "run_processor",
    "start_now",
    "status",
    "task_pages",
    "wait",
]

T = TypeVar("T")

#: One page, and the flow that reads the next one (None after the last page).
PageFlow: TypeAlias = Flow["tuple[Page[T], PageFlow[T] | None]"]


# -- sending ---------------------------------------------------------------------------------------


def exchange(core: ClientCore, request: httpx.Request) -> Flow[httpx.Response]:
    """Send one HTTP request, first pausing as the burst throttle says (see `BurstThrottle`)."""
    yield from sleep(core.throttle.delay(core.rate_limit))
    return (yield from send(request))


def login(core: ClientCore) -> Flow[Session]:
    """Log in with the username and password and use the new session from here on."""
    response = yield from exchange(core, core.login_request())
    session = core.parse_login(response)
    core.auth.set_session(session)
    return session


def _login_unless_replaced(core: ClientCore, generation: int) -> Flow[Session]:
    """The session another caller set since ``generation``, or a new one; run under the lock."""
    session, current = core.auth.current()
    if session is None or current == generation:
        session = yield from login(core)
    return session


def ensure_session(core: ClientCore) -> Flow[None]:
    """Log in now if there is no session yet: once, however many callers arrive together."""
    session, generation = core.auth.current()
    if session is None and core.auth.can_login:
        yield from exclusive(_login_unless_replaced(core, generation))


def send_authorized(core: ClientCore, request: httpx.Request) -> Flow[httpx.Response]:
    """Send ``request`` with the session; on INVALID_SESSION_ID log in once more and replay it.

    Only with a username and password; a second INVALID_SESSION_ID is returned as it is. If another
    caller logged in again meanwhile, the replay uses that session without logging in again.
    """
    yield from ensure_session(core)
    session, generation = core.auth.current()
    if session is not None:
        request.headers["Authorization"] = session.session_id
    response = yield from exchange(core, request)
    if not (core.auth.can_login and is_invalid_session(response)):
        return response
    session = yield from exclusive(_login_unless_replaced(core, generation))
    request.headers["Authorization"] = session.session_id
    return (yield from exchange(core, request))


def call(
    core: ClientCore,
    method: str,
    path: str,
    *,
    params: dict[str, str] | None = None,
    json: Any = None,
    default_retry_after: float | None = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Flow[tuple[httpx.Response, VaultResponse]]:
    """One API call: the response and its Vault envelope, or the typed error it stands for."""
    request = core.build_request(method, path, params=params, json=json, content=content, headers=headers)
    response = yield from send_authorized(core, request)
    return response, core.interpret(response, default_retry_after=default_retry_after)


def logout(core: ClientCore) -> Flow[None]:
    yield from call(core, "DELETE", "session")
    core.auth.clear_session()


# -- job status ------------------------------------------------------------------------------------


def _gated_status(core: ClientCore, job_id: int, deadline: float | None) -> Flow[Job | None]:
    """Status at the job's next poll-gate slot; None if that slot is after ``deadline``."""
    yield from ensure_session(core)  # first, so the slot's call is not delayed by logging in
    key = core.gate_key(job_id)
    delay = core.gate.reserve(key, not_after=deadline)
    if delay is None:
        return None
    yield from sleep(delay)
    try:
        response, vault = yield from call(
            core, "GET", f"services/jobs/{job_id}", default_retry_after=core.poll.interval
        )
    except RateLimited as exc:
        core.gate.refused(key, exc.rate_limit.retry_after)
        raise
    core.gate.answered(key)
    return core.job(response, vault)


def status(core: ClientCore, job_id: int) -> Flow[Job]:
    job = yield from _gated_status(core, check_job_id(job_id), deadline=None)
    assert job is not None
    return job


def wait(core: ClientCore, job_id: int, *, timeout: float, on_update: Callable[[Job], None] | None) -> Flow[Job]:
    """Poll until a terminal status (see `VaultClient.wait`)."""
    job_id = check_job_id(job_id)
    deadline = core.clock() + timeout
    last: Job | None = None
    while True:
        try:
            job = yield from _gated_status(core, job_id, deadline)
        except RateLimited:
            continue  # the gate has moved the next slot past the server's window
        if job is None:
            raise WaitTimeout(last, job_id=job_id)
        last = job
        if on_update is not None:
            on_update(job)
        if job.status.is_terminal:
            if job.status.is_success:
                return job
            raise JobFailed(job)


# -- lists -----------------------------------------------------------------------------------------


def pages(
    core: ClientCore,
    path: str,
    params: dict[str, str] | None,
    key: str,
    factory: Callable[[Any], T],
    seen: frozenset[str] = frozenset(),
) -> PageFlow[T]:
    """Read one page of a list and say how to read the next, following ``next_page``.

    Stops after an empty page, the last page, or a ``next_page`` already read (a server that loops).
    """
    response, vault = yield from call(core, "GET", path, params=params)
    page = core.page(response, vault, key, factory)
    seen = seen | {path}
    url = core.next_page_url(page.next_page)
    if not page.items or url is None or url in seen:
        return page, None
    return page, pages(core, url, None, key, factory, seen)  # next_page carries its own query


def task_pages(core: ClientCore, job_id: int, page_size: int | None) -> PageFlow[Task]:
    """Retrieve SDK Job Tasks."""
    path = core.path(f"services/jobs/{check_job_id(job_id)}/tasks")
    return pages(core, path, list_params(page_size=page_size), "tasks", Task.from_payload)


def history_pages(core: ClientCore, filters: JobListFilters) -> PageFlow[HistoryEntry]:
    """Retrieve Job Histories."""
    path = core.path("services/jobs/histories")
    return pages(core, path, list_params(**filters), "jobs", HistoryEntry.from_payload)


def monitor_pages(core: ClientCore, filters: JobListFilters) -> PageFlow[MonitorEntry]:
    """Retrieve Job Monitors."""
    path = core.path("services/jobs/monitors")
    return pages(core, path, list_params(**filters), "jobs", MonitorEntry.from_payload)


# -- actions ---------------------------------------------------------------------------------------


def start_now(core: ClientCore, job_id: int) -> Flow[JobStarted]:
    response, vault = yield from call(core, "POST", f"services/jobs/start_now/{check_job_id(job_id)}")
    return core.started(response, vault)


def cancel(core: ClientCore, job_ids: Iterable[int | Iterable[int]]) -> Flow[list[CancelOutcome]]:
    """One outcome per id, in order, sent in batches of `CANCEL_BATCH`."""
    outcomes: list[CancelOutcome] = []
    for batch in cancel_batches(flatten_job_ids(job_ids)):
        response, vault = yield from call(
            core, "POST", "services/jobs/actions/cancel", json=[{"job_id": job_id} for job_id in batch]
        )
        outcomes.extend(core.cancel_outcomes(response, vault, batch))
    return outcomes


def run_processor(
    core: ClientCore, name: str, parameters: dict[str, Any] | None, title: str | None
) -> Flow[JobStarted]:
    body: dict[str, Any] = {"parameters": parameters or {}}
    if title is not None:
        body["title"] = title
    response, vault = yield from call(core, "POST", processor_path(name), json=body)
    return core.started(response, vault)
