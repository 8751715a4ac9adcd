"""`VaultClient`: the synchronous client."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, TypeVar

import httpx

from ._config import (
    DEFAULT_API_VERSION,
    DEFAULT_CLIENT_ID,
    DEFAULT_TIMEOUT,
    VAULT_STATUS_INTERVAL,
    BurstThrottle,
)
from ._core import (
    ClientCore,
    DateArg,
    Format,
    cancel_batches,
    check_job_id,
    list_params,
    processor_path,
)
from ._errors import JobFailed, RateLimited, TransportError, WaitTimeout
from ._models import (
    CancelOutcome,
    HistoryEntry,
    Job,
    JobStarted,
    MonitorEntry,
    Page,
    RateLimitInfo,
    Session,
    Task,
    VaultResponse,
)
from ._polling import PollGate
from ._status import JobStatus

__all__ = ["VaultClient"]

T = TypeVar("T")


class VaultClient:
    """A synchronous client for the Vault Jobs API (Vault itself, or ``vaultjobs serve``).

    Log in with ``username`` and ``password`` (the client logs in on first use, and once more whenever
    Vault says INVALID_SESSION_ID) or with a ``session_id`` (an expired one raises `SessionExpired`).
    Give both to start from a saved session and fall back to the credentials.

    Status calls for one job are spaced ``poll_interval + poll_margin`` seconds apart (see `PollPolicy`);
    ``poll_interval`` may not go below ``min_poll_interval`` (Vault's 10 s; lower it only for a vaultjobs
    server with a shorter ``VAULTJOBS_STATUS_WINDOW``).

    Use it as a context manager; it is safe to share between threads. ``clock`` and ``sleep`` can be
    replaced (tests); ``transport`` goes to httpx (``httpx.MockTransport`` in tests).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        dns: str | None = None,
        username: str | None = None,
        password: str | None = None,
        session_id: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        client_id: str = DEFAULT_CLIENT_ID,
        reference_id: str | None = None,
        format: Format = "json",
        timeout: httpx.Timeout | float | None = DEFAULT_TIMEOUT,
        poll_interval: float = VAULT_STATUS_INTERVAL,
        min_poll_interval: float = VAULT_STATUS_INTERVAL,
        poll_margin: float = 0.1,
        poll_jitter: float = 0.0,
        poll_gate: PollGate | None = None,
        throttle: BurstThrottle | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        verify: bool | ssl.SSLContext = True,
    ) -> None:
        self._core = ClientCore.create(
            url,
            dns=dns,
            username=username,
            password=password,
            session_id=session_id,
            api_version=api_version,
            client_id=client_id,
            reference_id=reference_id,
            format=format,
            timeout=timeout,
            poll_interval=poll_interval,
            min_poll_interval=min_poll_interval,
            poll_margin=poll_margin,
            poll_jitter=poll_jitter,
            poll_gate=poll_gate,
            throttle=throttle,
            clock=clock,
        )
        self._sleep = sleep
        self._login_lock = threading.Lock()
        self._http = httpx.Client(
            base_url=self._core.base_url,
            headers=self._core.headers,
            timeout=self._core.timeout,
            auth=self._core.auth,
            transport=transport,
            verify=verify,
        )

    # -- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> VaultClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections (the Vault session stays valid; see `logout`)."""
        self._http.close()

    @property
    def base_url(self) -> str:
        return str(self._core.base_url)

    @property
    def api_version(self) -> str:
        return self._core.api_version

    @property
    def session(self) -> Session | None:
        """The current session (None before the first call when logging in with a password)."""
        return self._core.auth.session

    @property
    def rate_limit(self) -> RateLimitInfo | None:
        """Rate-limit telemetry of the most recent response."""
        return self._core.rate_limit

    @property
    def poll_gate(self) -> PollGate:
        return self._core.gate

    # -- plumbing ----------------------------------------------------------------------------------

    def _send(self, request: httpx.Request, *, auth: bool = True) -> httpx.Response:
        delay = self._core.throttle.delay(self._core.rate_limit)
        if delay > 0:
            self._sleep(delay)
        try:
            if auth:
                return self._http.send(request)
            return self._http.send(request, auth=None)
        except httpx.TransportError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}", request=request) from exc

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        default_retry_after: float | None = None,
    ) -> tuple[httpx.Response, VaultResponse]:
        """Send one API call (``path`` relative to ``/api/{version}/``, or to the base URL when it
        starts with ``api/``) and return the HTTP response with its decoded Vault envelope.

        Raises the typed error for any failure.
        """
        url = path if path.startswith("api/") else self._core.path(path)
        request = self._http.build_request(method, url, params=params, json=json)
        response = self._send(request)
        return response, self._core.interpret(response, default_retry_after=default_retry_after)

    # -- session -----------------------------------------------------------------------------------

    def login(self) -> Session:
        """Log in with the username and password now and use the new session from here on."""
        request = self._core.auth.build_login_request(self._http.headers)
        response = self._send(request, auth=False)
        session = self._core.parse_login(response)
        self._core.auth.set_session(session)
        return session

    def _ensure_session(self) -> None:
        """Log in now if there is no session yet (once, however many callers arrive together)."""
        if self._core.auth.session is not None or not self._core.auth.can_login:
            return
        with self._login_lock:
            if self._core.auth.session is None:
                self.login()

    def keep_alive(self) -> None:
        """``POST /keep-alive``: extend the session's inactivity timeout."""
        self.request("POST", "keep-alive")

    def logout(self) -> None:
        """``DELETE /session``: end this session on the server."""
        self.request("DELETE", "session")
        self._core.auth.clear_session()

    # -- jobs --------------------------------------------------------------------------------------

    def status(self, job_id: int) -> Job:
        """Retrieve Job Status. Waits for the job's poll-gate slot first (one call per interval per job);
        raises `RateLimited` if the server still refuses (the gate then waits out its window)."""
        job = self._gated_status(check_job_id(job_id), deadline=None)
        assert job is not None
        return job

    def _gated_status(self, job_id: int, deadline: float | None) -> Job | None:
        self._ensure_session()  # first, so the slot's call is not delayed by logging in
        key = self._core.gate_key(job_id)
        delay = self._core.gate.reserve(key, not_after=deadline)
        if delay is None:
            return None
        if delay > 0:
            self._sleep(delay)
        try:
            response, vault = self.request(
                "GET", f"services/jobs/{job_id}", default_retry_after=self._core.poll.interval
            )
        except RateLimited as exc:
            self._core.gate.refused(key, exc.rate_limit.retry_after)
            raise
        return self._core.job(response, vault)

    def wait(
        self,
        job_id: int,
        *,
        timeout: float = 3600.0,
        on_update: Callable[[Job], None] | None = None,
    ) -> Job:
        """Poll the job until it reaches a terminal status or ``timeout`` seconds pass.

        Returns the job on SUCCESS; raises `JobFailed` (with the job) on any other terminal status and
        `WaitTimeout` (with the last status seen) at the deadline. Polls on the gate's cadence,
        retries API_LIMIT_EXCEEDED after its window, and calls ``on_update`` with every status read.
        """
        job_id = check_job_id(job_id)
        deadline = self._core.clock() + timeout
        last: Job | None = None
        while True:
            try:
                job = self._gated_status(job_id, deadline)
            except RateLimited:
                continue
            if job is None:
                raise WaitTimeout(last, job_id=job_id)
            last = job
            if on_update is not None:
                on_update(job)
            if job.status.is_terminal:
                if job.status.is_success:
                    return job
                raise JobFailed(job)

    def _pages(
        self, path: str, params: dict[str, str] | None, key: str, factory: Callable[[Any], T]
    ) -> Iterator[Page[T]]:
        url: str | None = self._core.path(path)
        seen: set[str] = set()
        while url is not None:
            seen.add(url)
            response, vault = self.request("GET", url, params=params)
            page = self._core.page(response, vault, key, factory)
            yield page
            params = None  # next_page carries its own query
            url = self._core.next_page_url(page.next_page)
            if not page.items or url in seen:
                break

    def task_pages(self, job_id: int, *, page_size: int | None = None) -> Iterator[Page[Task]]:
        """Retrieve SDK Job Tasks, page by page."""
        params = list_params(start_date=None, end_date=None, status=None, page_size=page_size)
        return self._pages(f"services/jobs/{check_job_id(job_id)}/tasks", params, "tasks", Task.from_payload)

    def tasks(self, job_id: int, *, page_size: int | None = None) -> Iterator[Task]:
        """Every task of an SDK job, following ``next_page``."""
        for page in self.task_pages(job_id, page_size=page_size):
            yield from page.items

    def history_pages(
        self,
        *,
        start_date: DateArg = None,
        end_date: DateArg = None,
        status: JobStatus | str | None = None,
        page_size: int | None = None,
    ) -> Iterator[Page[HistoryEntry]]:
        """Retrieve Job Histories (completed jobs), page by page."""
        params = list_params(start_date=start_date, end_date=end_date, status=status, page_size=page_size)
        return self._pages("services/jobs/histories", params, "jobs", HistoryEntry.from_payload)

    def histories(
        self,
        *,
        start_date: DateArg = None,
        end_date: DateArg = None,
        status: JobStatus | str | None = None,
        page_size: int | None = None,
    ) -> Iterator[HistoryEntry]:
        """Every completed job matching the filters, following ``next_page``."""
        for page in self.history_pages(
            start_date=start_date, end_date=end_date, status=status, page_size=page_size
        ):
            yield from page.items

    def monitor_pages(
        self,
        *,
        start_date: DateArg = None,
        end_date: DateArg = None,
        status: JobStatus | str | None = None,
        page_size: int | None = None,
    ) -> Iterator[Page[MonitorEntry]]:
        """Retrieve Job Monitors (scheduled, queued and running jobs), page by page."""
        params = list_params(start_date=start_date, end_date=end_date, status=status, page_size=page_size)
        return self._pages("services/jobs/monitors", params, "jobs", MonitorEntry.from_payload)

    def monitors(
        self,
        *,
        start_date: DateArg = None,
        end_date: DateArg = None,
        status: JobStatus | str | None = None,
        page_size: int | None = None,
    ) -> Iterator[MonitorEntry]:
        """Every not-yet-completed job matching the filters, following ``next_page``."""
        for page in self.monitor_pages(
            start_date=start_date, end_date=end_date, status=status, page_size=page_size
        ):
            yield from page.items

    def start_now(self, job_id: int) -> JobStarted:
        """Start Job: run a SCHEDULED job instance now."""
        response, vault = self.request("POST", f"services/jobs/start_now/{check_job_id(job_id)}")
        return self._core.started(response, vault)

    def cancel(self, *job_ids: int | Iterable[int]) -> list[CancelOutcome]:
        """Cancel Job: one outcome per id, in order (sent in batches of 500)."""
        outcomes: list[CancelOutcome] = []
        for batch in cancel_batches(_flatten(job_ids)):
            response, vault = self.request(
                "POST", "services/jobs/actions/cancel", json=[{"job_id": job_id} for job_id in batch]
            )
            outcomes.extend(self._core.cancel_outcomes(response, vault, batch))
        return outcomes

    def run_processor(
        self, name: str, parameters: dict[str, Any] | None = None, *, title: str | None = None
    ) -> JobStarted:
        """Start a job of processor ``name``. **vaultjobs only** (not part of Vault's API)."""
        body: dict[str, Any] = {"parameters": parameters or {}}
        if title is not None:
            body["title"] = title
        response, vault = self.request("POST", processor_path(name), json=body)
        return self._core.started(response, vault)


def _flatten(job_ids: tuple[int | Iterable[int], ...]) -> list[int]:
    flat: list[int] = []
    for item in job_ids:
        if isinstance(item, int):
            flat.append(check_job_id(item))
        else:
            flat.extend(check_job_id(job_id) for job_id in item)
    return flat
