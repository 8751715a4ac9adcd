"""Object records on the store: values in and out of their stored form, and the bulk operations
(create, upsert, update, delete) with Vault's per-record results.

Each record of a bulk request is checked on its own, in input order, and gets its own result: a
record that fails (a missing required field, a unique clash, a reference to a missing record, a
delete that ``block`` forbids) does not stop the others. The records that pass are written together
in one transaction; when a concurrent writer makes one of them clash after all, they are written one
by one so that only the clashing record fails. Choices where Vault is silent [U]:

* ``id`` on create is refused (``INVALID_DATA`` "not editable"); ``status__v`` defaults to
  ``active__v``; ``object_type__v`` is always ``base__v``.
* Unique values compare exactly (case-sensitive); Numbers by value (``1.50`` clashes with ``1.5``).
* A relationship column ``product__cr.name__v`` finds the target by ``id``, by ``name__v`` (which
  must name exactly one record) or by a unique field; other fields are refused.
* Delete: a record pointed at through a ``block`` *or* ``cascade`` relationship (children included)
  by a record outside the request fails with ``OPERATION_NOT_ALLOWED`` — removing a tree is
  Cascade Delete's work; ``setnull`` referrers have their field cleared in the same transaction.
* Upsert with a duplicate ``idParam`` value fails the whole request (``INVALID_DATA``), as Vault
  documents; duplicate ids in an update or delete fail those records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from vaultjobs import errors
from vaultjobs.jobtypes.objects.access import require_write
from vaultjobs.jobtypes.objects.catalogs import CatalogService
from vaultjobs.models import User
from vaultjobs.objects import Catalog, FieldDefinition, FieldType, ObjectDefinition, RelationshipDeletion
from vaultjobs.objects.values import (
    Origin,
    StoredValue,
    coerce_record,
    format_record_id,
    is_record_id,
    missing_record,
    missing_required,
    not_editable,
    unique_clash,
)
from vaultjobs.store import Store
from vaultjobs.store.objects import RecordConflict, RecordRow, RecordWrite
from vaultjobs.timeutil import Clock, parse_datetime, render_datetime

MAX_BULK_RECORDS = 500
#: The job that changes objects while it runs (:mod:`vaultjobs.jobtypes.objects.mdl_async`), and the
#: parameter naming the objects it changes.
MDL_ASYNC_PROCESSOR = "execute_mdl_async"
MDL_ASYNC_OBJECTS = "objects"
DEFAULT_STATUS = ("active__v",)
OBJECT_TYPE = "base__v"
#: Standard fields kept as columns of the record row rather than in its JSON.
COLUMN_FIELDS = frozenset({"id", "created_by__v", "created_date__v", "modified_by__v", "modified_date__v"})


# -- values in and out of the store ---------------------------------------------------------------


def encode(value: StoredValue) -> Any:
    """A stored value as JSON for the record row (decoded again with its field)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return render_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def decode(definition: FieldDefinition, raw: Any) -> StoredValue:
    if raw is None:
        return None
    kind = definition.type
    if kind is FieldType.NUMBER:
        return Decimal(str(raw))
    if kind is FieldType.DATE:
        return date.fromisoformat(str(raw))
    if kind is FieldType.DATETIME:
        return parse_datetime(str(raw)).astimezone(UTC)
    if kind is FieldType.PICKLIST:
        return tuple(raw)
    if kind is FieldType.BOOLEAN:
        return bool(raw)
    return str(raw)


