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

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vaultjobs import errors
from vaultjobs.api.routes import result_links
from vaultjobs.jobtypes.objects.context import JobRefused, plan_spans, records_of, span_of
from vaultjobs.jobtypes.objects.records import COLUMN_FIELDS, OBJECT_TYPE, Records, decode, unique_key, write_of
from vaultjobs.jobtypes.objects.tables import error_cell, write_csv
from vaultjobs.jobtypes.objects.trees import TreeTooLarge, copy_tree
from vaultjobs.models import Job
from vaultjobs.objects import Catalog, ObjectDefinition
from vaultjobs.objects.values import StoredValue, format_record_id, missing_record, missing_required, unique_clash
from vaultjobs.sdk import JobContext, JobResult, Task, processor
from vaultjobs.store.objects import CopySource, CopySpec, PlanRow, RecordConflict, RecordWrite, ResultBatch

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


@processor(PROCESSOR, chunk_size=1, idempotent=True, timeout="4h", admin_cancellable=True)
class DeepCopyObjectRecord:
    """Deep Copy Object Record: copies a record and its descendants along child relationships."""

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        records = records_of(ctx)
        store = records.store
        p = ctx.parameters
        size = store.objects.plan_size(ctx.job_id)
        if size:
            ctx.log(f"plan of {size} records found from an earlier run; resuming it")
            return plan_spans(ctx, size)
        catalog = records.catalogs.current()
        try:
            tree = copy_tree(store, catalog, p["object"], p["record_id"], MAX_RELATED_RECORDS).nodes
        except TreeTooLarge as exc:
            raise JobRefused(str(exc)) from exc
        prefixes: dict[str, str] = {}
        for object_name in {node.object for node in tree}:
            definition = catalog.object(object_name)
            if definition is None:
                raise JobRefused(f"Object [{object_name}] no longer exists")
            prefixes[object_name] = definition.prefix
        counts = Counter(prefixes[node.object] for node in tree)
        numbers = {prefix: iter(got) for prefix, got in store.objects.next_ids_of(counts).items()}
        plan = [PlanRow(n=node.n, object=node.object, source_id=node.id,
                        target_id=format_record_id(prefixes[node.object], next(numbers[prefixes[node.object]])),
                        parent_n=node.parent_n) for node in tree]
        if store.objects.plan_save(ctx.job_id, plan):
            ctx.log(f"deep copy of {p['object']} {p['record_id']} planned: {len(plan)} records "
                    f"({len(plan) - 1} related), requested by user {ctx.created_by}")
        return plan_spans(ctx, store.objects.plan_size(ctx.job_id))

    def process(self, ctx: JobContext, task: Task) -> None:
        if ctx.cancelled:
            return
        records = records_of(ctx)
        store = records.store
        catalog = records.catalogs.current()
        first, last = span_of(task)
        plan = store.objects.plan(ctx.job_id, first, last)
        now = records.clock.now()
        problems: dict[int, list[errors.VaultError]] = {}
        shapes: dict[str, _Shape] = {}
        for name in dict.fromkeys(row.object for row in plan):
            definition = catalog.object(name)
            if definition is None:
                for row in plan:
                    if row.object == name:
                        problems[row.n] = [missing_record(row.source_id)]
                continue
            shape = shapes[name] = _Shape.of(definition)
            for suspect in store.objects.copy_suspects(ctx.job_id, first, last, shape.spec,
                                                       every=shape.always_fails):
                problems.setdefault(suspect.n, []).extend(shape.problems(suspect))
        by_source = {row.source_id: row for row in plan}
        for source_id, held in store.objects.source_uniques(ctx.job_id, first, last).items():
            row = by_source[source_id]
            holder = shapes.get(row.object)
            clashes = [unique_clash(field, value) for field, value in held if holder and field in holder.unique]
            if clashes and row.n > 0:
                problems.setdefault(row.n, []).extend(clashes)
        failures = [(row.n, _failure(row, problems[row.n])) for row in plan if problems.get(row.n)]
        if first == 0 and plan and plan[0].n == 0 and not problems.get(0) and plan[0].object in shapes:
            failures = self._copy_root(ctx, records, catalog, shapes[plan[0].object], plan[0], now) + failures
        if ctx.cancelled:
            return
        failed = {n for n, _ in failures}
        successes = [{"line": row.n + 1, "object": row.object, "source": row.source_id, "id": row.target_id}
                     for row in plan if row.n not in failed]
        store.objects.copy_span(ctx.job_id, first, last, [shape.spec for shape in shapes.values()],
                                skip=sorted(failed), by=ctx.created_by, now=now,
                                results=ResultBatch(job_id=ctx.job_id, outcome="success", n=first, rows=successes))
        store.objects.results_put(ctx.job_id, "failure", failures)
        task.set_value("copied", len(successes))
        if failures:
            task.fail(f"{len(failures)} of {len(plan)} records could not be copied: "
                      + "; ".join(f"{r['source']}: {r['errors'][0][1]}" for _, r in failures)[:2000])

    def _copy_root(
        self, ctx: JobContext, records: Records, catalog: Catalog, shape: _Shape, row: PlanRow, now: datetime
    ) -> list[tuple[int, dict[str, Any]]]:
        """Copy the root on its own, checked field by field: it alone takes the request's overrides,
        so its unique values may be new ones and must be looked up. Its failures."""
        definition = catalog.object(row.object)
        loaded = records.load(catalog, [row.source_id]).get(row.source_id)
        if definition is None or loaded is None or loaded.object != row.object:
            return [(0, _failure(row, [missing_record(row.source_id)]))]
        problems, write = self._root_copy(ctx, records, definition, shape, loaded.values, row, now)
        if problems or write is None:
            return [(0, _failure(row, problems))]
        return self._insert(records, [(row, write)])

    def _root_copy(
        self, ctx: JobContext, records: Records, definition: ObjectDefinition, shape: _Shape,
        source: dict[str, StoredValue], row: PlanRow, now: datetime,
    ) -> tuple[list[errors.VaultError], RecordWrite | None]:
        values: dict[str, StoredValue] = {name: source.get(name) for name in shape.copied}
        values.update(shape.spec.fixed)
        for name, raw in dict(ctx.parameters.get("overrides") or {}).items():
            f = definition.field(name)
            if f is not None:
                values[name] = decode(f, raw)
        problems: list[errors.VaultError] = [missing_required(name) for name in shape.required
                                             if values.get(name) is None]
        for f in definition.fields:
            value = values.get(f.name)
            if f.unique and value is not None:
                key = unique_key(value)
                holder = records.store.objects.ids_by_unique(definition.name, f.name, [key]).get(key)
                if holder is not None and holder != row.target_id:
                    problems.append(unique_clash(f.name, key))
        if problems:
            return problems, None
        return [], write_of(definition, row.target_id or "", values, created_by=ctx.created_by, created_at=now,
                            modified_by=ctx.created_by, modified_at=now)

    def _insert(
        self, records: Records, writes: list[tuple[PlanRow, RecordWrite]]
    ) -> list[tuple[int, dict[str, Any]]]:
        """Insert copies that hold unique values (those that exist already are kept); the failures of
        a clash that a concurrent writer caused, found by writing one by one."""
        if not writes:
            return []
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
            ctx.log(f"deep copy finished: {store.objects.plan_size(ctx.job_id)} records copied; the new root is "
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
    """What a copy of a record of one object takes, worked out once per object and task. Copies
    below the root are made in SQL from the sources' stored values (:class:`CopySpec`); only the
    records that cannot be copied are read here, to say why."""

    #: The fields copied from the source.
    copied: tuple[str, ...]
    #: The parent field that points at the parent's copy.
    parent: str | None
    #: Fields that must hold a value.
    required: tuple[str, ...]
    #: Unique fields copied: a copied value always clashes with its source's.
    unique: frozenset[str]
    spec: CopySpec

    @classmethod
    def of(cls, definition: ObjectDefinition) -> _Shape:
        parents = definition.parent_fields
        parent = parents[0].name if parents else None
        stored = [f for f in definition.fields if f.name not in COLUMN_FIELDS]
        copied = tuple(f.name for f in stored if not f.no_copy and not f.system_managed)
        fixed = [("object_type__v", OBJECT_TYPE)] if any(f.name == "object_type__v" for f in stored) else []
        required = tuple(f.name for f in stored if f.required)
        return cls(
            copied=copied,
            parent=parent,
            required=required,
            unique=frozenset(f.name for f in stored if f.unique and f.name in copied),
            spec=CopySpec(
                object=definition.name,
                cleared=[f.name for f in stored if f.name not in copied and f.name not in (parent, "object_type__v")],
                fixed=fixed,
                parent=parent,
                required=[name for name in required if name in copied and name != parent],
            ),
        )

    @property
    def always_fails(self) -> bool:
        """Whether a required field is never copied: then no record below the root can be."""
        return any(name in self.spec.cleared for name in self.required)

    def problems(self, source: CopySource) -> list[errors.VaultError]:
        """Why the copy of a record below the root cannot be made (unique values aside)."""
        if source.data is None or source.source_object != source.object:
            return [missing_record(source.source_id)]
        data: dict[str, Any] = {name: source.data.get(name) for name in self.copied}
        data.update(self.spec.fixed)
        if self.parent is not None and source.parent_target_id is not None:
            data[self.parent] = source.parent_target_id
        return [missing_required(name) for name in self.required if data.get(name) is None]


def _failure(row: PlanRow, problems: list[errors.VaultError]) -> dict[str, Any]:
    return {"line": row.n + 1, "object": row.object, "source": row.source_id,
            "errors": [[p.type, p.message] for p in problems]}
