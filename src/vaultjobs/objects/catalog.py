"""The vault's object metadata as one immutable value: objects, picklists and the prefixes ever used.

Every change (an MDL statement, a package step) builds a new :class:`Catalog`; the old one stays valid
for whoever holds it, so a request being answered never sees half an ALTER. The catalog derives what
Vault shows but does not store twice: each object's ``relationships`` (its own ``parent`` and
``reference_outbound`` fields, and the ``child`` / ``reference_inbound`` fields of others pointing at
it), and checks the rules that keep deep copy and cascade delete well defined:

* every Object field points at an object that exists, every Picklist field at a picklist that exists;
* an object has at most one ``parent`` field, and parent chains never loop back [I: Vault's help speaks
  of "the parent object relationship" in the singular; one parent makes "each copy points at its new
  parent" unambiguous];
* relationship names are unique per object (outbound on the object, inbound on the target);
* prefixes are three characters, unique, and never handed out twice, even after a DROP, so that no
  record id can ever name two objects.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from vaultjobs.objects.metadata import (
    LONG_TEXT_MAX_LENGTH,
    NAME_PATTERN,
    NUMBER_MAX_SCALE,
    STANDARD_FIELD_NAMES,
    STRING_MAX_LENGTH,
    FieldDefinition,
    FieldType,
    ObjectDefinition,
    Picklist,
    RelationshipDeletion,
    RelationshipType,
)
from vaultjobs.objects.standard import STANDARD_OBJECTS, STANDARD_PICKLISTS

PREFIX_PATTERN = re.compile(r"^[0-9A-Z]{3}$")
_PREFIX_FIRST = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PREFIX_REST = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class CatalogError(ValueError):
    """The catalog breaks one of its rules; the message says which."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Relationship:
    """One entry of an object's ``relationships`` as Retrieve Object Metadata lists it."""

    relationship_name: str
    relationship_label: str
    relationship_type: RelationshipType
    relationship_deletion: RelationshipDeletion
    #: The field holding the id: on this object for parent/outbound, on ``object`` for child/inbound.
    field: str
    #: The object at the other end.
    object: str


