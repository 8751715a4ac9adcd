"""Vault's Create EDL (Clinical Operations): the Expected Document Lists of a study, its study
countries and its sites, made from the study's template set.

Choices where Vault is silent [U] (see :mod:`vaultjobs.objects.standard`): the study's
``template_edl__v`` names the study-level template (an ``edl__v`` with ``template__v = true``);
templates whose ``parent_template__v`` is that template and whose ``template_level__v`` is
``country__v`` or ``site__v`` are the set's country- and site-level templates. The job gives the
study one EDL of its own (``study__v`` set, named after the study) holding a copy of each study-level
template item; each of the study's countries (``study_country__v`` records of the study) an EDL
(``study__v`` and ``study_country__v`` set) holding the items of every country-level template; and
each site of those countries (``site__v``) an EDL (``study__v``, ``study_country__v`` and ``site__v``
set) holding the items of every site-level template. A level without templates gets no EDLs. With
``applyWhereEdlItemsExist=false`` (the default) an EDL that has items already gets nothing more; with
``true`` each template item whose name it lacks is added.

Idempotent like deep copy: ``init`` fixes the ids of everything it will create in the job's plan (an
EDL that exists is planned under its own id, so that its new items find it and it is not written
again), and the tasks insert under those ids, skipping those that exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vaultjobs.jobtypes.objects.context import JobRefused, records_of
from vaultjobs.jobtypes.objects.records import OBJECT_TYPE, Record, Records, write_of
from vaultjobs.objects import Catalog
from vaultjobs.objects.values import StoredValue, format_record_id
from vaultjobs.sdk import JobContext, Task, processor
from vaultjobs.store.objects import PlanRow

PROCESSOR = "create_edl"
EDL = "edl__v"
ITEM = "edl_item__v"
STUDY = "study__v"
COUNTRY = "study_country__v"
SITE = "site__v"
#: The template level of the EDLs made for the records of each object.
LEVELS = {STUDY: "study__v", COUNTRY: "country__v", SITE: "site__v"}
#: Fields of a template item copied to the study's item.
ITEM_FIELDS = ("name__v", "document_type__v", "expected_steady_state_count__v", "required__v")


def _referrers(records: Records, target: str, object_name: str, field: str) -> list[Record]:
    """The records of ``object_name`` whose ``field`` holds ``target``, by id."""
    ids = [r.record_id for r in records.store.objects.referrers([target])
           if r.object == object_name and r.field == field]
    found = records.load(records.catalogs.current(), ids)
    return [found[i] for i in sorted(found)]


def items_of(records: Records, edl_id: str) -> list[Record]:
    return _referrers(records, edl_id, ITEM, "edl__v")


@dataclass(frozen=True, slots=True)
class _Level:
    """One record that gets an EDL (the study, a country, a site), and the templates of its level."""

    record: Record
    templates: list[Record]

    def fields(self, study_id: str) -> dict[str, StoredValue]:
        """Where its EDL hangs: the study always, and the country and site of a lower level."""
        values: dict[str, StoredValue] = {STUDY: study_id, COUNTRY: None, SITE: None}
        if self.record.object == COUNTRY:
            values[COUNTRY] = self.record.id
        elif self.record.object == SITE:
            values[COUNTRY] = self.record.values.get(COUNTRY)
            values[SITE] = self.record.id
        return values

    def own_edl(self, records: Records, study_id: str) -> Record | None:
        """The EDL it has already (not a template), the oldest if several."""
        field = STUDY if self.record.object == STUDY else self.record.object
        wanted = self.fields(study_id)
        return next((e for e in _referrers(records, self.record.id, EDL, field)
                     if not e.values.get("template__v") and all(e.values.get(k) == v for k, v in wanted.items())),
                    None)


@processor(PROCESSOR, chunk_size=500, idempotent=True, timeout="1h", admin_cancellable=True)
class CreateEdl:
    """Create EDL: gives a study, its countries and its sites the Expected Document Lists of its template set."""

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        records = records_of(ctx)
        store = records.store
        if not store.objects.plan(ctx.job_id):
            store.objects.plan_save(ctx.job_id, self._plan(ctx, records))
        plan = store.objects.plan(ctx.job_id)
        ctx.log(f"Create EDL for study {ctx.parameters['study']}: {len(plan)} records planned "
                f"({sum(1 for r in plan if r.object == ITEM)} expected documents)")
        return [{"n": row.n} for row in plan]

    def _levels(self, records: Records, catalog: Catalog, study: Record, template: str) -> list[_Level]:
        """The study, its countries and their sites, each with its level's templates."""
        level_templates = [t for t in _referrers(records, template, EDL, "parent_template__v")
                           if t.values.get("template__v")]
        study_template = records.load(catalog, [template]).get(template)

        def of_level(level: str) -> list[Record]:
            return [t for t in level_templates if (t.values.get("template_level__v") or ()) == (level,)]

        levels = [_Level(study, [study_template] if study_template else [])]
        countries = _referrers(records, study.id, COUNTRY, STUDY)
        country_templates, site_templates = of_level(LEVELS[COUNTRY]), of_level(LEVELS[SITE])
        if country_templates:
            levels += [_Level(country, country_templates) for country in countries]
        if site_templates:
            levels += [_Level(site, site_templates) for country in countries
                       for site in _referrers(records, country.id, SITE, COUNTRY)]
        return levels

    def _plan(self, ctx: JobContext, records: Records) -> list[PlanRow]:
        catalog = records.catalogs.current()
        study = records.load(catalog, [ctx.parameters["study"]]).get(ctx.parameters["study"])
        if study is None:
            raise JobRefused(f"Study [{ctx.parameters['study']}] no longer exists")
        template = study.values.get("template_edl__v")
        if not template:
            raise JobRefused(f"Study [{study.id}] has no template EDL")
        edls: list[tuple[_Level, str | None, list[Record]]] = []
        for level in self._levels(records, catalog, study, str(template)):
            own = level.own_edl(records, study.id)
            items = [i for t in level.templates for i in items_of(records, t.id)]
            if own is not None:
                existing = items_of(records, own.id)
                if existing and not ctx.parameters.get("apply_where_items_exist"):
                    ctx.log(f"{level.record.object} {level.record.id} has an EDL with {len(existing)} items "
                            "already; nothing added")
                    continue
                names = {e.values.get("name__v") for e in existing}
                items = [i for i in items if i.values.get("name__v") not in names]
                if not items:
                    continue
            edls.append((level, own.id if own else None, items))
        edl_prefix = Records.definition(catalog, EDL).prefix
        item_prefix = Records.definition(catalog, ITEM).prefix
        new_edls = iter(records.store.objects.next_ids(edl_prefix, sum(1 for _, own, _ in edls if own is None)))
        new_items = iter(records.store.objects.next_ids(item_prefix, sum(len(items) for _, _, items in edls)))
        plan: list[PlanRow] = []
        for level, own_id, items in edls:
            edl_n = len(plan)
            edl_id = own_id or format_record_id(edl_prefix, next(new_edls))
            plan.append(PlanRow(n=edl_n, object=EDL, source_id=level.record.id, target_id=edl_id))
            plan += [PlanRow(n=len(plan) + k, object=ITEM, source_id=item.id,
                             target_id=format_record_id(item_prefix, next(new_items)), parent_n=edl_n)
                     for k, item in enumerate(items)]
        return plan

    def process(self, ctx: JobContext, task: Task) -> None:
        records = records_of(ctx)
        store = records.store
        catalog = records.catalogs.current()
        ns = [int(item["n"]) for item in task.items]
        plan = store.objects.plan(ctx.job_id, min(ns), max(ns))
        parent_ns = [r.parent_n for r in plan if r.parent_n is not None]
        parents = {r.n: r for r in store.objects.plan(ctx.job_id, min(parent_ns), max(parent_ns))} if parent_ns else {}
        sources = records.load(catalog, [r.source_id for r in plan])
        study_id = str(ctx.parameters["study"])
        now = records.clock.now()
        writes = []
        for row in plan:
            definition = catalog.object(row.object)
            source = sources.get(row.source_id)
            edl = parents.get(row.parent_n) if row.parent_n is not None else None
            if definition is None or source is None or row.target_id is None or (row.object == ITEM and not edl):
                task.fail(f"record [{row.source_id}] is gone")
                return
            values: dict[str, StoredValue]
            if row.object == EDL:
                values = {"name__v": f"{source.values.get('name__v') or source.id} EDL", "template__v": False,
                          **_Level(source, []).fields(study_id)}
            else:
                values = {f: source.values.get(f) for f in ITEM_FIELDS}
                values["edl__v"] = edl.target_id if edl else None
            values["status__v"] = ("active__v",)
            values["object_type__v"] = OBJECT_TYPE
            writes.append(write_of(definition, row.target_id, values, created_by=ctx.created_by, created_at=now,
                                   modified_by=ctx.created_by, modified_at=now))
        created = store.objects.insert(writes, skip_existing=True)
        task.set_value("created", len(created))

    def complete(self, ctx: JobContext, result: Any) -> None:
        plan = records_of(ctx).store.objects.plan(ctx.job_id)
        ctx.log(f"Create EDL finished for study {ctx.parameters['study']}: "
                f"{sum(1 for r in plan if r.object == EDL)} EDLs and {sum(1 for r in plan if r.object == ITEM)} "
                "expected documents")
