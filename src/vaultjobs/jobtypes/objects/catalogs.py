"""The catalog as the store keeps it, and Execute MDL on it.

Reading: the catalog is a JSON document with a revision (:mod:`vaultjobs.store.objects`); a
:class:`CatalogService` keeps the last one it decoded and re-reads it only when the revision moved,
so a request pays one small query, not a decode. Until the first MDL change the store holds no
document and the catalog is the standard one (:meth:`Catalog.standard`).

Writing: an MDL script is parsed first (a syntax error applies nothing), then applied to the
current catalog and saved over the revision it was applied to; when another writer saved in
between, it is applied again to the new catalog (compare-and-swap, a few tries). The records follow
in the same transaction: a renamed object or field keeps its values, a dropped one loses them.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vaultjobs import errors
from vaultjobs.objects import Catalog
from vaultjobs.objects.codec import catalog_from_json, catalog_to_json
from vaultjobs.objects.mdl import MdlSyntaxError, StatementResult, apply, parse
from vaultjobs.objects.mdl.syntax import Command, Statement, SubAction
from vaultjobs.objects.payloads import AuditStamps
from vaultjobs.store import Store
from vaultjobs.store.objects import CatalogChange, RecordConflict, RecordWrite
from vaultjobs.timeutil import Clock

#: Compare-and-swap attempts before Execute MDL gives up on a catalog others keep changing.
SAVE_ATTEMPTS = 5


@dataclass(frozen=True, kw_only=True, slots=True)
class Execution:
    """What Execute MDL did: one result per statement, and how long it took."""

    results: tuple[StatementResult, ...]
    seconds: float
    #: Whether a changed catalog was saved (and the ``also`` records with it).
    saved: bool = False

    @property
    def succeeded(self) -> bool:
        return all(r.success for r in self.results)


def _change(before: Catalog, after: Catalog, statements: Sequence[Statement],
            results: Sequence[StatementResult]) -> CatalogChange:
    """What the records must follow: matched by prefix (which a rename keeps and a drop retires)."""
    old = {o.prefix: o for o in before.objects}
    new = {o.prefix: o for o in after.objects}
    renamed = [(old[p].name, new[p].name) for p in old.keys() & new.keys() if old[p].name != new[p].name]
    dropped = [old[p].name for p in old.keys() - new.keys()]
    created = [new[p].name for p in new.keys() - old.keys()]
    modified = [new[p].name for p in old.keys() & new.keys() if old[p] != new[p]]
    applied = {r.statement for r in results if r.success}
    renamed_fields: list[tuple[str, str, str]] = []
    for statement in statements:
        if statement.number in applied and statement.command is Command.ALTER:
            for sub in statement.subcommands:
                if sub.action is SubAction.RENAME and sub.new_name:
                    renamed_fields.append((statement.component.name, sub.name, sub.new_name))
    # Field renames are applied under the objects' final names.
    final = dict(renamed)
    renamed_fields = [(final.get(o, o), a, b) for o, a, b in renamed_fields]
    moved = {(o, b) for o, _, b in renamed_fields} | {(o, a) for o, a, _ in renamed_fields}
    dropped_fields = []
    for p in old.keys() & new.keys():
        kept = {f.name for f in new[p].fields}
        for f in old[p].fields:
            if f.name not in kept and (new[p].name, f.name) not in moved:
                dropped_fields.append((new[p].name, f.name))
    not_unique: list[tuple[str, str]] = []
    became_unique: list[tuple[str, str]] = []
    for p in old.keys() & new.keys():
        for f in new[p].fields:
            before_field = old[p].field(f.name)
            if before_field is None:
                continue
            if before_field.unique and not f.unique:
                not_unique.append((new[p].name, f.name))
            elif f.unique and not before_field.unique:
                became_unique.append((new[p].name, f.name))
    return CatalogChange(created=created, modified=modified, renamed=renamed, dropped=dropped,
                         dropped_fields=dropped_fields, renamed_fields=renamed_fields, not_unique=not_unique,
                         unique_rows=[(o, f, "", "") for o, f in became_unique])


def _unique_rows(store: Store, after: Catalog, change: CatalogChange) -> CatalogChange:
    """``change`` with the unique values of the fields that became unique, read from the records
    (``_change`` marks those fields with placeholder rows)."""
    wanted = [(o, f) for o, f, _, _ in change.unique_rows]
    if not wanted:
        return change
    # Late import: records imports this module.
    from vaultjobs.jobtypes.objects.records import decode, unique_key

    rows: list[tuple[str, str, str, str]] = []
    for object_name, field_name in wanted:
        definition = after.object(object_name)
        field = definition.field(field_name) if definition else None
        if field is None:
            continue
        offset = 0
        while True:
            _, page = store.objects.page(object_name, sort="id", descending=False, limit=1000, offset=offset)
            for row in page:
                value = decode(field, row.data.get(field_name))
                if value is not None:
                    rows.append((object_name, field_name, unique_key(value), row.id))
            if len(page) < 1000:
                break
            offset += 1000
    return dataclasses.replace(change, unique_rows=rows)


def _catalog_of(body: dict[str, Any] | None) -> Catalog:
    """The catalog a stored body holds (the standard one before MDL first changed it)."""
    return Catalog.standard() if body is None else catalog_from_json(body).with_standard_additions()


class CatalogService:
    """The vault's catalog over a store: read (cached by revision) and changed by MDL."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()
        self._revision = -1
        self._catalog = Catalog.standard()
        self._stamps: dict[str, AuditStamps] = {}

    def current(self) -> Catalog:
        """The catalog as last saved."""
        return self._read()[0]

    def stamps(self, name: str) -> AuditStamps | None:
        """Who created and last changed ``name``'s definition; None for a standard object never altered."""
        return self._read()[1].get(name)

    def _read(self) -> tuple[Catalog, dict[str, AuditStamps]]:
        revision = self.store.objects.catalog_revision()
        with self._lock:
            if revision == self._revision:
                return self._catalog, self._stamps
        stored = self.store.objects.catalog_load()
        catalog = _catalog_of(stored.body)
        stamps = {
            name: AuditStamps(created_by=s.created_by, created_date=s.created_at, modified_by=s.modified_by,
                              modified_date=s.modified_at)
            for name, s in stored.stamps.items()
        }
        with self._lock:
            if stored.revision >= self._revision:
                self._revision, self._catalog, self._stamps = stored.revision, catalog, stamps
        return catalog, stamps

    def execute(self, script: str, user_id: int, *, all_or_nothing: bool = False,
                also: Sequence[RecordWrite] = ()) -> Execution:
        """Parse and apply ``script``. :class:`~vaultjobs.errors.InvalidData` naming the line and
        column when it does not parse (nothing applies); otherwise the statements' results, those
        that failed leaving the catalog as the statement before them left it — or, ``all_or_nothing``
        (a package step), nothing saved at all when one failed. ``also`` is written in the same
        transaction as the change, when there is one."""
        started = time.perf_counter()
        try:
            statements = parse(script)
        except MdlSyntaxError as exc:
            raise errors.InvalidData(f"MDL syntax error: {exc}") from exc
        for _ in range(SAVE_ATTEMPTS):
            stored = self.store.objects.catalog_load()
            before = _catalog_of(stored.body)
            after, results = apply(before, statements)
            if after == before or (all_or_nothing and not all(r.success for r in results)):
                return Execution(results=results, seconds=time.perf_counter() - started)
            change = _unique_rows(self.store, after, _change(before, after, statements, results))
            try:
                saved = self.store.objects.catalog_save(stored.revision, catalog_to_json(after), change, user_id,
                                                       self.clock.now(), also=also)
            except RecordConflict as exc:
                fields = ", ".join(f"{o}.{f}" for o, f in {(o, f) for o, f, _, _ in change.unique_rows})
                raise errors.OperationNotAllowed(
                    f"Field [{fields}] cannot become unique: records share a value; nothing was applied"
                ) from exc
            if saved:
                return Execution(results=results, seconds=time.perf_counter() - started, saved=True)
        raise errors.OperationNotAllowed("The object catalog is being changed by others; try again")
