"""Vault's Create EDL (Clinical Operations): a study's Expected Document List made from its template.

Choices where Vault is silent [U]: the study's ``template_edl__v`` names an ``edl__v`` record (a
template, ``template__v = true``); the job gives the study one EDL of its own (``edl__v`` with
``study__v`` set, named after the study) holding a copy of each of the template's ``edl_item__v``
records. With ``applyWhereEdlItemsExist=false`` (the default) a study whose EDL has items already
gets nothing more; with ``true`` the template is applied to it too: each template item whose name
the study's EDL lacks is added. Level-specific templates (country, site) are not modelled.

Idempotent like deep copy: ``init`` fixes the ids of everything it will create in the job's plan, and
the task inserts under those ids, skipping those that exist.
"""

from __future__ import annotations

from typing import Any

from vaultjobs.jobtypes.objects.context import JobRefused, records_of
from vaultjobs.jobtypes.objects.records import OBJECT_TYPE, Record, Records, write_of
from vaultjobs.objects.values import StoredValue, format_record_id
from vaultjobs.sdk import JobContext, Task, processor
from vaultjobs.store.objects import PlanRow

PROCESSOR = "create_edl"
EDL = "edl__v"
ITEM = "edl_item__v"
#: Fields of a template item copied to the study's item.
ITEM_FIELDS = ("name__v", "document_type__v", "expected_steady_state_count__v", "required__v")


def study_edls(records: Records, study_id: str) -> list[Record]:
    """The study's own (non-template) EDLs, oldest first."""
    catalog = records.catalogs.current()
    referrers = records.store.objects.referrers([study_id])
    ids = [r.record_id for r in referrers if r.object == EDL and r.field == "study__v"]
    found = records.load(catalog, ids)
    return [found[i] for i in sorted(found) if not found[i].values.get("template__v")]


def items_of(records: Records, edl_id: str) -> list[Record]:
    catalog = records.catalogs.current()
    ids = [r.record_id for r in records.store.objects.referrers([edl_id]) if r.object == ITEM and r.field == "edl__v"]
    found = records.load(catalog, ids)
    return [found[i] for i in sorted(found)]


@processor(PROCESSOR, chunk_size=500, idempotent=True, timeout="1h", admin_cancellable=True)
class CreateEdl:
    """Create EDL: gives a study the Expected Document List of its template."""

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        records = records_of(ctx)
        store = records.store
        if not store.objects.plan(ctx.job_id):
            store.objects.plan_save(ctx.job_id, self._plan(ctx, records))
        plan = store.objects.plan(ctx.job_id)
        ctx.log(f"Create EDL for study {ctx.parameters['study']}: {len(plan)} records to create")
        return [{"n": row.n} for row in plan]

    def _plan(self, ctx: JobContext, records: Records) -> list[PlanRow]:
        catalog = records.catalogs.current()
        study = records.load(catalog, [ctx.parameters["study"]]).get(ctx.parameters["study"])
        if study is None:
            raise JobRefused(f"Study [{ctx.parameters['study']}] no longer exists")
        template = study.values.get("template_edl__v")
        if not template:
            raise JobRefused(f"Study [{study.id}] has no template EDL")
        template_items = items_of(records, str(template))
        own = study_edls(records, study.id)
        edl_prefix = Records.definition(catalog, EDL).prefix
        item_prefix = Records.definition(catalog, ITEM).prefix
        plan: list[PlanRow] = []
        if own:
            existing = items_of(records, own[0].id)
            if existing and not ctx.parameters.get("apply_where_items_exist"):
                ctx.log(f"study {study.id} has an EDL with {len(existing)} items already; nothing added")
                return []
            names = {e.values.get("name__v") for e in existing}
            wanted = [t for t in template_items if t.values.get("name__v") not in names]
        else:
            edl_id = format_record_id(edl_prefix, records.store.objects.next_ids(edl_prefix, 1)[0])
            plan.append(PlanRow(n=0, object=EDL, source_id=str(template), target_id=edl_id))
            wanted = template_items
        numbers = records.store.objects.next_ids(item_prefix, len(wanted))
        for k, (item, number) in enumerate(zip(wanted, numbers, strict=True), start=len(plan)):
            plan.append(PlanRow(n=k, object=ITEM, source_id=item.id, target_id=format_record_id(item_prefix, number),
                                parent_n=None))
        return plan

    def process(self, ctx: JobContext, task: Task) -> None:
        records = records_of(ctx)
        store = records.store
        catalog = records.catalogs.current()
        ns = [int(item["n"]) for item in task.items]
        plan = store.objects.plan(ctx.job_id, min(ns), max(ns))
        study = records.load(catalog, [ctx.parameters["study"]]).get(ctx.parameters["study"])
        # The items' EDL: the one the plan creates (its row 0), else the study's own, found again.
        first = store.objects.plan(ctx.job_id, 0, 0)
        if first and first[0].object == EDL:
            edl_id = first[0].target_id
        else:
            own = study_edls(records, ctx.parameters["study"])
            if not own:
                task.fail(f"study [{ctx.parameters['study']}] has no EDL any more")
                return
            edl_id = own[0].id
        sources = records.load(catalog, [r.source_id for r in plan])
        now = records.clock.now()
        writes = []
        for row in plan:
            definition = catalog.object(row.object)
            source = sources.get(row.source_id)
            if definition is None or source is None or row.target_id is None:
                task.fail(f"template record [{row.source_id}] is gone")
                return
            values: dict[str, StoredValue]
            if row.object == EDL:
                name = study.values.get("name__v") if study else row.target_id
                values = {"name__v": f"{name} EDL", "study__v": ctx.parameters["study"], "template__v": False}
            else:
                values = {f: source.values.get(f) for f in ITEM_FIELDS}
                values["edl__v"] = edl_id
            values["status__v"] = ("active__v",)
            values["object_type__v"] = OBJECT_TYPE
            writes.append(write_of(definition, row.target_id, values, created_by=ctx.created_by, created_at=now,
                                   modified_by=ctx.created_by, modified_at=now))
        created = store.objects.insert(writes, skip_existing=True)
        task.set_value("created", len(created))

    def complete(self, ctx: JobContext, result: Any) -> None:
        store = records_of(ctx).store
        ctx.log(f"Create EDL finished: {len(store.objects.plan(ctx.job_id))} records created for study "
                f"{ctx.parameters['study']}")
