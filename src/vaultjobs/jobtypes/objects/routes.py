"""The object endpoints: metadata, Execute MDL, records, and the Deep Copy and Cascade Delete jobs.

Choices where Vault is silent [U]: an unknown object is ``INVALID_DATA`` "Object [x] not found", an
unknown record ``INVALID_DATA`` "The resource [id] does not exist". The record collection sorts by
``id`` (creation order, so the last record is the newest), ``name__v``, ``created_date__v`` or
``modified_date__v``; other sort fields are refused. Bulk answers are CSV for ``Accept: text/csv``
(columns ``responseStatus,id,id_param_value,event,errors``), JSON otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.responses import Response
from starlette.routing import Route

from vaultjobs import errors
from vaultjobs.api.endpoint import Call
from vaultjobs.api.params import int_param, parse_id
from vaultjobs.api.routes import jobs_of
from vaultjobs.api.services import Services
from vaultjobs.api.versions import NEWEST_VERSION
from vaultjobs.jobs import JobRequest, require_access
from vaultjobs.jobtypes.objects import cascade_delete, create_edl, deep_copy, mdl_async
from vaultjobs.jobtypes.objects.access import require_admin
from vaultjobs.jobtypes.objects.catalogs import CatalogService
from vaultjobs.jobtypes.objects.records import MDL_ASYNC_OBJECTS, Outcome, Record, Records, encode
from vaultjobs.jobtypes.objects.tables import (
    CSV_MEDIA_TYPE,
    is_csv,
    read_csv,
    read_records,
    wants_csv,
    write_csv,
)
from vaultjobs.jobtypes.objects.trees import TreeTooLarge, cascade_tree, copy_tree
from vaultjobs.objects import FieldType, ObjectDefinition
from vaultjobs.objects.mdl import MdlSyntaxError, parse, render_execution
from vaultjobs.objects.mdl.results import script_execution
from vaultjobs.objects.payloads import (
    IN_DEPLOYMENT,
    STEADY_STATE,
    collection_object,
    record_object,
    records_url,
    render_field_metadata,
    render_object_collection,
    render_object_metadata,
)
from vaultjobs.objects.values import Origin, to_csv_value, to_json_value
from vaultjobs.status import JobStatus
from vaultjobs.store.objects import FieldSort

MAX_PAGE = 200
MAX_DELETIONS = 1000
DELETIONS_KEPT_DAYS = 30
DEFAULT_FIELDS = ("id", "name__v")
SORT_COLUMNS = {"id": "id", "name__v": "name", "created_date__v": "created_at", "modified_date__v": "modified_at",
                "created_by__v": "created_by", "modified_by__v": "modified_by"}
#: Vault's limit on the records one deep copy or cascade delete may touch besides the root.
MAX_RELATED_RECORDS = 10_000
ACTIVE = frozenset({JobStatus.SCHEDULED, JobStatus.QUEUEING, JobStatus.QUEUED, JobStatus.RUNNING,
                    JobStatus.CANCELLING})

RouteFactory = Callable[..., Route]
ResultTable = Callable[[str, list[dict[str, Any]]], tuple[list[str], list[list[str]]]]


class ObjectRoutes:
    def __init__(self, services: Services) -> None:
        self.s = services
        self.catalogs = CatalogService(services.store, services.clock)
        self.records = Records(services.store, self.catalogs, services.clock)
        self.jobs = jobs_of(services)

    # -- metadata --------------------------------------------------------------------------------

    def object_collection(self, call: Call) -> dict[str, Any]:
        call.require_user()
        return render_object_collection(self.catalogs.current(), call.version,
                                        dict.fromkeys(self.records.in_deployment(), IN_DEPLOYMENT))

    def object_metadata(self, call: Call) -> dict[str, Any]:
        call.require_user()
        catalog = self.catalogs.current()
        definition = Records.definition(catalog, call.path_params["object_name"])
        return render_object_metadata(catalog, definition, call.version, stamps=self.catalogs.stamps(definition.name),
                                      configuration_state=self._state(definition))

    def field_metadata(self, call: Call) -> dict[str, Any]:
        call.require_user()
        catalog = self.catalogs.current()
        definition = Records.definition(catalog, call.path_params["object_name"])
        name = call.path_params["field_name"]
        found = definition.field(name)
        if found is None:
            raise errors.InvalidData(f"Field [{name[:100]}] does not exist on object [{definition.name}]")
        return render_field_metadata(catalog, found, call.version)

    def _state(self, definition: ObjectDefinition) -> str:
        return IN_DEPLOYMENT if definition.name in self.records.in_deployment() else STEADY_STATE

    # -- MDL -------------------------------------------------------------------------------------

    def execute_mdl(self, call: Call) -> dict[str, Any]:
        user = call.require_user()
        require_admin(user, "execute MDL")
        try:
            script = call.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise errors.InvalidData("The MDL script is not UTF-8") from exc
        execution = self.catalogs.execute(script, user.id)
        body = render_execution(execution.results, vault=call.request.url.hostname or "localhost",
                                execution_time=execution.seconds)
        failed = [r for r in execution.results if not r.success]
        if failed:
            # Every FAILURE envelope carries errors (DESIGN): the first failed statement, and how many.
            body["errors"] = [{"type": errors.InvalidData.type,
                               "message": f"{len(failed)} of {len(execution.results)} statements failed; "
                                          f"statement {failed[0].statement}: {failed[0].reason}"}]
        return body

    def execute_mdl_async(self, call: Call) -> dict[str, Any]:
        """Check the syntax now, apply in a job; one such job at a time, as in Vault."""
        user = call.require_user()
        require_admin(user, "execute MDL")
        try:
            script = call.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise errors.InvalidData("The MDL script is not UTF-8") from exc
        started = time.perf_counter()
        try:
            statements = parse(script)
        except MdlSyntaxError as exc:
            raise errors.InvalidData(f"MDL syntax error: {exc}") from exc
        active = self.s.store.objects.active_jobs(mdl_async.PROCESSOR)
        if active:
            raise errors.OperationNotAllowed(f"Asynchronous MDL job [{active[0]}] has not ended yet; "
                                             "one may be queued at a time")
        request = self.s.store.objects.request_save(user.id, script, self.s.clock.now())
        job = self.jobs.enqueue(user, JobRequest(
            processor=mdl_async.PROCESSOR,
            parameters={"request": request, "vault": call.request.url.hostname or "localhost",
                        MDL_ASYNC_OBJECTS: mdl_async.changed_objects(statements)},
            title=f"Execute MDL ({len(statements)} statements)",
        ))
        checked = script_execution([], time.perf_counter() - started)
        return {"script_execution": checked, "job_id": job.id, "url": f"/api/{NEWEST_VERSION}/services/jobs/{job.id}"}

    def mdl_async_results(self, call: Call) -> dict[str, Any]:
        user = call.require_user()
        job_id = parse_id(call.path_params["job_id"])
        job = require_access(user, job_id, self.s.store.jobs.get_job(job_id))
        if job.processor != mdl_async.PROCESSOR:
            raise errors.InvalidData(f"Job [{job_id}] is not an asynchronous MDL job")
        if job.status in ACTIVE:
            raise errors.OperationNotAllowed(f"Job [{job_id}] is still active")
        found = self.s.store.objects.results(job_id, mdl_async.RESULT)
        if not found:
            raise errors.OperationNotAllowed(f"Job [{job_id}] ended {job.status.value} without applying its script")
        body: dict[str, Any] = found[0]
        return body

    # -- records ---------------------------------------------------------------------------------

    def collection(self, call: Call) -> dict[str, Any] | Response:
        call.require_user()
        catalog = self.catalogs.current()
        definition = Records.definition(catalog, call.path_params["object_name"])
        query = call.query
        fields = _fields(query.get("fields"), definition.name, [f.name for f in definition.fields])
        limit = min(int_param(query, "limit", MAX_PAGE, 1, 10**9), MAX_PAGE)
        offset = int_param(query, "offset", 0, 0, 10**12)
        sort, descending = _sort(query.get("sort"), definition)
        total, rows = self.s.store.objects.page(definition.name, sort=sort, descending=descending, limit=limit,
                                               offset=offset)
        loaded = self.records.load(catalog, [r.id for r in rows])
        records = [loaded[r.id] for r in rows if r.id in loaded]
        if wants_csv(call.request.headers.get("accept")):
            body = write_csv(fields, ([to_csv_value(r.values.get(f)) for f in fields] for r in records))
            return Response(body, media_type=CSV_MEDIA_TYPE)
        base = records_url(call.version, definition.name)
        details: dict[str, Any] = {"total": total, "offset": offset, "limit": limit, "url": base}
        keep = {k: v for k, v in (("fields", query.get("fields")), ("sort", query.get("sort"))) if v}
        if offset + limit < total:
            details["next_page"] = f"{base}?{urlencode({**keep, 'limit': limit, 'offset': offset + limit})}"
        if offset > 0:
            details["previous_page"] = f"{base}?{urlencode({**keep, 'limit': limit, 'offset': max(0, offset - limit)})}"
        details["object"] = collection_object(definition, call.version, self._state(definition))
        return {"responseDetails": details, "data": [{f: to_json_value(r.values.get(f)) for f in fields}
                                                     for r in records]}

    def deletions(self, call: Call) -> dict[str, Any]:
        """Retrieve Deleted Object Record ID: the records deleted in the last 30 days, oldest first."""
        call.require_user()
        definition = Records.definition(self.catalogs.current(), call.path_params["object_name"])
        limit = int_param(call.query, "limit", MAX_DELETIONS, 1, MAX_DELETIONS)
        offset = int_param(call.query, "offset", 0, 0, 10**12)
        since = self.s.clock.now() - timedelta(days=DELETIONS_KEPT_DAYS)
        total, rows = self.s.store.objects.deletions(definition.name, since, limit, offset)
        return {
            "responseDetails": {"total": total, "size": len(rows), "limit": limit, "offset": offset},
            "data": [{"id": record_id, "date_deleted": at.strftime("%Y-%m-%dT%H:%M:%SZ")} for record_id, at in rows],
        }

    def record(self, call: Call) -> dict[str, Any]:
        call.require_user()
        catalog = self.catalogs.current()
        definition = Records.definition(catalog, call.path_params["object_name"])
        found = self.records.get(catalog, definition, call.path_params["record_id"])
        return {
            "responseDetails": {"url": f"{records_url(call.version, definition.name)}/{found.id}",
                                "object": record_object(definition, call.version)},
            "data": _record_json(found),
        }

    def create(self, call: Call) -> dict[str, Any] | Response:
        user = call.require_user()
        records, origin = read_records(call.body, call.request.headers.get("content-type"))
        outcomes = self.records.create(user, call.path_params["object_name"], records, origin=origin,
                                       id_param=_id_param(call))
        return self._bulk_answer(call, outcomes)

    def update(self, call: Call) -> dict[str, Any] | Response:
        user = call.require_user()
        records, origin = read_records(call.body, call.request.headers.get("content-type"))
        outcomes = self.records.update(user, call.path_params["object_name"], records, origin=origin,
                                       id_param=_id_param(call))
        return self._bulk_answer(call, outcomes)

    def delete(self, call: Call) -> dict[str, Any] | Response:
        user = call.require_user()
        records, origin = read_records(call.body, call.request.headers.get("content-type"))
        outcomes = self.records.delete(user, call.path_params["object_name"], records, id_param=_id_param(call),
                                       origin=origin)
        return self._bulk_answer(call, outcomes, deleting=True)

    def _bulk_answer(self, call: Call, outcomes: Sequence[Outcome], *, deleting: bool = False
                     ) -> dict[str, Any] | Response:
        object_name = call.path_params["object_name"]
        if wants_csv(call.request.headers.get("accept")):
            rows = [
                [o.status, o.id or "", o.id_param_value or "", o.event or "",
                 f"{o.error.type}|{o.error.message}" if o.error else ""]
                for o in outcomes
            ]
            return Response(write_csv(["responseStatus", "id", "id_param_value", "event", "errors"], rows),
                            media_type=CSV_MEDIA_TYPE)
        data = []
        for o in outcomes:
            entry: dict[str, Any] = {"responseStatus": o.status}
            if o.error is not None:
                entry["errors"] = [{"type": o.error.type, "message": o.error.message}]
                if o.id_param_value is not None:
                    entry["data"] = {"id_param_value": o.id_param_value}
            else:
                body: dict[str, Any] = {"id": o.id}
                if not deleting:
                    body["url"] = f"{records_url(call.version, object_name)}/{o.id}"
                if o.event and not deleting:
                    body["event"] = o.event
                if o.id_param_value is not None:
                    body["id_param_value"] = o.id_param_value
                entry["data"] = body
                if o.no_change:
                    entry["warnings"] = [{"warning_type": "NO_DATA_CHANGES",
                                          "message": "No changes in values - record not updated"}]
            data.append(entry)
        status = "WARNING" if any(o.no_change for o in outcomes) else "SUCCESS"
        return {"responseStatus": status, "data": data}

    # -- Deep Copy and Cascade Delete ---------------------------------------------------------------

    def start_deep_copy(self, call: Call) -> dict[str, Any]:
        user = call.require_user()
        catalog = self.catalogs.current()
        definition = Records.definition(catalog, call.path_params["object_name"])
        root = self.records.get(catalog, definition, call.path_params["record_id"])
        overrides_raw, origin = _overrides(call)
        overrides = self.records.checked_values(catalog, definition, overrides_raw, origin=origin, creating=False)
        try:
            tree = copy_tree(self.s.store, catalog, root.object, root.id, MAX_RELATED_RECORDS)
        except TreeTooLarge as exc:
            raise errors.OperationNotAllowed(str(exc)) from exc
        self.records.require_writable(user, [o for o in catalog.objects if o.name in {n.object for n in tree.nodes}])
        job = self.jobs.enqueue(user, JobRequest(
            processor=deep_copy.PROCESSOR,
            parameters={"object": definition.name, "record_id": root.id,
                        "overrides": {k: encode(v) for k, v in overrides.items()}},
            title=f"Deep copy of {definition.name} {root.id}",
        ))
        return {"job_id": job.id, "url": f"/api/{call.version}/services/jobs/{job.id}"}

    def start_cascade_delete(self, call: Call) -> dict[str, Any]:
        user = call.require_user()
        catalog = self.catalogs.current()
        definition = Records.definition(catalog, call.path_params["object_name"])
        root = self.records.get(catalog, definition, call.path_params["record_id"])
        try:
            tree = cascade_tree(self.s.store, catalog, root.object, root.id, MAX_RELATED_RECORDS)
        except TreeTooLarge as exc:
            raise errors.OperationNotAllowed(str(exc)) from exc
        self.records.require_writable(user, [o for o in catalog.objects if o.name in {n.object for n in tree.nodes}])
        job = self.jobs.enqueue(user, JobRequest(
            processor=cascade_delete.PROCESSOR,
            parameters={"object": definition.name, "record_id": root.id},
            title=f"Cascade delete of {definition.name} {root.id}",
        ))
        return {"job_id": job.id, "url": f"/api/{call.version}/services/jobs/{job.id}"}

    def start_create_edl(self, call: Call) -> Response:
        """Create EDL: the body is ignored, the answer is JSON whatever ``Accept`` asks and its ``url``
        is absolute — Vault's documented quirks."""
        user = call.require_user()
        catalog = self.catalogs.current()
        definition = Records.definition(catalog, "study__v")
        study = self.records.get(catalog, definition, call.path_params["record_id"])
        raw = (call.query.get("applyWhereEdlItemsExist") or "false").lower()
        if raw not in ("true", "false"):
            raise errors.InvalidData("Invalid value for [applyWhereEdlItemsExist]: true or false")
        if not study.values.get("template_edl__v"):
            raise errors.OperationNotAllowed(f"Study [{study.id}] has no template EDL (template_edl__v)")
        self.records.require_writable(user, [o for o in catalog.objects if o.name in (create_edl.EDL, create_edl.ITEM)])
        job = self.jobs.enqueue(user, JobRequest(
            processor=create_edl.PROCESSOR,
            parameters={"study": study.id, "apply_where_items_exist": raw == "true"},
            title=f"Create EDL for study {study.id}",
        ))
        base = str(call.request.base_url).rstrip("/")
        body = {"responseStatus": "SUCCESS", "url": f"{base}/api/{call.version}/services/jobs/{job.id}",
                "job_id": job.id}
        return Response(orjson.dumps(body), media_type="application/json")

    def deep_copy_results(self, call: Call) -> Response | dict[str, Any]:
        return self._results(call, deep_copy.PROCESSOR, deep_copy.results_csv, deep_copy.render_csv)

    def cascade_delete_results(self, call: Call) -> Response | dict[str, Any]:
        return self._results(call, cascade_delete.PROCESSOR, cascade_delete.results_csv, cascade_delete.render_csv)

    def _results(self, call: Call, processor: str, table: ResultTable, render: Callable[[list[str], list[list[str]]],
                 bytes]) -> Response | dict[str, Any]:
        """A finished object job's success or failure file: CSV (Vault's only format), or JSON rows
        for an explicit ``Accept: application/json`` [U]."""
        user = call.require_user()
        outcome = call.path_params["job_status"]
        if outcome not in ("success", "failure"):
            raise errors.InvalidData(f"Invalid value for [job_status]: [{outcome[:40]}] is not success or failure")
        job_id = parse_id(call.path_params["job_id"])
        job = require_access(user, job_id, self.s.store.jobs.get_job(job_id))
        if job.processor != processor or job.parameters.get("object") != call.path_params["object_name"]:
            raise errors.InvalidData(f"Job [{job_id}] is not a {processor.replace('_', ' ')} job of object "
                                     f"[{call.path_params['object_name'][:100]}]")
        if job.status in ACTIVE:
            raise errors.OperationNotAllowed(f"Job [{job_id}] is still active")
        header, rows = table(outcome, self.s.store.objects.results(job_id, outcome))
        accept = (call.request.headers.get("accept") or "").lower()
        if "application/json" in accept and "text/csv" not in accept:
            return {"data": [dict(zip(header, row, strict=True)) for row in rows]}
        return Response(render(header, rows), media_type=CSV_MEDIA_TYPE)


