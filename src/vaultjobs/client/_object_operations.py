"""The object endpoints as flows (see `_flow`): metadata, records, Execute MDL, and the object jobs.

`Objects` and `AsyncObjects` (the ``objects`` namespace of each client) only run these. Deep Copy,
Cascade Delete and Create EDL answer a `JobStarted`, as ``run_processor`` does, so ``client.wait``
follows them like any other job.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import httpx

from ._core import ClientCore, _shape
from ._flow import Flow
from ._models import JobStarted, VaultResponse
from ._objects import MdlExecution, ObjectMetadata, ObjectSummary, RecordResult
from ._operations import PageFlow, call, pages
from ._parse import as_dict, as_list

__all__ = [
    "ResultOutcome",
    "bulk",
    "cascade_delete",
    "create_edl",
    "deep_copy",
    "execute_mdl",
    "execute_mdl_async",
    "job_results",
    "mdl_async_results",
    "metadata",
    "object_list",
    "record",
    "record_pages",
]

#: Which file of a finished Deep Copy or Cascade Delete job: the records done, or those that failed.
ResultOutcome = Literal["success", "failure"]

#: Vault's limit on records per bulk create, update or delete request.
BULK_LIMIT = 500

_JSON = {"Accept": "application/json"}


def _name(value: str, what: str = "object") -> str:
    if not value or "/" in value:
        raise ValueError(f"not an {what} name: {value!r}")
    return urllib.parse.quote(value, safe="")


def _record_id(value: str) -> str:
    if not isinstance(value, str) or not value or "/" in value:
        raise ValueError(f"not a record id: {value!r}")
    return urllib.parse.quote(value, safe="")


def _data(response: httpx.Response, vault: VaultResponse) -> dict[str, Any]:
    return _shape(response, lambda: dict(as_dict(vault.body.get("data"))))


def _row(payload: Any) -> dict[str, Any]:
    return dict(as_dict(payload))


# -- metadata --------------------------------------------------------------------------------------


def object_list(core: ClientCore) -> Flow[list[ObjectSummary]]:
    """Retrieve Object Collection."""
    response, vault = yield from call(core, "GET", "metadata/vobjects")
    return _shape(response, lambda: [ObjectSummary.from_payload(o) for o in as_list(vault.body.get("objects"))])


def metadata(core: ClientCore, object_name: str) -> Flow[ObjectMetadata]:
    """Retrieve Object Metadata."""
    response, vault = yield from call(core, "GET", f"metadata/vobjects/{_name(object_name)}")
    return _shape(response, lambda: ObjectMetadata.from_payload(vault.body.get("object")))


# -- records ---------------------------------------------------------------------------------------


def record_pages(
    core: ClientCore,
    object_name: str,
    *,
    fields: Iterable[str] | None,
    sort: str | None,
    page_size: int | None,
) -> PageFlow[dict[str, Any]]:
    """Retrieve Object Record Collection, following ``next_page``."""
    params: dict[str, str] = {}
    if fields is not None:
        params["fields"] = ",".join(fields)
    if sort is not None:
        params["sort"] = sort
    if page_size is not None:
        if not 1 <= page_size <= 200:
            raise ValueError("page_size is between 1 and 200")
        params["limit"] = str(page_size)
    return pages(core, core.path(f"vobjects/{_name(object_name)}"), params or None, "data", _row)


def record(core: ClientCore, object_name: str, record_id: str) -> Flow[dict[str, Any]]:
    """Retrieve Object Record: every field's value."""
    response, vault = yield from call(core, "GET", f"vobjects/{_name(object_name)}/{_record_id(record_id)}")
    return _data(response, vault)


def bulk(
    core: ClientCore,
    method: Literal["POST", "PUT", "DELETE"],
    object_name: str,
    records: Iterable[Mapping[str, Any]],
    id_param: str | None,
) -> Flow[list[RecordResult]]:
    """Create (POST; an upsert with ``id_param``), update (PUT) or delete (DELETE) records in batches
    of `BULK_LIMIT`: one result per record, in order. A record that fails does not stop the others."""
    rows = [dict(r) for r in records]
    if not rows:
        raise ValueError("give at least one record")
    params = {"idParam": id_param} if id_param else None
    path = f"vobjects/{_name(object_name)}"
    results: list[RecordResult] = []
    for start in range(0, len(rows), BULK_LIMIT):
        batch = rows[start : start + BULK_LIMIT]
        response, vault = yield from call(core, method, path, params=params, json=batch, headers=_JSON)

        def build(vault: VaultResponse = vault, size: int = len(batch)) -> list[RecordResult]:
            items = as_list(vault.body.get("data"))
            if len(items) != size:
                raise ValueError(f"{len(items)} results for {size} records")
            return [RecordResult.from_payload(item) for item in items]

        results.extend(_shape(response, build))
    return results