def unique_key(value: StoredValue) -> str:
    """How a unique value is compared: exactly, Numbers by value."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    encoded = encode(value)
    return ",".join(encoded) if isinstance(encoded, list) else str(encoded)


@dataclass(frozen=True, kw_only=True, slots=True)
class Record:
    """A record with every field of its object (None where it has no value)."""

    id: str
    object: str
    values: dict[str, StoredValue]


def record_from_row(definition: ObjectDefinition, row: RecordRow) -> Record:
    values: dict[str, StoredValue] = {}
    for f in definition.fields:
        if f.name == "id":
            values["id"] = row.id
        elif f.name == "created_by__v":
            values[f.name] = Decimal(row.created_by)
        elif f.name == "modified_by__v":
            values[f.name] = Decimal(row.modified_by)
        elif f.name == "created_date__v":
            values[f.name] = row.created_at
        elif f.name == "modified_date__v":
            values[f.name] = row.modified_at
        else:
            values[f.name] = decode(f, row.data.get(f.name))
    return Record(id=row.id, object=row.object, values=values)


def creation_of(record: Record) -> tuple[int, datetime]:
    """Who created ``record`` and when (kept by every rewrite of it)."""
    by, at = record.values.get("created_by__v"), record.values.get("created_date__v")
    if not isinstance(at, datetime):
        raise ValueError(f"record [{record.id}] has no creation date")
    return (int(by) if isinstance(by, Decimal) else 0), at


def write_of(
    definition: ObjectDefinition,
    record_id: str,
    values: Mapping[str, StoredValue],
    *,
    created_by: int,
    created_at: datetime,
    modified_by: int,
    modified_at: datetime,
) -> RecordWrite:
    """The row and index rows of a record holding ``values`` (fields without a value left out)."""
    data: dict[str, Any] = {}
    uniques: list[tuple[str, str]] = []
    references: list[tuple[str, str]] = []
    for f in definition.fields:
        if f.name in COLUMN_FIELDS:
            continue
        value = values.get(f.name)
        data[f.name] = encode(value)
        if value is None:
            continue
        if f.unique:
            uniques.append((f.name, unique_key(value)))
        if f.type is FieldType.OBJECT:
            references.append((f.name, str(value)))
    name = values.get("name__v")
    row = RecordRow(
        id=record_id,
        object=definition.name,
        name=None if name is None else str(name),
        data=data,
        created_by=created_by,
        created_at=created_at,
        modified_by=modified_by,
        modified_at=modified_at,
    )
    return RecordWrite(row=row, uniques=uniques, references=references)


# -- results -------------------------------------------------------------------------------------


@dataclass(kw_only=True)
class Outcome:
    """One record's result in a bulk request."""

    id: str | None = None
    event: str | None = None
    error: errors.VaultError | None = None
    #: ``NO_DATA_CHANGES`` when an update changed nothing.
    no_change: bool = False
    id_param_value: str | None = None

    @property
    def status(self) -> str:
        return "FAILURE" if self.error else "WARNING" if self.no_change else "SUCCESS"


@dataclass(kw_only=True)
class _Pending:
    """A record that passed its checks, waiting to be written with the others."""

    index: int
    write: RecordWrite
    values: dict[str, StoredValue] = field(default_factory=dict)