def _record_json(record: Record) -> dict[str, Any]:
    return {name: to_json_value(value) for name, value in record.values.items()}


def _fields(raw: str | None, object_name: str, known: list[str]) -> list[str]:
    if not raw:
        return list(DEFAULT_FIELDS)
    fields = [f.strip() for f in raw.split(",") if f.strip()]
    for f in fields:
        if f not in known:
            raise errors.InvalidData(f"Field [{f[:100]}] does not exist on object [{object_name}]")
    return fields or list(DEFAULT_FIELDS)


def _sort(raw: str | None, definition: ObjectDefinition) -> tuple[str | FieldSort, bool]:
    """``sort=field [asc|desc]`` on any field of the object: a standard column, or the field's value
    (Numbers by value), sorted by the database."""
    if not raw:
        return "id", False
    parts = raw.split()
    found = definition.field(parts[0]) if len(parts) in (1, 2) else None
    if found is None or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
        raise errors.InvalidData(
            f"Invalid value for [sort]: [{raw[:100]}]; sort by a field of [{definition.name}], optionally asc or desc"
        )
    descending = len(parts) == 2 and parts[1].lower() == "desc"
    column = SORT_COLUMNS.get(found.name)
    return column or FieldSort(found.name, numeric=found.type is FieldType.NUMBER), descending


