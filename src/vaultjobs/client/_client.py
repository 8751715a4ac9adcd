"""`VaultClient`: the synchronous client, a thin shell that runs the flows of `_operations`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, TypeVar, Unpack

import httpx

from . import _operations as ops
from ._base import BaseClient
from ._core import JobListFilters
from ._flow import SyncDriver
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
from ._object_clients import Objects
from ._options import ClientOptionArgs, ClientOptions
from ._packages import Packages

__all__ = ["VaultClient"]

T = TypeVar("T")


class VaultClient(BaseClient):
    """A synchronous client for the Vault Jobs API (Vault itself, or ``vaultjobs serve``).

    Configured by a `ClientOptions` (``options=``) or by keywords of the same names, which win; how it
    logs in and how often it polls are described there.
    Use it as a context manager; it is safe to share between threads.
    ``sleep`` can be replaced (tests, with a fake ``clock``); ``transport`` goes to httpx.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        options: ClientOptions | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        **settings: Unpack[ClientOptionArgs],
    ) -> None:
        super().__init__(url, options, settings)
        self._http = httpx.Client(timeout=self._core.timeout, transport=transport, verify=self._core.verify)
        self._driver = SyncDriver(self._http, sleep)
        self._driver.waiter = self.wait
        #: Vault objects: metadata, records, MDL and the object jobs.
        self.objects = Objects(self._core, self._driver)
        #: Vault packages: import, validate, deploy, their results and logs, and export.
        self.packages = Packages(self._core, self._driver)

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

    # -- plumbing ----------------------------------------------------------------------------------

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
        flow = ops.call(self._core, method, path, params=params, json=json, default_retry_after=default_retry_after)
        return self._driver.run(flow)

    def _pages(self, flow: ops.PageFlow[T]) -> Iterator[Page[T]]:
        next_flow: ops.PageFlow[T] | None = flow
        while next_flow is not None:
            page, next_flow = self._driver.run(next_flow)
            yield page

    # -- session -----------------------------------------------------------------------------------

    def login(self) -> Session:
        """Log in with the username and password now and use the new session from here on."""
        return self._driver.run(ops.login(self._core))

    def keep_alive(self) -> None:
        """``POST /keep-alive``: extend the session's inactivity timeout."""
        self._driver.run(ops.call(self._core, "POST", "keep-alive"))

    def logout(self) -> None:
        """``DELETE /session``: end this session on the server."""
        self._driver.run(ops.logout(self._core))

    # -- jobs --------------------------------------------------------------------------------------

    def status(self, job_id: int) -> Job:
        """Retrieve Job Status. Waits for the job's poll-gate slot first (one call per interval per job);
        raises `RateLimited` if the server still refuses (the gate then waits out its window)."""
        return self._driver.run(ops.status(self._core, job_id))

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
        return self._driver.run(ops.wait(self._core, job_id, timeout=timeout, on_update=on_update))

    def task_pages(self, job_id: int, *, page_size: int | None = None) -> Iterator[Page[Task]]:
        """Retrieve SDK Job Tasks, page by page."""
        return self._pages(ops.task_pages(self._core, job_id, page_size))

    def tasks(self, job_id: int, *, page_size: int | None = None) -> Iterator[Task]:
        """Every task of an SDK job, following ``next_page``."""
        for page in self.task_pages(job_id, page_size=page_size):
            yield from page.items

    def history_pages(self, **filters: Unpack[JobListFilters]) -> Iterator[Page[HistoryEntry]]:
        """Retrieve Job Histories (completed jobs), page by page; filters as for `histories`."""
        return self._pages(ops.history_pages(self._core, filters))

    def histories(self, **filters: Unpack[JobListFilters]) -> Iterator[HistoryEntry]:
        """Every completed job matching ``start_date``, ``end_date`` and ``status``, following
        ``next_page`` (``page_size`` entries a call)."""
        for page in self.history_pages(**filters):
            yield from page.items

    def monitor_pages(self, **filters: Unpack[JobListFilters]) -> Iterator[Page[MonitorEntry]]:
        """Retrieve Job Monitors (scheduled, queued and running jobs), page by page."""
        return self._pages(ops.monitor_pages(self._core, filters))

    def monitors(self, **filters: Unpack[JobListFilters]) -> Iterator[MonitorEntry]:
        """Every not-yet-completed job matching the filters, following ``next_page``."""
        for page in self.monitor_pages(**filters):
            yield from page.items

    def start_now(self, job_id: int) -> JobStarted:
        """Start Job: run a SCHEDULED job instance now."""
        return self._driver.run(ops.start_now(self._core, job_id))

    def cancel(self, *job_ids: int | Iterable[int]) -> list[CancelOutcome]:
        """Cancel Job: one outcome per id, in order (sent in batches of 500)."""
        return self._driver.run(ops.cancel(self._core, job_ids))

    def run_processor(
        self, name: str, parameters: dict[str, Any] | None = None, *, title: str | None = None
    ) -> JobStarted:
        """Start a job of processor ``name``. **vaultjobs only** (not part of Vault's API)."""
        return self._driver.run(ops.run_processor(self._core, name, parameters, title))
