"""Inbound packages as records: the ``vault_package__v`` record with its ``package_step__v`` children
and their ``vault_component__v`` and ``package_data__v`` children, the .vpk kept beside them and the
logs as the record's attachments.

A package is created in one transaction (every record and its Validation.log at once), under the id
the import request allocated, so an import job run twice finds it made and changes nothing. Status
changes are record replacements that the caller commits together with what they describe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from vaultjobs.jobtypes.objects.records import OBJECT_TYPE, Record, Records, creation_of, write_of
from vaultjobs.jobtypes.packages.checks import PackageCheck, StepCheck
from vaultjobs.objects import Catalog
from vaultjobs.objects.values import StoredValue, format_record_id
from vaultjobs.packages import ComponentStep, DataStep
from vaultjobs.store import Store
from vaultjobs.store.object_files import ARCHIVE, ATTACHMENT, NewFile, StoredFile
from vaultjobs.store.objects import RecordWrite

PACKAGE = "vault_package__v"
STEP = "package_step__v"
COMPONENT = "vault_component__v"
DATA = "package_data__v"
ACTIVE = ("active__v",)

#: Where a package's steps stand once deployed: a re-deploy skips them, as Vault does.
DEPLOYED = frozenset({"deployed__v", "deployed_with_warning__v", "deployed_with_failures__v"})


@dataclass(kw_only=True)
class InboundStep:
    record: Record
    components: list[Record] = field(default_factory=list)
    data: list[Record] = field(default_factory=list)

    @property
    def number(self) -> str:
        return str(self.record.values.get("name__v") or "")

    @property
    def status(self) -> str:
        return picklist_value(self.record.values.get("deployment_status__v"))


@dataclass(kw_only=True)
class InboundPackage:
    record: Record
    steps: list[InboundStep]

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def name(self) -> str:
        return str(self.record.values.get("name__v") or "")

    @property
    def status(self) -> str:
        return picklist_value(self.record.values.get("deployment_status__v"))

    def step(self, number: str) -> InboundStep | None:
        return next((s for s in self.steps if s.number == number), None)


def picklist_value(value: StoredValue) -> str:
    return value[0] if isinstance(value, tuple) and value else ""


def _text(value: str, limit: int) -> str | None:
    return value[:limit] if value else None


class InboundPackages:
    """Reading and writing inbound packages over the store."""

    def __init__(self, records: Records) -> None:
        self.records = records
        self.store: Store = records.store

    def allocate_id(self) -> str:
        """The id the next package will have: allocated by the import request, so that the job's
        result link names it before the job has made it."""
        catalog = self.records.catalogs.current()
        prefix = Records.definition(catalog, PACKAGE).prefix
        return format_record_id(prefix, self.store.objects.next_ids(prefix, 1)[0])

    def unused_name(self, name: str) -> str:
        """``name``, or ``name-1``, ``name-2``… when a package has it already (Vault's ``PKG-0004-1``)."""
        taken = set(self.store.objects.ids_by_name(PACKAGE, [name]))
        if not taken:
            return name
        n = 1
        while self.store.objects.ids_by_name(PACKAGE, [f"{name}-{n}"]):
            n += 1
        return f"{name}-{n}"

    def create(self, package_id: str, name: str, check: PackageCheck, *, status: str, validation_log: str,
               by: int, now: datetime) -> None:
        """The package record, its steps, components and data, and its Validation.log, at once."""
        catalog = self.records.catalogs.current()
        manifest = check.package.manifest
        writes = [self._write(catalog, PACKAGE, package_id, {
            "name__v": name, "summary__v": _text(manifest.summary, 255),
            "description__v": _text(manifest.description, 32000), "source_vault__v": _text(manifest.source_vault, 128),
            "author__v": _text(manifest.author, 255), "package_type__v": manifest.package_type,
            "deployment_status__v": (status,),
        }, by, now)]
        step_ids = self._ids(catalog, STEP, len(check.steps))
        components = [s for s in check.steps if isinstance(s.step, ComponentStep)]
        data = [s for s in check.steps if isinstance(s.step, DataStep)]
        component_ids = iter(self._ids(catalog, COMPONENT, len(components)))
        data_ids = iter(self._ids(catalog, DATA, len(data)))
        for step_check, step_id in zip(check.steps, step_ids, strict=True):
            writes.append(self._write(catalog, STEP, step_id, self._step_values(package_id, step_check), by, now))
            step = step_check.step
            if isinstance(step, ComponentStep):
                writes.append(self._write(catalog, COMPONENT, next(component_ids), {
                    "name__v": step.component[:128], "package_step__v": step_id,
                    "component_name__v": step.component_name, "component_type__v": step.component_type,
                    "checksum__v": step.checksum, "deployment_status__v": (step_check.status,),
                }, by, now))
            else:
                writes.append(self._write(catalog, DATA, next(data_ids), {
                    "name__v": step.label[:128], "package_step__v": step_id, "object__v": step.object_name,
                    "data_type__v": step.data_type, "data_action__v": step.action,
                    "record_migration_mode__sys": step.record_migration_mode,
                    "record_count__sys": str(step.record_count), "checksum__v": step.checksum,
                }, by, now))
        log = NewFile(record_id=package_id, kind=ATTACHMENT, filename=f"{name}-Validation.log",
                      body=validation_log.encode("utf-8"))
        self.store.object_files.commit(inserts=writes, files=[log], by=by, now=now)

    @staticmethod
    def _step_values(package_id: str, check: StepCheck) -> dict[str, StoredValue]:
        return {
            "name__v": check.step.number, "vault_package__v": package_id, "step_type__v": check.step.step_type,
            "step_name__v": check.name[:255], "step_label__v": check.label[:255], "type__v": check.type,
            "deployment_status__v": (check.status,), "deployment_action__v": check.action[:64],
            "deployment_message__v": _text(check.message, 32000),
        }

    def _ids(self, catalog: Catalog, object_name: str, count: int) -> list[str]:
        prefix = Records.definition(catalog, object_name).prefix
        return [format_record_id(prefix, n) for n in self.store.objects.next_ids(prefix, count)]

    @staticmethod
    def _write(catalog: Catalog, object_name: str, record_id: str, values: Mapping[str, StoredValue], by: int,
               now: datetime) -> RecordWrite:
        full: dict[str, StoredValue] = {"status__v": ACTIVE, "object_type__v": OBJECT_TYPE, **values}
        return write_of(Records.definition(catalog, object_name), record_id, full, created_by=by, created_at=now,
                        modified_by=by, modified_at=now)

    def changed(self, record: Record, changes: Mapping[str, StoredValue], by: int, now: datetime) -> RecordWrite:
        """The replacement of ``record`` with ``changes`` applied, for the caller to commit."""
        catalog = self.records.catalogs.current()
        created_by, created_at = creation_of(record)
        values = {**record.values, **changes}
        return write_of(Records.definition(catalog, record.object), record.id, values, created_by=created_by,
                        created_at=created_at, modified_by=by, modified_at=now)

    def load(self, package_id: str) -> InboundPackage | None:
        catalog = self.records.catalogs.current()
        found = self.records.load(catalog, [package_id]).get(package_id)
        if found is None or found.object != PACKAGE:
            return None
        step_ids = [r.record_id for r in self.store.objects.referrers([package_id]) if r.object == STEP]
        steps = [InboundStep(record=r) for r in self.records.load(catalog, step_ids).values()]
        steps.sort(key=lambda s: s.number)
        by_id = {s.record.id: s for s in steps}
        children = [r for r in self.store.objects.referrers(list(by_id)) if r.object in (COMPONENT, DATA)]
        loaded = self.records.load(catalog, [r.record_id for r in children])
        for ref in children:
            child = loaded.get(ref.record_id)
            if child is None:
                continue
            (by_id[ref.target_id].components if ref.object == COMPONENT else by_id[ref.target_id].data).append(child)
        return InboundPackage(record=found, steps=steps)

    def keep_archive(self, package_id: str, filename: str, body: bytes, *, by: int, now: datetime) -> None:
        self.store.object_files.add(NewFile(record_id=package_id, kind=ARCHIVE, filename=filename, body=body,
                                            media_type="application/zip"), by=by, now=now)

    def archive(self, package_id: str) -> bytes | None:
        files = self.store.object_files.list(package_id, ARCHIVE)
        return self.store.object_files.body(files[-1].id) if files else None

    def logs(self, package_id: str) -> list[StoredFile]:
        return self.store.object_files.list(package_id, ATTACHMENT)
