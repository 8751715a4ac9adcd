"""``client.objects``: the object endpoints on `VaultClient` (`Objects`) and `AsyncVaultClient`
(`AsyncObjects`), each a thin shell running the flows of `_object_operations`."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

from . import _object_operations as ops
from ._core import ClientCore
from ._flow import AsyncDriver, SyncDriver
from ._models import JobStarted, Page
from ._object_operations import ResultOutcome
from ._objects import MdlExecution, ObjectMetadata, ObjectSummary, RecordResult
from ._operations import PageFlow

__all__ = ["AsyncObjects", "Objects"]

Records = Iterable[Mapping[str, Any]]


def _ids(records: Iterable[str | Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [{"id": r} if isinstance(r, str) else r for r in records]


class Objects:
    """Vault objects through `VaultClient`: metadata, records, MDL, Deep Copy, Cascade Delete, Create EDL.

    The three jobs answer a `JobStarted`; ``started.wait()`` (or ``client.wait(started.job_id)``) follows it to its end.
    """

    def __init__(self, core: ClientCore, driver: SyncDriver) -> None:
        self._core = core
        self._driver = driver

    # -- metadata ----------------------------------------------------------------------------------

    def list(self) -> builtins.list[ObjectSummary]:
        """Retrieve Object Collection: every object the vault defines."""
        return self._driver.run(ops.object_list(self._core))

    def metadata(self, object_name: str) -> ObjectMetadata:
        """Retrieve Object Metadata."""
        return self._driver.run(ops.metadata(self._core, object_name))

    # -- records -----------------------------------------------------------------------------------

    def record_pages(
        self, object_name: str, *, fields: Iterable[str] | None = None, sort: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[Page[dict[str, Any]]]:
        """Retrieve Object Record Collection, page by page (``fields`` default to ``id`` and ``name__v``;
        ``sort`` as ``"name__v desc"``)."""
        next_flow: PageFlow[dict[str, Any]] | None = ops.record_pages(
            self._core, object_name, fields=fields, sort=sort, page_size=page_size
        )
        while next_flow is not None:
            page, next_flow = self._driver.run(next_flow)
            yield page

    def records(
        self, object_name: str, *, fields: Iterable[str] | None = None, sort: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every record of ``object_name``, following ``next_page``."""
        for page in self.record_pages(object_name, fields=fields, sort=sort, page_size=page_size):
            yield from page.items

    def get(self, object_name: str, record_id: str) -> dict[str, Any]:
        """Retrieve Object Record: every field's value."""
        return self._driver.run(ops.record(self._core, object_name, record_id))

    def create(self, object_name: str, records: Records) -> builtins.list[RecordResult]:
        """Create Object Records: one result per record, in order (batches of 500)."""
        return self._driver.run(ops.bulk(self._core, "POST", object_name, records, None))

    def upsert(self, object_name: str, records: Records, *, id_param: str) -> builtins.list[RecordResult]:
        """Create or update records matched on the unique field ``id_param``; ``event`` says which."""
        return self._driver.run(ops.bulk(self._core, "POST", object_name, records, id_param))

    def update(self, object_name: str, records: Records, *, id_param: str | None = None) -> builtins.list[RecordResult]:
        """Update Object Records (each with its ``id``, or its ``id_param`` field)."""
        return self._driver.run(ops.bulk(self._core, "PUT", object_name, records, id_param))

    def delete(
        self, object_name: str, records: Iterable[str | Mapping[str, Any]], *, id_param: str | None = None
    ) -> builtins.list[RecordResult]:
        """Delete Object Records, given ids or records."""
        return self._driver.run(ops.bulk(self._core, "DELETE", object_name, _ids(records), id_param))

    # -- MDL ---------------------------------------------------------------------------------------

    def execute_mdl(self, script: str) -> MdlExecution:
        """Execute MDL Script (admins); a failed statement raises `InvalidRequest`."""
        return self._driver.run(ops.execute_mdl(self._core, script))

    def execute_mdl_async(self, script: str) -> JobStarted:
        """Execute MDL Script Asynchronously: a job applying the script."""
        return self._driver.run(ops.execute_mdl_async(self._core, script))

    def mdl_async_results(self, job_id: int) -> MdlExecution:
        """What a finished asynchronous MDL job applied."""
        return self._driver.run(ops.mdl_async_results(self._core, job_id))

    # -- jobs --------------------------------------------------------------------------------------

    def deep_copy(
        self, object_name: str, record_id: str, overrides: Mapping[str, Any] | None = None
    ) -> JobStarted:
        """Deep Copy Object Record: a job copying the record and its children."""
        return self._driver.run(ops.deep_copy(self._core, object_name, record_id, overrides))

    def cascade_delete(self, object_name: str, record_id: str) -> JobStarted:
        """Cascade Delete Object Record: a job deleting the record and its children."""
        return self._driver.run(ops.cascade_delete(self._core, object_name, record_id))

    def create_edl(self, study_id: str, *, apply_where_edl_items_exist: bool = False) -> JobStarted:
        """Create EDL: a job creating the study's expected document list from its template."""
        return self._driver.run(ops.create_edl(self._core, study_id, apply_where_edl_items_exist))

    def deep_copy_results(
        self, object_name: str, job_id: int, outcome: ResultOutcome = "success"
    ) -> builtins.list[dict[str, str]]:
        """The rows of a finished Deep Copy's success (or failure) file."""
        return self._driver.run(ops.job_results(self._core, "deepcopy", object_name, job_id, outcome))

    def cascade_delete_results(
        self, object_name: str, job_id: int, outcome: ResultOutcome = "success"
    ) -> builtins.list[dict[str, str]]:
        """The rows of a finished Cascade Delete's success (or failure) file."""
        return self._driver.run(ops.job_results(self._core, "cascadedelete", object_name, job_id, outcome))