class Records:
    """Reading and writing records over the store, against the current catalog."""

    def __init__(self, store: Store, catalogs: CatalogService, clock: Clock) -> None:
        self.store = store
        self.catalogs = catalogs
        self.clock = clock

    # -- deployment --------------------------------------------------------------------------------

    def in_deployment(self) -> frozenset[str]:
        """The objects an asynchronous MDL job that has not ended is changing: their
        ``configuration_state`` is ``IN_DEPLOYMENT`` until it ends."""
        return frozenset(name for parameters in self.store.objects.active_parameters(MDL_ASYNC_PROCESSOR)
                         for name in parameters.get(MDL_ASYNC_OBJECTS, ()))

    def require_writable(self, user: User, definitions: Sequence[ObjectDefinition]) -> None:
        """INSUFFICIENT_ACCESS for an object ``user`` may not write; OPERATION_NOT_ALLOWED for one
        in deployment [U: Vault documents the state, not the error]."""
        require_write(user, definitions)
        deploying = self.in_deployment()
        for definition in definitions:
            if definition.name in deploying:
                raise errors.OperationNotAllowed(
                    f"Object [{definition.name}] is in deployment (configuration_state IN_DEPLOYMENT): an MDL "
                    "change is being applied to it; its records cannot be changed until it ends"
                )

    # -- reading ---------------------------------------------------------------------------------

    @staticmethod
    def definition(catalog: Catalog, name: str) -> ObjectDefinition:
        found = catalog.object(name)
        if found is None:
            raise errors.InvalidData(f"Object [{name[:100]}] not found")
        return found

    def load(self, catalog: Catalog, ids: Sequence[str]) -> dict[str, Record]:
        """The records of ``ids`` that exist (and whose object still does)."""
        out: dict[str, Record] = {}
        for record_id, row in self.store.objects.get(ids).items():
            definition = catalog.object(row.object)
            if definition is not None:
                out[record_id] = record_from_row(definition, row)
        return out

    def get(self, catalog: Catalog, definition: ObjectDefinition, record_id: str) -> Record:
        """The record ``record_id`` of ``definition``; INVALID_DATA when there is none."""
        found = self.load(catalog, [record_id]).get(record_id) if is_record_id(record_id) else None
        if found is None or found.object != definition.name:
            raise missing_record(record_id[:40])
        return found

    # -- checks shared by create, update and the jobs --------------------------------------------

    def resolve_lookups(
        self, catalog: Catalog, definition: ObjectDefinition, lookups: Mapping[str, tuple[str, str]]
    ) -> dict[str, StoredValue]:
        """Object field values named through relationship columns, as record ids."""
        out: dict[str, StoredValue] = {}
        for field_name, (target_field, value) in lookups.items():
            reference = definition.field(field_name)
            assert reference is not None and reference.object is not None
            target = self.definition(catalog, reference.object)
            column = f"{reference.relationship_outbound_name}.{target_field}"
            if target_field == "id":
                ids = [value]
            elif target_field == "name__v":
                ids = self.store.objects.ids_by_name(target.name, [value]).get(value, [])
            else:
                found = target.field(target_field)
                if found is None or not found.unique:
                    raise errors.InvalidData(
                        f"Column [{column}] must name the target by id, name__v or a unique field"
                    )
                hit = self.store.objects.ids_by_unique(target.name, target_field, [value]).get(value)
                ids = [hit] if hit else []
            if len(ids) != 1:
                what = "no record" if not ids else f"{len(ids)} records"
                raise errors.InvalidData(f"Column [{column}] value [{value}] matches {what} of [{target.name}]")
            out[field_name] = ids[0]
        return out

    def check_references(self, catalog: Catalog, definition: ObjectDefinition,
                         values: Mapping[str, StoredValue]) -> None:
        """Every Object field value names an existing record of the field's object."""
        targets = {f.name: str(values[f.name]) for f in definition.reference_fields if values.get(f.name)}
        if not targets:
            return
        rows = self.store.objects.get(list(targets.values()))
        for field_name, target_id in targets.items():
            reference = definition.field(field_name)
            row = rows.get(target_id)
            if row is None or reference is None or row.object != reference.object:
                raise missing_record(target_id)

    def check_unique(
        self,
        definition: ObjectDefinition,
        values: Mapping[str, StoredValue],
        own_id: str | None,
        claimed: dict[tuple[str, str], str] | None = None,
    ) -> None:
        """No other record (stored, or earlier in the same request: ``claimed``) holds a unique value."""
        for f in definition.fields:
            value = values.get(f.name)
            if not f.unique or value is None:
                continue
            key = unique_key(value)
            holder = self.store.objects.ids_by_unique(definition.name, f.name, [key]).get(key)
            if claimed is not None:
                holder = holder if holder is not None else claimed.get((f.name, key))
            if holder is not None and holder != own_id:
                raise unique_clash(f.name, encode(value) if not isinstance(value, tuple) else key)
            if claimed is not None:
                claimed[(f.name, key)] = own_id or f"#{len(claimed)}"

    def checked_values(
        self,
        catalog: Catalog,
        definition: ObjectDefinition,
        raw: Mapping[str, object],
        *,
        origin: Origin,
        creating: bool,
        passthrough: frozenset[str] = frozenset({"id"}),
    ) -> dict[str, StoredValue]:
        """An incoming record's values, checked against its fields, with its lookups resolved."""
        checked = coerce_record(catalog, definition, raw, origin=origin, creating=creating, passthrough=passthrough)
        values = dict(checked.values)
        values.update(self.resolve_lookups(catalog, definition, checked.lookups))
        return values

    # -- create and upsert -----------------------------------------------------------------------

    def create(
        self,
        user: User,
        object_name: str,
        records: Sequence[Mapping[str, object]],
        *,
        origin: Origin,
        id_param: str | None = None,
    ) -> list[Outcome]:
        """Create (or with ``id_param``, upsert) ``records``; one outcome per record, in order."""
        catalog = self.catalogs.current()
        definition = self.definition(catalog, object_name)
        self.require_writable(user, [definition])
        check_bulk(records)
        outcomes, creates, updates = self._plan_create(user, catalog, definition, records, origin=origin,
                                                       id_param=id_param, claimed={})
        self._write(definition, creates, outcomes, insert=True)
        self._write(definition, updates, outcomes, insert=False)
        return outcomes

    def plan_create(
        self, user: User, catalog: Catalog, definition: ObjectDefinition, records: Sequence[Mapping[str, object]],
        *, origin: Origin, id_param: str | None, claimed: dict[tuple[str, str], str],
    ) -> tuple[list[Outcome], list[RecordWrite], list[RecordWrite]]:
        """What :meth:`create` would write, checked but not written: one outcome per record, the new
        records (ids allocated) and the changed ones. ``claimed`` carries the unique values taken by
        earlier batches of the same load, so that a load written at once is checked as a whole."""
        outcomes, creates, updates = self._plan_create(user, catalog, definition, records, origin=origin,
                                                       id_param=id_param, claimed=claimed)
        return outcomes, [p.write for p in creates], [p.write for p in updates]

    def _plan_create(
        self, user: User, catalog: Catalog, definition: ObjectDefinition, records: Sequence[Mapping[str, object]],
        *, origin: Origin, id_param: str | None, claimed: dict[tuple[str, str], str],
    ) -> tuple[list[Outcome], list[_Pending], list[_Pending]]:
        if id_param is not None:
            self._check_id_param(definition, records, id_param)
        now = self.clock.now()
        outcomes = [Outcome() for _ in records]
        creates: list[_Pending] = []
        updates: list[_Pending] = []
        existing = self._upsert_targets(catalog, definition, records, id_param, origin)
        for index, raw in enumerate(records):
            outcome = outcomes[index]
            try:
                if id_param is not None:
                    outcome.id_param_value = _text(raw.get(id_param))
                if "id" in raw:
                    raise not_editable("id")
                current = existing.get(index)
                if current is None:
                    values = self.checked_values(catalog, definition, raw, origin=origin, creating=True)
                    values.setdefault("status__v", DEFAULT_STATUS)
                    values["object_type__v"] = OBJECT_TYPE
                    self.check_references(catalog, definition, values)
                    self.check_unique(definition, values, None, claimed)
                    write = write_of(definition, "", values, created_by=user.id, created_at=now,
                                     modified_by=user.id, modified_at=now)
                    creates.append(_Pending(index=index, write=write, values=values))
                    outcome.event = "created__sys"
                else:
                    pending = self._changed(catalog, definition, current, raw, origin, user, now, claimed)
                    outcome.id = current.id
                    if pending is None:
                        outcome.no_change = True
                    else:
                        pending.index = index
                        updates.append(pending)
                        outcome.event = "updated__sys"
            except errors.VaultError as exc:
                outcome.error = exc
        if creates:
            numbers = self.store.objects.next_ids(definition.prefix, len(creates))
            for pending, number in zip(creates, numbers, strict=True):
                record_id = format_record_id(definition.prefix, number)
                pending.write = write_of(definition, record_id, pending.values, created_by=user.id, created_at=now,
                                         modified_by=user.id, modified_at=now)
                outcomes[pending.index].id = record_id
        return outcomes, creates, updates


    def _check_id_param(self, definition: ObjectDefinition, records: Sequence[Mapping[str, object]],
                        id_param: str) -> None:
        found = definition.field(id_param)
        if found is None or not found.unique:
            raise errors.InvalidData(f"Invalid value for [idParam]: [{id_param[:100]}] is not a unique field "
                                     f"of [{definition.name}]")
        values = [_text(r.get(id_param)) for r in records]
        if any(v is None for v in values):
            raise missing_required(id_param)
        if len(set(values)) != len(values):
            raise errors.InvalidData(f"Duplicate values of [{id_param}] in the request")

    def _upsert_targets(
        self, catalog: Catalog, definition: ObjectDefinition, records: Sequence[Mapping[str, object]],
        id_param: str | None, origin: Origin,
    ) -> dict[int, Record]:
        if id_param is None:
            return {}
        f = definition.field(id_param)
        assert f is not None
        keys: dict[int, str] = {}
        for index, raw in enumerate(records):
            try:
                value = self.checked_values(catalog, definition, {id_param: raw.get(id_param)}, origin=origin,
                                            creating=False)[id_param]
            except errors.VaultError:
                continue  # the record's own checks report it
            if value is not None:
                keys[index] = unique_key(value)
        hits = self.store.objects.ids_by_unique(definition.name, id_param, list(keys.values()))
        found = self.load(catalog, list(hits.values()))
        return {index: found[hits[key]] for index, key in keys.items() if hits.get(key) in found}

    def _changed(
        self, catalog: Catalog, definition: ObjectDefinition, current: Record, raw: Mapping[str, object],
        origin: Origin, user: User, now: datetime, claimed: dict[tuple[str, str], str],
        passthrough: frozenset[str] = frozenset({"id"}),
    ) -> _Pending | None:
        """The update of ``current`` by ``raw``, or None when it changes nothing."""
        values = self.checked_values(catalog, definition, raw, origin=origin, creating=False, passthrough=passthrough)
        merged = dict(current.values)
        merged.update(values)
        if all(current.values.get(k) == v for k, v in values.items()):
            return None
        self.check_references(catalog, definition, values)
        self.check_unique(definition, merged, current.id, claimed)
        row_by, created_at = creation_of(current)
        write = write_of(definition, current.id, merged, created_by=row_by, created_at=created_at,
                         modified_by=user.id, modified_at=now)
        return _Pending(index=-1, write=write, values=merged)

    def _write(self, definition: ObjectDefinition, pending: list[_Pending], outcomes: list[Outcome], *,
               insert: bool) -> None:
        if not pending:
            return
        store_write = self.store.objects.insert if insert else self.store.objects.replace
        try:
            store_write([p.write for p in pending])
            return
        except RecordConflict:
            pass  # someone wrote a clashing value meanwhile: one by one, so only the clash fails
        for p in pending:
            try:
                store_write([p.write])
            except RecordConflict:
                clash = next(((f, v) for f, v in p.write.uniques
                              if self.store.objects.ids_by_unique(definition.name, f, [v]).get(v) != p.write.row.id),
                             ("unique field", ""))
                outcomes[p.index].error = unique_clash(*clash)
                outcomes[p.index].event = None
                if insert:
                    outcomes[p.index].id = None

    # -- update ------------------------------------------------------------------------------------

    def update(
        self, user: User, object_name: str, records: Sequence[Mapping[str, object]], *, origin: Origin,
        id_param: str | None = None,
    ) -> list[Outcome]:
        """Update ``records`` (found by ``id``, or by the unique field ``id_param``)."""
        catalog = self.catalogs.current()
        definition = self.definition(catalog, object_name)
        self.require_writable(user, [definition])
        check_bulk(records)
        now = self.clock.now()
        outcomes = [Outcome() for _ in records]
        ids = self._target_ids(catalog, definition, records, id_param, outcomes, origin)
        found = self.load(catalog, [i for i in ids if i])
        claimed: dict[tuple[str, str], str] = {}
        updates: list[_Pending] = []
        passthrough = frozenset({"id", id_param}) if id_param else frozenset({"id"})
        for index, raw in enumerate(records):
            outcome = outcomes[index]
            if outcome.error is not None:
                continue
            record_id = ids[index]
            current = found.get(record_id or "")
            try:
                if current is None or current.object != definition.name:
                    raise missing_record(record_id or "")
                outcome.id = current.id
                pending = self._changed(catalog, definition, current, raw, origin, user, now, claimed, passthrough)
                if pending is None:
                    outcome.no_change = True
                else:
                    pending.index = index
                    updates.append(pending)
                    outcome.event = "updated__sys"
            except errors.VaultError as exc:
                outcome.error = exc
        self._write(definition, updates, outcomes, insert=False)
        return outcomes

    def _target_ids(
        self, catalog: Catalog, definition: ObjectDefinition, records: Sequence[Mapping[str, object]],
        id_param: str | None, outcomes: list[Outcome], origin: Origin,
    ) -> list[str | None]:
        """The record id each incoming record names; duplicates and missing ids fail in ``outcomes``."""
        ids: list[str | None] = []
        if id_param is not None and id_param != "id":
            f = definition.field(id_param)
            if f is None or not f.unique:
                raise errors.InvalidData(f"Invalid value for [idParam]: [{id_param[:100]}] is not a unique field "
                                         f"of [{definition.name}]")
            keys = [_text(r.get(id_param)) for r in records]
            hits = self.store.objects.ids_by_unique(definition.name, id_param, [k for k in keys if k])
            for index, key in enumerate(keys):
                if key is None:
                    outcomes[index].error = missing_required(id_param)
                    outcomes[index].id_param_value = None
                    ids.append(None)
                    continue
                outcomes[index].id_param_value = key
                ids.append(hits.get(key))
                if hits.get(key) is None:
                    outcomes[index].error = errors.InvalidData(f"No record of [{definition.name}] has "
                                                               f"[{id_param}={key}]")
        else:
            for index, raw in enumerate(records):
                value = _text(raw.get("id"))
                if value is None:
                    outcomes[index].error = missing_required("id")
                ids.append(value)
        seen: dict[str, int] = {}
        for index, record_id in enumerate(ids):
            if record_id is None:
                continue
            if record_id in seen:
                for i in (seen[record_id], index):
                    outcomes[i].error = errors.InvalidData(f"Duplicate id [{record_id}] in the request")
            seen.setdefault(record_id, index)
        return ids

    # -- delete --------------------------------------------------------------------------------------

    def delete(
        self, user: User, object_name: str, records: Sequence[Mapping[str, object]], *, id_param: str | None = None,
        origin: Origin = "json",
    ) -> list[Outcome]:
        """Delete ``records`` (by ``id`` or ``id_param``), applying relationship deletion rules."""
        catalog = self.catalogs.current()
        definition = self.definition(catalog, object_name)
        self.require_writable(user, [definition])
        check_bulk(records)
        outcomes = [Outcome() for _ in records]
        ids = self._target_ids(catalog, definition, records, id_param, outcomes, origin)
        found = self.load(catalog, [i for i in ids if i])
        candidates: dict[str, int] = {}
        for index, record_id in enumerate(ids):
            if outcomes[index].error is not None or record_id is None:
                continue
            current = found.get(record_id)
            if current is None or current.object != definition.name:
                outcomes[index].error = missing_record(record_id)
                continue
            outcomes[index].id = record_id
            candidates[record_id] = index
        now = self.clock.now()
        cleared: dict[str, Record] = {}
        for referrer in self.store.objects.referrers(list(candidates)):
            if referrer.record_id in candidates:
                continue
            source = catalog.object(referrer.object)
            f = source.field(referrer.field) if source else None
            if source is None or f is None:
                continue
            rule = f.relationship_deletion or RelationshipDeletion.BLOCK
            if rule is RelationshipDeletion.SETNULL and not f.required:
                record = cleared.get(referrer.record_id) or self.load(catalog, [referrer.record_id]).get(
                    referrer.record_id)
                if record is not None:
                    record.values[f.name] = None
                    cleared[referrer.record_id] = record
                continue
            if referrer.target_id in candidates:
                index = candidates.pop(referrer.target_id)
                outcomes[index].error = errors.OperationNotAllowed(
                    f"Record [{referrer.target_id}] cannot be deleted: record [{referrer.record_id}] of "
                    f"[{referrer.object}] refers to it through [{referrer.field}] ({rule.value}); "
                    "use Cascade Delete to delete a record with its children"
                )
        updates = []
        for record in cleared.values():
            source = catalog.object(record.object)
            assert source is not None
            created_by, created_at = creation_of(record)
            updates.append(write_of(source, record.id, record.values, created_by=created_by, created_at=created_at,
                                    modified_by=user.id, modified_at=now))
        self.store.objects.delete(list(candidates), updates, now=now)
        return outcomes


def check_bulk(records: Sequence[Mapping[str, object]]) -> None:
    if not records:
        raise errors.InvalidData("The request has no records")
    if len(records) > MAX_BULK_RECORDS:
        raise errors.InvalidData(f"A request may hold at most {MAX_BULK_RECORDS} records, not {len(records)}")


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)