class Catalog:
    """Objects and picklists by name, in definition order. Immutable: ``with_…``/``without_…`` return
    a new catalog."""

    __slots__ = ("_objects", "_picklists", "_retired_prefixes")

    def __init__(
        self,
        objects: Iterable[ObjectDefinition] = (),
        picklists: Iterable[Picklist] = (),
        retired_prefixes: Iterable[str] = (),
    ) -> None:
        self._objects: dict[str, ObjectDefinition] = {o.name: o for o in objects}
        self._picklists: dict[str, Picklist] = {p.name: p for p in picklists}
        self._retired_prefixes = frozenset(retired_prefixes)

    @classmethod
    def standard(cls) -> Catalog:
        """The catalog of a new vault: the standard objects and picklists vaultjobs ships."""
        return cls(STANDARD_OBJECTS, STANDARD_PICKLISTS)

    # -- reading ---------------------------------------------------------------------------------

    @property
    def objects(self) -> tuple[ObjectDefinition, ...]:
        return tuple(self._objects.values())

    @property
    def picklists(self) -> tuple[Picklist, ...]:
        return tuple(self._picklists.values())

    @property
    def retired_prefixes(self) -> frozenset[str]:
        """Prefixes of dropped objects: never allocated again."""
        return self._retired_prefixes

    def object(self, name: str) -> ObjectDefinition | None:
        return self._objects.get(name)

    def picklist(self, name: str) -> Picklist | None:
        return self._picklists.get(name)

    def has_component(self, kind: str, name: str) -> bool:
        """Whether the component ``kind.name`` (``Object.product__c``, ``Picklist.color__c``) exists."""
        if kind == "Object":
            return name in self._objects
        return kind == "Picklist" and name in self._picklists

    def object_by_prefix(self, prefix: str) -> ObjectDefinition | None:
        return next((o for o in self._objects.values() if o.prefix == prefix), None)

    def __eq__(self, other: builtins.object) -> bool:
        if not isinstance(other, Catalog):
            return NotImplemented
        return (
            self._objects == other._objects
            and self._picklists == other._picklists
            and self._retired_prefixes == other._retired_prefixes
        )

    def __hash__(self) -> int:
        return hash((tuple(self._objects.values()), tuple(self._picklists.values()), self._retired_prefixes))

    def __repr__(self) -> str:
        return f"Catalog(objects={list(self._objects)}, picklists={list(self._picklists)})"

    # -- changing --------------------------------------------------------------------------------

    def with_object(self, definition: ObjectDefinition) -> Catalog:
        """This catalog with ``definition`` added, or replacing the object of the same name in place."""
        objects = dict(self._objects)
        objects[definition.name] = definition
        return Catalog(objects.values(), self._picklists.values(), self._retired_prefixes)

    def with_standard_additions(self) -> Catalog:
        """This catalog with the standard picklists and the standard objects' fields it lacks: a
        catalog saved before a release that added them (itself when it lacks none)."""
        out = self
        for picklist in STANDARD_PICKLISTS:
            if out.picklist(picklist.name) is None:
                out = out.with_picklist(picklist)
        for standard in STANDARD_OBJECTS:
            current = out.object(standard.name)
            missing = tuple(f for f in standard.fields if current is not None and current.field(f.name) is None)
            if current is not None and missing:
                out = out.with_object(current.evolve(fields=(*current.fields, *missing)))
        return out

    def without_object(self, name: str) -> Catalog:
        """This catalog without ``name``; its prefix is retired, never to be allocated again."""
        gone = self._objects.get(name)
        objects = [o for o in self._objects.values() if o.name != name]
        retired = self._retired_prefixes | ({gone.prefix} if gone else set())
        return Catalog(objects, self._picklists.values(), retired)

    def renamed_object(self, old: str, new: str) -> Catalog:
        """``old`` renamed ``new`` in place, and every Object field pointing at it repointed."""
        objects = []
        for o in self._objects.values():
            if o.name == old:
                o = o.evolve(name=new)
            if any(f.object == old for f in o.fields):
                o = o.evolve(fields=tuple(f.evolve(object=new) if f.object == old else f for f in o.fields))
            objects.append(o)
        return Catalog(objects, self._picklists.values(), self._retired_prefixes)

    def with_picklist(self, picklist: Picklist) -> Catalog:
        picklists = dict(self._picklists)
        picklists[picklist.name] = picklist
        return Catalog(self._objects.values(), picklists.values(), self._retired_prefixes)

    def without_picklist(self, name: str) -> Catalog:
        return Catalog(
            self._objects.values(), (p for p in self._picklists.values() if p.name != name), self._retired_prefixes
        )

    def renamed_picklist(self, old: str, new: str) -> Catalog:
        """``old`` renamed ``new`` in place, and every Picklist field using it repointed."""
        picklists = [p.evolve(name=new) if p.name == old else p for p in self._picklists.values()]
        objects = [
            o.evolve(fields=tuple(f.evolve(picklist=new) if f.picklist == old else f for f in o.fields))
            if any(f.picklist == old for f in o.fields)
            else o
            for o in self._objects.values()
        ]
        return Catalog(objects, picklists, self._retired_prefixes)

    def allocate_prefix(self) -> str:
        """The first free custom prefix: a letter then two of ``0-9A-Z`` (``A00``, ``A01`` … ``ZZZ``).

        Deterministic (the same catalog always allocates the same prefix) and never clashing with a
        used or retired prefix; standard prefixes all start with a digit, so they never collide.
        """
        taken = {o.prefix for o in self._objects.values()} | self._retired_prefixes
        for candidate in _prefix_candidates():
            if candidate not in taken:
                return candidate
        raise CatalogError("No object prefix is left to allocate")

    # -- relationships ---------------------------------------------------------------------------

    def inbound_references(self, name: str) -> tuple[tuple[ObjectDefinition, FieldDefinition], ...]:
        """Every ``(object, field)`` whose Object field points at ``name`` (children and references,
        the object itself included when it points at itself)."""
        return tuple((o, f) for o in self._objects.values() for f in o.reference_fields if f.object == name)

    def children(self, name: str) -> tuple[tuple[ObjectDefinition, FieldDefinition], ...]:
        """``(child object, its parent field)`` for every object whose parent is ``name``."""
        return tuple((o, f) for o, f in self.inbound_references(name) if f.is_parent)

    def copy_children(self, name: str) -> tuple[tuple[ObjectDefinition, FieldDefinition], ...]:
        """The children deep copy copies with a record of ``name``: those whose parent field has
        ``hierarchical_copy`` on. Reference relationships are never followed."""
        return tuple((o, f) for o, f in self.children(name) if f.hierarchical_copy)

    def parent_of(self, name: str) -> tuple[ObjectDefinition, FieldDefinition] | None:
        """``(parent object, the field on name holding it)``, or None for a top-level object."""
        definition = self._objects.get(name)
        if definition is None or not definition.parent_fields:
            return None
        parent_field = definition.parent_fields[0]
        parent = self._objects.get(parent_field.object or "")
        return (parent, parent_field) if parent else None

    def descendants(self, name: str) -> tuple[str, ...]:
        """Objects below ``name`` along child relationships, breadth first (deep copy's walk order)."""
        seen: list[str] = []
        queue = [name]
        while queue:
            current = queue.pop(0)
            for child, _ in self.children(current):
                if child.name not in seen and child.name != name:
                    seen.append(child.name)
                    queue.append(child.name)
        return tuple(seen)

    def relationships(self, name: str) -> tuple[Relationship, ...]:
        """``name``'s relationships as Vault lists them: its own fields first (``parent``,
        ``reference_outbound``), then the fields of others pointing at it (``child``,
        ``reference_inbound``), each entry naming the field that holds the id."""
        definition = self._objects.get(name)
        if definition is None:
            return ()
        out: list[Relationship] = []
        for f in definition.reference_fields:
            out.append(
                Relationship(
                    relationship_name=f.relationship_outbound_name or "",
                    relationship_label=f.label,
                    relationship_type=RelationshipType.PARENT if f.is_parent else RelationshipType.REFERENCE_OUTBOUND,
                    relationship_deletion=f.relationship_deletion or RelationshipDeletion.BLOCK,
                    field=f.name,
                    object=f.object or "",
                )
            )
        for source, f in self.inbound_references(name):
            out.append(
                Relationship(
                    relationship_name=f.relationship_inbound_name or "",
                    relationship_label=f.relationship_inbound_label or source.label_plural,
                    relationship_type=RelationshipType.CHILD if f.is_parent else RelationshipType.REFERENCE_INBOUND,
                    relationship_deletion=f.relationship_deletion or RelationshipDeletion.BLOCK,
                    field=f.name,
                    object=source.name,
                )
            )
        return tuple(out)

    # -- rules -----------------------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Every rule the catalog breaks, as sentences; empty when it is valid."""
        return list(_problems(self))

    def check(self) -> Catalog:
        """This catalog, or :class:`CatalogError` naming its first problem."""
        found = self.problems()
        if found:
            raise CatalogError(found[0])
        return self


