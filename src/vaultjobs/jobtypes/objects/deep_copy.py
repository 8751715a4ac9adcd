"""Vault's Deep Copy Object Record job: the root record and every descendant along child
relationships copied, each copy pointing at its parent's copy.

Idempotent by construction. ``init`` walks the tree once and stores the job's plan: every source
record with the id its copy will have, allocated there and then (``object_job_plans``, keyed by the
job id). A re-run of ``init`` (its worker died) finds the plan and keeps it; a task run again inserts
its copies under the same fixed ids, and an id that exists already is left alone, so a killed worker
can never make a second tree. Tasks may run in any order: a child knows its parent's copy id from the
plan, whether or not that copy is written yet.

All or none: a record that cannot be copied (a required field left empty by ``no_copy``, a unique
value that would clash — copied unique values always clash with their source unless overridden or
``no_copy``) fails its task; ``complete`` then deletes every copy the job made, so the job ends
ERRORS_ENCOUNTERED with nothing created, and the failure file names each record that could not be
copied and why. On success the success file names every copy. [U: Vault documents no success file
columns; vaultjobs writes ``line number,vobject,sourceRecordId,id``, line 1 being the root.]

Copied: every field except ``no_copy`` fields and system fields; the root takes the overrides of the
request (an empty string clears a field). References to other records are copied as they are.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from vaultjobs import errors
from vaultjobs.api.routes import result_links
from vaultjobs.jobtypes.objects.context import JobRefused, chunk_size_for, records_of
from vaultjobs.jobtypes.objects.records import COLUMN_FIELDS, OBJECT_TYPE, Records, decode, unique_key, write_of
from vaultjobs.jobtypes.objects.tables import error_cell, write_csv
from vaultjobs.jobtypes.objects.trees import TreeTooLarge, copy_tree
from vaultjobs.models import Job
from vaultjobs.objects import Catalog, ObjectDefinition
from vaultjobs.objects.values import StoredValue, format_record_id, missing_record, missing_required, unique_clash
from vaultjobs.sdk import JobContext, JobResult, Task, processor
from vaultjobs.store.objects import PlanRow, RecordConflict, RecordWrite

PROCESSOR = "deep_copy_object_record"
MAX_RELATED_RECORDS = 10_000
SUCCESS_HEADER = ["line number", "vobject", "sourceRecordId", "id"]
FAILURE_HEADER = ["line number", "vobject", "sourceRecordId", "errors"]


def _links(job: Job, version: str) -> list[dict[str, str]]:
    outcome = "success" if job.status.value == "SUCCESS" else "failure"
    return [result_links.link(
        "artifacts",
        f"/api/{version}/vobjects/deepcopy/results/{job.parameters.get('object')}/{outcome}/{job.id}",
        "text/csv",
    )]


result_links.register(PROCESSOR, _links)


def results_csv(outcome: str, rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    if outcome == "success":
        return SUCCESS_HEADER, [[str(r["line"]), r["object"], r["source"], r["id"]] for r in rows]
    return FAILURE_HEADER, [[str(r["line"]), r["object"], r["source"], error_cell(r["errors"])] for r in rows]


def render_csv(header: list[str], rows: list[list[str]]) -> bytes:
    return write_csv(header, rows)


@processor(PROCESSOR, chunk_size=100, idempotent=True, timeout="4h", admin_cancellable=True)
class DeepCopyObjectRecord:
    """Deep Copy Object Record: copies a record and its descendants along child relationships."""

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        records = records_of(ctx)
        store = records.store
        p = ctx.parameters
        plan = store.objects.plan(ctx.job_id)
        if plan:
            ctx.log(f"plan of {len(plan)} records found from an earlier run; resuming it")
        else:
            catalog = records.catalogs.current()
            try:
                tree = copy_tree(store, catalog, p["object"], p["record_id"], MAX_RELATED_RECORDS)
            except TreeTooLarge as exc:
                raise JobRefused(str(exc)) from exc
            by_object: dict[str, list[int]] = defaultdict(list)
            for node in tree:
                by_object[node.object].append(node.n)
            target: dict[int, str] = {}
            for object_name, ns in by_object.items():
                definition = catalog.object(object_name)
                if definition is None:
                    raise JobRefused(f"Object [{object_name}] no longer exists")
                for n, number in zip(ns, store.objects.next_ids(definition.prefix, len(ns)), strict=True):
                    target[n] = format_record_id(definition.prefix, number)
            plan = [PlanRow(n=node.n, object=node.object, source_id=node.id, target_id=target[node.n],
                            parent_n=node.parent_n) for node in tree]
            if not store.objects.plan_save(ctx.job_id, plan):
                plan = store.objects.plan(ctx.job_id)
            ctx.log(f"deep copy of {p['object']} {p['record_id']} planned: {len(plan)} records "
                    f"({len(plan) - 1} related), requested by user {ctx.created_by}")
        ctx.chunk_size = chunk_size_for(len(plan))
        return [{"n": row.n} for row in plan]

    def process(self, ctx: JobContext, task: Task) -> None:
        records = records_of(ctx)
        store = records.store
        catalog = records.catalogs.current()
        ns = [int(item["n"]) for item in task.items]
        plan = store.objects.plan(ctx.job_id, min(ns), max(ns))
        parent_ns = [r.parent_n for r in plan if r.parent_n is not None]
        parents = {r.n: r for r in store.objects.plan(ctx.job_id, min(parent_ns), max(parent_ns))} if parent_ns else {}
        sources = records.load(catalog, [r.source_id for r in plan])
        now = records.clock.now()
        writes: list[tuple[PlanRow, RecordWrite]] = []
        failures: list[tuple[int, dict[str, Any]]] = []
        claimed: dict[tuple[str, str], str] = {}
        shapes: dict[str, _Shape] = {}
        for row in plan:
            if ctx.cancelled:
                return
            definition = catalog.object(row.object)
            source = sources.get(row.source_id)
            problems: list[errors.VaultError] = []
            if definition is None or source is None or source.object != row.object:
                problems.append(missing_record(row.source_id))
            else:
                parent = parents.get(row.parent_n) if row.parent_n is not None else None
                shape = shapes.get(definition.name) or shapes.setdefault(definition.name, _Shape.of(definition))
                values = self._copy_values(ctx, definition, shape, source.values, row, parent)
                problems.extend(self._problems(records, definition, values, row, claimed))
                if not problems:
                    assert row.target_id is not None
                    writes.append((row, write_of(definition, row.target_id, values, created_by=ctx.created_by,
                                                 created_at=now, modified_by=ctx.created_by, modified_at=now)))
            if problems:
                failures.append((row.n, _failure(row, problems)))
        failures.extend(self._insert(records, catalog, writes))
        failed = {n for n, _ in failures}
        store.objects.results_put(ctx.job_id, "failure", failures)
        store.objects.results_put(ctx.job_id, "success", [
            (row.n, {"line": row.n + 1, "object": row.object, "source": row.source_id, "id": row.target_id})
            for row, _ in writes if row.n not in failed
        ])
        task.set_value("copied", len(writes) - len(failed))
        if failures:
            task.fail(f"{len(failures)} of {len(plan)} records could not be copied: "
                      + "; ".join(f"{r['source']}: {r['errors'][0][1]}" for _, r in failures)[:2000])

    def _copy_values(
        self, ctx: JobContext, definition: ObjectDefinition, shape: _Shape, source: dict[str, StoredValue],
        row: PlanRow, parent: PlanRow | None,
    ) -> dict[str, StoredValue]:
        values: dict[str, StoredValue] = {name: source.get(name) for name in shape.copied}
        values["object_type__v"] = OBJECT_TYPE
        if row.n == 0:
            for name, raw in dict(ctx.parameters.get("overrides") or {}).items():
                f = definition.field(name)
                if f is not None:
                    values[name] = decode(f, raw)
        if parent is not None and shape.parent is not None:
            values[shape.parent] = parent.target_id
        return values

    def _problems(
        self, records: Records, definition: ObjectDefinition, values: dict[str, StoredValue], row: PlanRow,
        claimed: dict[tuple[str, str], str],
    ) -> list[errors.VaultError]:
        out: list[errors.VaultError] = []
        for f in definition.fields:
            if f.required and f.name not in COLUMN_FIELDS and values.get(f.name) is None:
                out.append(missing_required(f.name))
        for f in definition.fields:
            value = values.get(f.name)
            if not f.unique or value is None:
                continue
            key = unique_key(value)
            holder = records.store.objects.ids_by_unique(definition.name, f.name, [key]).get(key)
            holder = holder or claimed.get((definition.name + "." + f.name, key))
            if holder is not None and holder != row.target_id:
                out.append(unique_clash(f.name, key))
            else:
                claimed[(definition.name + "." + f.name, key)] = row.target_id or ""
        return out

    def _insert(
        self, records: Records, catalog: Catalog, writes: list[tuple[PlanRow, RecordWrite]]
    ) -> list[tuple[int, dict[str, Any]]]:
        """Insert the task's copies (those that exist already are kept); the failures of a clash
        that a concurrent writer caused, found by writing one by one."""
        try:
            records.store.objects.insert([w for _, w in writes], skip_existing=True)
            return []
        except RecordConflict:
            pass
        failures = []
        for row, write in writes:
            try:
                records.store.objects.insert([write], skip_existing=True)
            except RecordConflict:
                field, value = next(((f, v) for f, v in write.uniques
                                     if records.store.objects.ids_by_unique(row.object, f, [v]).get(v)
                                     not in (None, write.row.id)), ("unique field", ""))
                failures.append((row.n, _failure(row, [unique_clash(field, value)])))
        return failures

    def complete(self, ctx: JobContext, result: JobResult) -> None:
        records = records_of(ctx)
        store = records.store
        failures = store.objects.results(ctx.job_id, "failure")
        if result.succeeded and not failures:
            root = store.objects.plan(ctx.job_id, 0, 0)
            copied = len(store.objects.results(ctx.job_id, "success"))
            ctx.log(f"deep copy finished: {copied} records copied; the new root is "
                    f"{root[0].target_id if root else '(none)'}")
            return
        targets = [r.target_id for r in store.objects.plan(ctx.job_id) if r.target_id]
        removed = store.objects.delete(targets, now=records.clock.now())
        store.objects.results_clear(ctx.job_id, "success")
        ctx.log(f"deep copy failed for {len(failures)} records; the {removed} copies made were deleted, "
                "so nothing of the copy remains (see the failure results)")
        if not failures and not result.succeeded:
            ctx.log("tasks failed without a per-record failure: " +
                    "; ".join(f.message for f in result.failures)[:2000])


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a copy of a record of one object takes, worked out once per task rather than per record."""

    #: The fields copied from the source.
    copied: tuple[str, ...]
    #: The parent field that points at the parent's copy.
    parent: str | None

    @classmethod
    def of(cls, definition: ObjectDefinition) -> _Shape:
        parents = definition.parent_fields
        return cls(
            copied=tuple(f.name for f in definition.fields
                         if f.name not in COLUMN_FIELDS and not f.no_copy and not f.system_managed),
            parent=parents[0].name if parents else None,
        )


def _failure(row: PlanRow, problems: list[errors.VaultError]) -> dict[str, Any]:
    return {"line": row.n + 1, "object": row.object, "source": row.source_id,
            "errors": [[p.type, p.message] for p in problems]}
