"""`AsyncVaultClient`: the asyncio client (same API as `VaultClient`, awaited), running the same flows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, TypeVar, Unpack

import httpx

from . import _operations as ops
from ._base import BaseClient
from ._core import JobListFilters
from ._flow import AsyncDriver
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
from ._object_clients import AsyncObjects
from ._options import ClientOptionArgs, ClientOptions
from ._packages import AsyncPackages

__all__ = ["AsyncVaultClient"]

T = TypeVar("T")


class AsyncVaultClient(BaseClient):
    """An asyncio client for the Vault Jobs API (Vault itself, or ``vaultjobs serve``).

    Configured by a `ClientOptions` (``options=``) or by keywords of the same names, which win; how it
    logs in and how often it polls are described there.
    Use it as an async context manager; share it between tasks freely.
    ``sleep`` can be replaced (tests, with a fake ``clock``); ``transport`` goes to httpx.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        options: ClientOptions | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        **settings: Unpack[ClientOptionArgs],
    ) -> None:
        super().__init__(url, options, settings)
        self._http = httpx.AsyncClient(timeout=self._core.timeout, transport=transport, verify=self._core.verify)
        self._driver = AsyncDriver(self._http, sleep)
        self._driver.waiter = self.wait
        #: Vault objects: metadata, records, MDL and the object jobs.
        self.objects = AsyncObjects(self._core, self._driver)
        #: Vault packages: import, validate, deploy, their results and logs, and export.
        self.packages = AsyncPackages(self._core, self._driver)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def __aenter__(self) -> AsyncVaultClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (the Vault session stays valid; see `logout`)."""
        await self._http.aclose()

    # -- plumbing ----------------------------------------------------------------------------------

    async def request(
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
        return await self._driver.run(flow)

    async def _pages(self, flow: ops.PageFlow[T]) -> AsyncIterator[Page[T]]:
        next_flow: ops.PageFlow[T] | None = flow
        while next_flow is not None:
            page, next_flow = await self._driver.run(next_flow)
            yield page

    # -- session -----------------------------------------------------------------------------------

    async def login(self) -> Session:
        """Log in with the username and password now and use the new session from here on."""
        return await self._driver.run(ops.login(self._core))

    async def keep_alive(self) -> None:
        """``POST /keep-alive``: extend the session's inactivity timeout."""
        await self._driver.run(ops.call(self._core, "POST", "keep-alive"))

    async def logout(self) -> None:
        """``DELETE /session``: end this session on the server."""
        await self._driver.run(ops.logout(self._core))

    # -- jobs --------------------------------------------------------------------------------------

    async def status(self, job_id: int) -> Job:
        """Retrieve Job Status. Waits for the job's poll-gate slot first (one call per interval per job);
        raises `RateLimited` if the server still refuses (the gate then waits out its window)."""
        return await self._driver.run(ops.status(self._core, job_id))

    async def wait(
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
        return await self._driver.run(ops.wait(self._core, job_id, timeout=timeout, on_update=on_update))

    def task_pages(self, job_id: int, *, page_size: int | None = None) -> AsyncIterator[Page[Task]]:
        """Retrieve SDK Job Tasks, page by page."""
        return self._pages(ops.task_pages(self._core, job_id, page_size))

    async def tasks(self, job_id: int, *, page_size: int | None = None) -> AsyncIterator[Task]:
        """Every task of an SDK job, following ``next_page``."""
        async for page in self.task_pages(job_id, page_size=page_size):
            for item in page.items:
                yield item

    def history_pages(self, **filters: Unpack[JobListFilters]) -> AsyncIterator[Page[HistoryEntry]]:
        """Retrieve Job Histories (completed jobs), page by page; filters as for `histories`."""
        return self._pages(ops.history_pages(self._core, filters))

    async def histories(self, **filters: Unpack[JobListFilters]) -> AsyncIterator[HistoryEntry]:
        """Every completed job matching ``start_date``, ``end_date`` and ``status``, following
        ``next_page`` (``page_size`` entries a call)."""
        async for page in self.history_pages(**filters):
            for item in page.items:
                yield item

    def monitor_pages(self, **filters: Unpack[JobListFilters]) -> AsyncIterator[Page[MonitorEntry]]:
        """Retrieve Job Monitors (scheduled, queued and running jobs), page by page."""
        return self._pages(ops.monitor_pages(self._core, filters))

    async def monitors(self, **filters: Unpack[JobListFilters]) -> AsyncIterator[MonitorEntry]:
        """Every not-yet-completed job matching the filters, following ``next_page``."""
        async for page in self.monitor_pages(**filters):
            for item in page.items:
                yield item

    async def start_now(self, job_id: int) -> JobStarted:
        """Start Job: run a SCHEDULED job instance now."""
        return await self._driver.run(ops.start_now(self._core, job_id))

    async def cancel(self, *job_ids: int | Iterable[int]) -> list[CancelOutcome]:
        """Cancel Job: one outcome per id, in order (sent in batches of 500)."""
        return await self._driver.run(ops.cancel(self._core, job_ids))

    async def run_processor(
        self, name: str, parameters: dict[str, Any] | None = None, *, title: str | None = None
    ) -> JobStarted:
        """Start a job of processor ``name``. **vaultjobs only** (not part of Vault's API)."""
        return await self._driver.run(ops.run_processor(self._core, name, parameters, title))