def _prefix_candidates() -> Iterator[str]:
    for first in _PREFIX_FIRST:
        for second in _PREFIX_REST:
            for third in _PREFIX_REST:
                yield first + second + third


def _problems(catalog: Catalog) -> Iterator[str]:
    prefixes: dict[str, str] = {}
    for o in catalog.objects:
        if not NAME_PATTERN.match(o.name):
            yield f"Object name [{o.name}] is not a valid component name"
        if not PREFIX_PATTERN.match(o.prefix):
            yield f"Object [{o.name}] has an invalid prefix [{o.prefix}]: three characters of 0-9 and A-Z"
        elif o.prefix in prefixes:
            yield f"Objects [{prefixes[o.prefix]}] and [{o.name}] share the prefix [{o.prefix}]"
        else:
            prefixes[o.prefix] = o.name
        if o.prefix in catalog.retired_prefixes:
            yield f"Object [{o.name}] uses the retired prefix [{o.prefix}]"
        yield from _object_problems(catalog, o)
    yield from _relationship_name_problems(catalog)
    yield from _parent_cycle_problems(catalog)


def _object_problems(catalog: Catalog, o: ObjectDefinition) -> Iterator[str]:
    names = [f.name for f in o.fields]
    for missing in (n for n in STANDARD_FIELD_NAMES if n not in names):
        yield f"Object [{o.name}] lacks the standard field [{missing}]"
    seen: set[str] = set()
    for f in o.fields:
        where = f"Field [{o.name}.{f.name}]"
        if f.name in seen:
            yield f"{where} is defined twice"
        seen.add(f.name)
        if f.name != "id" and not NAME_PATTERN.match(f.name):
            yield f"{where} does not have a valid component name"
        if f.type is FieldType.ID and f.name != "id":
            yield f"{where} cannot be of type ID"
        yield from (f"{where} {p}" for p in _field_problems(catalog, f))
    if len(o.parent_fields) > 1:
        yield f"Object [{o.name}] has more than one parent field: {', '.join(f.name for f in o.parent_fields)}"


