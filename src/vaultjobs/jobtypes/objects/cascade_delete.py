"""Vault's Cascade Delete Object Record job: the record and every descendant deleted, references to
them handled by their ``relationship_deletion``.

``init`` walks the tree once (children along every parent field, and records pointing in through a
``cascade`` reference) and stores it as the job's plan, root first. It then looks for ``block``
references from records outside the tree: when one stands, the job is refused before anything is
deleted (ERRORS_ENCOUNTERED, the failure file names each blocked record and who blocks it). Tasks
delete their records with the ``setnull`` referrers outside the tree cleared in the same transaction;
deleting what is already gone does nothing, so a task run again after its worker died is harmless.
A ``block`` reference made while the job runs fails just the records it points at, which stay.

Result files: success ``Source Object, Record Id`` with a space after each comma, root first, as
Vault documents; failure ``Source Object, Record Id, Errors`` [U], the errors cell as deep copy's.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from vaultjobs import errors
from vaultjobs.api.routes import result_links
from vaultjobs.jobtypes.objects.context import JobRefused, plan_spans, records_of, span_of
from vaultjobs.jobtypes.objects.records import Record, Records, creation_of, write_of
from vaultjobs.jobtypes.objects.tables import error_cell
from vaultjobs.jobtypes.objects.trees import TreeTooLarge, cascade_tree
from vaultjobs.models import Job
from vaultjobs.objects import Catalog, RelationshipDeletion
from vaultjobs.sdk import JobContext, JobResult, Task, processor
from vaultjobs.store.objects import PlanRow, RecordWrite, ResultBatch

PROCESSOR = "cascade_delete_object_record"
MAX_RELATED_RECORDS = 10_000
SUCCESS_HEADER = ["Source Object", "Record Id"]
FAILURE_HEADER = ["Source Object", "Record Id", "Errors"]


def _links(job: Job, version: str) -> list[dict[str, str]]:
    outcome = "success" if job.status.value == "SUCCESS" else "failure"
    return [result_links.link(
        "artifacts",
        f"/api/{version}/vobjects/cascadedelete/results/{job.parameters.get('object')}/{outcome}/{job.id}",
        "text/csv",
    )]


result_links.register(PROCESSOR, _links)


def results_csv(outcome: str, rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    if outcome == "success":
        return SUCCESS_HEADER, [[r["object"], r["id"]] for r in rows]
    return FAILURE_HEADER, [[r["object"], r["id"], error_cell(r["errors"])] for r in rows]


def render_csv(header: list[str], rows: list[list[str]]) -> bytes:
    """Vault's layout: ``, `` between cells; a cell that needs it is quoted as in RFC 4180."""
    def cell(value: str) -> str:
        if any(c in value for c in ',"\r\n'):
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="").writerow([value])
            return buffer.getvalue()
        return value

    return "".join(", ".join(cell(c) for c in line) + "\n" for line in [header, *rows]).encode("utf-8")


def _blocked(record_id: str, referrer: str, source: str, field: str) -> list[str]:
    return [errors.OperationNotAllowed.type,
            f"Record [{record_id}] is referenced by record [{referrer}] of [{source}] through [{field}] (block)"]