# -- MDL -------------------------------------------------------------------------------------------


def _mdl(script: str) -> bytes:
    if not script.strip():
        raise ValueError("the MDL script is empty")
    return script.encode("utf-8")


def execute_mdl(core: ClientCore, script: str) -> Flow[MdlExecution]:
    """Execute MDL Script. A failed statement raises the typed error (``InvalidRequest``), whose
    ``body`` is the whole answer: ``MdlExecution.from_payload(exc.body)`` reads it."""
    response, vault = yield from call(
        core, "POST", "api/mdl/execute", content=_mdl(script), headers={"Content-Type": "text/plain"}
    )
    return _shape(response, lambda: MdlExecution.from_payload(vault.body))


def execute_mdl_async(core: ClientCore, script: str) -> Flow[JobStarted]:
    """Execute MDL Script Asynchronously: the syntax is checked now, the job applies it."""
    response, vault = yield from call(
        core, "POST", "api/mdl/execute_async", content=_mdl(script), headers={"Content-Type": "text/plain"}
    )
    return core.started(response, vault)


def mdl_async_results(core: ClientCore, job_id: int) -> Flow[MdlExecution]:
    """Retrieve Asynchronous MDL Script Results of a finished job (a failed statement raises, as for
    `execute_mdl`)."""
    response, vault = yield from call(core, "GET", f"api/mdl/execute_async/{int(job_id)}/results")
    return _shape(response, lambda: MdlExecution.from_payload(vault.body))


# -- object jobs -----------------------------------------------------------------------------------


def deep_copy(
    core: ClientCore, object_name: str, record_id: str, overrides: Mapping[str, Any] | None
) -> Flow[JobStarted]:
    """Deep Copy Object Record: copy the record and its children; ``overrides`` set fields of the copy."""
    path = f"vobjects/{_name(object_name)}/{_record_id(record_id)}/actions/deepcopy"
    response, vault = yield from call(core, "POST", path, json=dict(overrides) if overrides else None)
    return core.started(response, vault)


def cascade_delete(core: ClientCore, object_name: str, record_id: str) -> Flow[JobStarted]:
    """Cascade Delete Object Record: the record and every child record under it."""
    path = f"vobjects/{_name(object_name)}/{_record_id(record_id)}/actions/cascadedelete"
    response, vault = yield from call(core, "POST", path)
    return core.started(response, vault)


def create_edl(core: ClientCore, study_id: str, apply_where_edl_items_exist: bool) -> Flow[JobStarted]:
    """Create EDL: the study's expected documents from its template."""
    path = f"vobjects/study__v/{_record_id(study_id)}/actions/etmfcreateedl"
    params = {"applyWhereEdlItemsExist": "true" if apply_where_edl_items_exist else "false"}
    response, vault = yield from call(core, "POST", path, params=params)
    return core.started(response, vault)


def job_results(
    core: ClientCore, action: Literal["deepcopy", "cascadedelete"], object_name: str, job_id: int,
    outcome: ResultOutcome,
) -> Flow[list[dict[str, str]]]:
    """The success or failure rows of a finished Deep Copy or Cascade Delete job (vaultjobs answers
    them as JSON for ``Accept: application/json``)."""
    if outcome not in ("success", "failure"):
        raise ValueError("outcome is 'success' or 'failure'")
    path = f"vobjects/{action}/results/{_name(object_name)}/{outcome}/{int(job_id)}"
    response, vault = yield from call(core, "GET", path, headers=_JSON)
    return _shape(
        response,
        lambda: [{str(k): "" if v is None else str(v) for k, v in as_dict(row).items()}
                 for row in as_list(vault.body.get("data"))],
    )