class AsyncObjects:
    """`Objects` for `AsyncVaultClient`: the same methods, awaited (record lists are async iterators)."""

    def __init__(self, core: ClientCore, driver: AsyncDriver) -> None:
        self._core = core
        self._driver = driver

    async def list(self) -> builtins.list[ObjectSummary]:
        """Retrieve Object Collection: every object the vault defines."""
        return await self._driver.run(ops.object_list(self._core))

    async def metadata(self, object_name: str) -> ObjectMetadata:
        """Retrieve Object Metadata."""
        return await self._driver.run(ops.metadata(self._core, object_name))

    async def record_pages(
        self, object_name: str, *, fields: Iterable[str] | None = None, sort: str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Page[dict[str, Any]]]:
        """Retrieve Object Record Collection, page by page."""
        next_flow: PageFlow[dict[str, Any]] | None = ops.record_pages(
            self._core, object_name, fields=fields, sort=sort, page_size=page_size
        )
        while next_flow is not None:
            page, next_flow = await self._driver.run(next_flow)
            yield page

    async def records(
        self, object_name: str, *, fields: Iterable[str] | None = None, sort: str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every record of ``object_name``, following ``next_page``."""
        async for page in self.record_pages(object_name, fields=fields, sort=sort, page_size=page_size):
            for item in page.items:
                yield item

    async def get(self, object_name: str, record_id: str) -> dict[str, Any]:
        """Retrieve Object Record: every field's value."""
        return await self._driver.run(ops.record(self._core, object_name, record_id))

    async def create(self, object_name: str, records: Records) -> builtins.list[RecordResult]:
        """Create Object Records: one result per record, in order (batches of 500)."""
        return await self._driver.run(ops.bulk(self._core, "POST", object_name, records, None))

    async def upsert(self, object_name: str, records: Records, *, id_param: str) -> builtins.list[RecordResult]:
        """Create or update records matched on the unique field ``id_param``."""
        return await self._driver.run(ops.bulk(self._core, "POST", object_name, records, id_param))

    async def update(
        self, object_name: str, records: Records, *, id_param: str | None = None
    ) -> builtins.list[RecordResult]:
        """Update Object Records."""
        return await self._driver.run(ops.bulk(self._core, "PUT", object_name, records, id_param))

    async def delete(
        self, object_name: str, records: Iterable[str | Mapping[str, Any]], *, id_param: str | None = None
    ) -> builtins.list[RecordResult]:
        """Delete Object Records, given ids or records."""
        return await self._driver.run(ops.bulk(self._core, "DELETE", object_name, _ids(records), id_param))

    async def execute_mdl(self, script: str) -> MdlExecution:
        """Execute MDL Script (admins); a failed statement raises `InvalidRequest`."""
        return await self._driver.run(ops.execute_mdl(self._core, script))

    async def execute_mdl_async(self, script: str) -> JobStarted:
        """Execute MDL Script Asynchronously."""
        return await self._driver.run(ops.execute_mdl_async(self._core, script))

    async def mdl_async_results(self, job_id: int) -> MdlExecution:
        """What a finished asynchronous MDL job applied."""
        return await self._driver.run(ops.mdl_async_results(self._core, job_id))

    async def deep_copy(
        self, object_name: str, record_id: str, overrides: Mapping[str, Any] | None = None
    ) -> JobStarted:
        """Deep Copy Object Record."""
        return await self._driver.run(ops.deep_copy(self._core, object_name, record_id, overrides))

    async def cascade_delete(self, object_name: str, record_id: str) -> JobStarted:
        """Cascade Delete Object Record."""
        return await self._driver.run(ops.cascade_delete(self._core, object_name, record_id))

    async def create_edl(self, study_id: str, *, apply_where_edl_items_exist: bool = False) -> JobStarted:
        """Create EDL."""
        return await self._driver.run(ops.create_edl(self._core, study_id, apply_where_edl_items_exist))

    async def deep_copy_results(
        self, object_name: str, job_id: int, outcome: ResultOutcome = "success"
    ) -> builtins.list[dict[str, str]]:
        """The rows of a finished Deep Copy's success (or failure) file."""
        return await self._driver.run(ops.job_results(self._core, "deepcopy", object_name, job_id, outcome))

    async def cascade_delete_results(
        self, object_name: str, job_id: int, outcome: ResultOutcome = "success"
    ) -> builtins.list[dict[str, str]]:
        """The rows of a finished Cascade Delete's success (or failure) file."""
        return await self._driver.run(ops.job_results(self._core, "cascadedelete", object_name, job_id, outcome))