def _id_param(call: Call) -> str | None:
    value = call.query.get("idParam")
    return value or None


def _overrides(call: Call) -> tuple[dict[str, Any], Origin]:
    """Deep copy's body: nothing, ``{}``, ``{…}``, ``[]``, ``[{…}]`` or one CSV line [U]."""
    body = call.body.strip()
    content_type = call.request.headers.get("content-type")
    if not body or body == b"[]":
        return {}, "json"
    if is_csv(content_type):
        rows = read_csv(body)
        if len(rows) != 1:
            raise errors.InvalidData(f"The CSV body must hold exactly one data line, not {len(rows)}")
        return rows[0], "csv"
    rows, origin = read_records(body, content_type)
    if len(rows) > 1:
        raise errors.InvalidData(f"The body must hold exactly one record of overrides, not {len(rows)}")
    return rows[0], origin


def object_routes(route: RouteFactory, v: str, services: Services) -> list[Route]:
    """Routes made with the application's ``route``: ``v`` is ``/api/{version:api_version}``."""
    r = ObjectRoutes(services)
    o = f"{v}/vobjects"
    table: list[tuple[str, str, Any, str | None]] = [
        (f"{v}/metadata/vobjects", "GET", r.object_collection, None),
        (f"{v}/metadata/vobjects/{{object_name}}", "GET", r.object_metadata, None),
        (f"{v}/metadata/vobjects/{{object_name}}/fields/{{field_name}}", "GET", r.field_metadata, None),
        ("/api/mdl/execute", "POST", r.execute_mdl, "raw"),
        ("/api/mdl/execute_async", "POST", r.execute_mdl_async, "raw"),
        ("/api/mdl/execute_async/{job_id}/results", "GET", r.mdl_async_results, None),
        (f"{o}/deepcopy/results/{{object_name}}/{{job_status}}/{{job_id}}", "GET", r.deep_copy_results, None),
        (f"{o}/cascadedelete/results/{{object_name}}/{{job_status}}/{{job_id}}", "GET", r.cascade_delete_results,
         None),
        (f"{o}/study__v/{{record_id}}/actions/etmfcreateedl", "POST", r.start_create_edl, "raw"),
        (f"{o}/{{object_name}}/{{record_id}}/actions/deepcopy", "POST", r.start_deep_copy, "raw"),
        (f"{o}/{{object_name}}/{{record_id}}/actions/cascadedelete", "POST", r.start_cascade_delete, "raw"),
        (o + "/{object_name}", "GET", r.collection, None),
        (o + "/{object_name}", "POST", r.create, "raw"),
        (o + "/{object_name}", "PUT", r.update, "raw"),
        (o + "/{object_name}", "DELETE", r.delete, "raw"),
        (o + "/{object_name}/{record_id}", "GET", r.record, None),
        (f"{v}/objects/deletions/vobjects/{{object_name}}", "GET", r.deletions, None),
    ]
    return [route(path, method, handler, body=body) for path, method, handler, body in table]