@processor(PROCESSOR, chunk_size=1, idempotent=True, timeout="4h", admin_cancellable=True)
class CascadeDeleteObjectRecord:
    """Cascade Delete Object Record: deletes a record and its descendants."""

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        records = records_of(ctx)
        store = records.store
        catalog = records.catalogs.current()
        p = ctx.parameters
        plan = store.objects.plan(ctx.job_id)
        if plan:
            ctx.log(f"plan of {len(plan)} records found from an earlier run; resuming it")
            outside = store.objects.referrers([row.source_id for row in plan])
        else:
            try:
                tree = cascade_tree(store, catalog, p["object"], p["record_id"], MAX_RELATED_RECORDS)
            except TreeTooLarge as exc:
                raise JobRefused(str(exc)) from exc
            plan = [PlanRow(n=node.n, object=node.object, source_id=node.id, parent_n=node.parent_n)
                    for node in tree.nodes]
            outside = tree.outside
            if not store.objects.plan_save(ctx.job_id, plan):
                plan = store.objects.plan(ctx.job_id)
                outside = store.objects.referrers([row.source_id for row in plan])
            ctx.log(f"cascade delete of {p['object']} {p['record_id']} planned: {len(plan)} records, "
                    f"requested by user {ctx.created_by}")
        where = {row.source_id: row for row in plan}
        blocked: dict[int, dict[str, Any]] = {}
        for referrer in outside:
            if referrer.record_id in where or _rule(catalog, referrer.object, referrer.field) is not \
                    RelationshipDeletion.BLOCK:
                continue
            row = where[referrer.target_id]
            entry = blocked.setdefault(row.n, {"object": row.object, "id": row.source_id, "errors": []})
            entry["errors"].append(_blocked(row.source_id, referrer.record_id, referrer.object, referrer.field))
        if blocked:
            store.objects.results_put(ctx.job_id, "failure", sorted(blocked.items()))
            raise JobRefused(f"{len(blocked)} records are referenced through block relationships; nothing was "
                             "deleted (see the failure results)")
        return plan_spans(ctx, len(plan))

    def process(self, ctx: JobContext, task: Task) -> None:
        if ctx.cancelled:
            return
        records = records_of(ctx)
        store = records.store
        catalog = records.catalogs.current()
        first, last = span_of(task)
        plan = store.objects.plan(ctx.job_id, first, last)
        mine = {row.source_id: row for row in plan}
        referrers = [r for r in store.objects.referrers(list(mine)) if r.record_id not in mine]
        if referrers:
            # Children in the plan are the usual referrers: one range query rules them out, the
            # few others are looked up.
            children = store.objects.plan_children(ctx.job_id, first, last)
            others = [r.record_id for r in referrers if r.record_id not in children]
            in_tree = children | store.objects.planned(ctx.job_id, others)
            referrers = [r for r in referrers if r.record_id not in in_tree]
        failures: dict[int, dict[str, Any]] = {}
        cleared: dict[str, Record] = {}
        for referrer in referrers:
            rule = _rule(catalog, referrer.object, referrer.field)
            row = mine[referrer.target_id]
            if rule is RelationshipDeletion.SETNULL:
                record = cleared.get(referrer.record_id) or records.load(catalog, [referrer.record_id]).get(
                    referrer.record_id)
                if record is not None:
                    record.values[referrer.field] = None
                    cleared[referrer.record_id] = record
            elif rule is not None:
                entry = failures.setdefault(row.n, {"object": row.object, "id": row.source_id, "errors": []})
                entry["errors"].append(_blocked(row.source_id, referrer.record_id, referrer.object, referrer.field))
        if ctx.cancelled:
            return
        doomed = [row for row in plan if row.n not in failures]
        now = records.clock.now()
        store.objects.delete([row.source_id for row in doomed],
                             _clearing_writes(records, catalog, cleared, ctx.created_by, now), now=now,
                             results=ResultBatch(job_id=ctx.job_id, outcome="success", n=first,
                                                 rows=[{"object": row.object, "id": row.source_id} for row in doomed]))
        store.objects.results_put(ctx.job_id, "failure", sorted(failures.items()))
        task.set_value("deleted", len(doomed))
        if failures:
            task.fail(f"{len(failures)} of {len(plan)} records were not deleted: referenced through block "
                      "relationships")

    def complete(self, ctx: JobContext, result: JobResult) -> None:
        store = records_of(ctx).store
        failed = len(store.objects.results(ctx.job_id, "failure"))
        # every task ran and none failed: each planned record is deleted, no need to read them all back
        deleted = (store.objects.plan_size(ctx.job_id) if result.tasks_succeeded == result.tasks_total and not failed
                   else len(store.objects.results(ctx.job_id, "success")))
        ctx.log(f"cascade delete finished: {deleted} records deleted, {failed} not deleted")


def _rule(catalog: Catalog, object_name: str, field_name: str) -> RelationshipDeletion | None:
    source = catalog.object(object_name)
    found = source.field(field_name) if source else None
    if found is None:
        return None
    return found.relationship_deletion or RelationshipDeletion.BLOCK


def _clearing_writes(records: Records, catalog: Catalog, cleared: dict[str, Record], by: int,
                     now: datetime) -> list[RecordWrite]:
    out = []
    for record in cleared.values():
        definition = catalog.object(record.object)
        if definition is None:
            continue
        created_by, created_at = creation_of(record)
        out.append(write_of(definition, record.id, record.values, created_by=created_by, created_at=created_at,
                            modified_by=by, modified_at=now))
    return out