def _field_problems(catalog: Catalog, f: FieldDefinition) -> Iterator[str]:
    if f.type in (FieldType.STRING, FieldType.LONG_TEXT):
        limit = STRING_MAX_LENGTH if f.type is FieldType.STRING else LONG_TEXT_MAX_LENGTH
        if f.max_length is None or not 1 <= f.max_length <= limit:
            yield f"needs a max_length from 1 to {limit}"
    if f.type is FieldType.NUMBER:
        if f.scale is None or not 0 <= f.scale <= NUMBER_MAX_SCALE:
            yield f"needs a scale from 0 to {NUMBER_MAX_SCALE}"
        if f.min_value is not None and f.max_value is not None and f.min_value > f.max_value:
            yield f"has min_value {f.min_value} above max_value {f.max_value}"
    if f.type is FieldType.PICKLIST:
        if not f.picklist:
            yield "needs a picklist"
        elif catalog.picklist(f.picklist) is None:
            yield f"uses the picklist [{f.picklist}], which does not exist"
    if f.type is FieldType.OBJECT:
        if not f.object:
            yield "needs an object"
        elif catalog.object(f.object) is None:
            yield f"points at the object [{f.object}], which does not exist"
        if f.relationship_type is None or f.relationship_deletion is None:
            yield "needs a relationship_type and a relationship_deletion"
        if not f.relationship_outbound_name or not f.relationship_inbound_name:
            yield "needs relationship names"
        if f.is_parent and f.relationship_deletion is RelationshipDeletion.SETNULL and f.required:
            yield "is a required parent field and cannot be cleared by setnull"


def _relationship_name_problems(catalog: Catalog) -> Iterator[str]:
    for o in catalog.objects:
        seen: dict[str, str] = {}
        for r in catalog.relationships(o.name):
            key = r.relationship_name
            if key in seen:
                yield (
                    f"Object [{o.name}] has two relationships named [{key}] "
                    f"({seen[key]} and {r.object}.{r.field})"
                )
            seen[key] = f"{r.object}.{r.field}"


def _parent_cycle_problems(catalog: Catalog) -> Iterator[str]:
    for o in catalog.objects:
        chain = [o.name]
        current = o
        while current.parent_fields:
            parent_name = current.parent_fields[0].object or ""
            if parent_name in chain:
                yield f"Parent relationships loop: {' -> '.join([*chain, parent_name])}"
                break
            parent = catalog.object(parent_name)
            if parent is None:
                break
            chain.append(parent_name)
            current = parent
