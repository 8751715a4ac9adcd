"""What a Vault object *is*: its fields, their types and attributes, and the picklists they draw from.

Frozen, keyword-only dataclasses, like :mod:`vaultjobs.models`: a definition read from the catalog can
be handed to a request handler or a job without anyone changing it underneath. Nothing here knows
about the store or HTTP; :mod:`vaultjobs.objects.catalog` holds definitions together and
:mod:`vaultjobs.objects.payloads` renders them as Vault's metadata endpoints do.

Choices where Vault's documentation is silent (each marked [U]/[I] in the spec) are recorded on the
names they concern, so that ``docs/objects.md`` can collect them:

* ``object_type__v`` is a read-only ``String`` holding the object type's name (``base__v``), not a
  reference to an ``object_type__v`` object: vaultjobs models one object type per object.
* ``created_by__v`` / ``modified_by__v`` are ``Number`` fields holding the user id (Vault's record
  example shows ``"created_by__v": 1``), not references to a ``user__sys`` object.
* ``status__v`` is a single-value ``Picklist`` on ``default_status__v`` (``active__v``,
  ``inactive__v``), rendered as an array like every picklist value.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any


class FieldType(StrEnum):
    """The field types vaultjobs stores; Vault's others (RichText, Component, Binary …) are refused."""

    #: The record id: 15 characters, the object's prefix first.
    ID = "ID"
    #: Text up to ``max_length`` (1 to 1,500, default 100).
    STRING = "String"
    #: Long text up to ``max_length`` (1 to 32,000, default 32,000).
    LONG_TEXT = "LongText"
    #: A decimal number with ``scale`` digits after the point, between ``min_value`` and ``max_value``.
    NUMBER = "Number"
    BOOLEAN = "Boolean"
    #: ``YYYY-MM-DD``.
    DATE = "Date"
    #: ISO 8601, stored in UTC.
    DATETIME = "DateTime"
    #: One (or, with ``multi_value``, several) entry names of ``picklist``.
    PICKLIST = "Picklist"
    #: The id of a record of ``object``.
    OBJECT = "Object"


class FieldRelationship(StrEnum):
    """``relationship_type`` of an Object field, as MDL writes it. ``child`` is not a field's value:
    the parent object's ``child`` relationship is derived from the child's ``parent`` field."""

    #: The field holds the record's parent: deep copy and cascade delete walk it, one per object.
    PARENT = "parent"
    #: A plain lookup; never walked by deep copy.
    REFERENCE = "reference"


class RelationshipType(StrEnum):
    """``relationships[].relationship_type`` in object metadata, seen from one object."""

    PARENT = "parent"
    CHILD = "child"
    REFERENCE_OUTBOUND = "reference_outbound"
    REFERENCE_INBOUND = "reference_inbound"


class RelationshipDeletion(StrEnum):
    """What deleting a referenced record does to the records pointing at it."""

    #: The delete fails while a record points at it.
    BLOCK = "block"
    #: The pointing records are deleted too.
    CASCADE = "cascade"
    #: The pointing field is cleared.
    SETNULL = "setnull"


class Source(StrEnum):
    """Who owns a component: Vault (``standard``, names ``__v``/``__sys``) or the customer (``__c``)."""

    STANDARD = "standard"
    CUSTOM = "custom"


#: ``lower_snake__ns``: at most 40 characters before the namespace, as Vault names components (a
#: leading digit is allowed: Vault's own MDL example names ``10k_raw__c``).
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]{0,39}__(c|v|sys)$")
#: Namespaces Vault reserves for its own components.
STANDARD_NAMESPACES = ("__v", "__sys")

STRING_MAX_LENGTH = 1500
STRING_DEFAULT_LENGTH = 100
LONG_TEXT_MAX_LENGTH = 32000
NUMBER_MAX_SCALE = 9
#: Vault's Number bounds, used when a field sets none.
NUMBER_MIN = Decimal("-1e18")
NUMBER_MAX = Decimal("1e18")

#: Attribute values carried verbatim for MDL attributes vaultjobs accepts but does not act on.
ExtraValue = str | int | Decimal | bool | tuple[str, ...] | None


def is_standard_name(name: str) -> bool:
    return name.endswith(STANDARD_NAMESPACES)


def namespace(name: str) -> str:
    """``__c`` for ``color__c``; ``__v`` and ``__sys`` likewise."""
    return name[name.rindex("__") :] if "__" in name else ""


def outbound_relationship_name(field_name: str) -> str:
    """Vault's singular relationship name for a field: ``product__v`` → ``product__vr``,
    ``parent_object__c`` → ``parent_object__cr``."""
    return field_name + "r"


def inbound_relationship_name(child_object: str) -> str:
    """A default plural relationship name for the records of ``child_object`` pointing here: the
    child's stem plus ``s`` (``child_object__c`` → ``child_objects__cr``) [I: the VAPIL fixture's
    ``vapil_test_child_objects__cr`` follows this pattern]."""
    stem, ns = child_object[: child_object.rindex("__")], namespace(child_object)
    return f"{stem}s{ns}r"


@dataclass(frozen=True, kw_only=True, slots=True)
class PicklistEntry:
    """One value of a picklist: its name (stored on records) and its label (``value`` in MDL)."""

    name: str
    label: str
    order: int = 0
    active: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class Picklist:
    name: str
    label: str
    active: bool = True
    source: Source = Source.CUSTOM
    entries: tuple[PicklistEntry, ...] = ()

    def entry(self, name: str) -> PicklistEntry | None:
        return next((e for e in self.entries if e.name == name), None)

    @property
    def entry_names(self) -> frozenset[str]:
        return frozenset(e.name for e in self.entries)

    def evolve(self, **changes: Any) -> Picklist:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldDefinition:
    """One field of an object. Attributes that do not apply to ``type`` keep their defaults (None)."""

    name: str
    type: FieldType
    label: str
    source: Source = Source.CUSTOM
    active: bool = True
    required: bool = False
    unique: bool = False
    #: Not copied by Make a Copy, nor by deep copy.
    no_copy: bool = False
    #: Whether create/update may set it; system fields are not editable.
    editable: bool = True
    #: Set by the service, never by a caller (``id``, ``created_date__v`` …).
    system_managed: bool = False
    list_column: bool = False
    order: int = 0
    help_content: str | None = None
    description: str | None = None
    #: String and LongText.
    max_length: int | None = None
    #: Number.
    scale: int | None = None
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    #: Picklist: the picklist's name (``color__c``; MDL writes ``'Picklist.color__c'``).
    picklist: str | None = None
    multi_value: bool = False
    #: Object: the target object and how records relate.
    object: str | None = None
    relationship_type: FieldRelationship | None = None
    relationship_outbound_name: str | None = None
    relationship_inbound_name: str | None = None
    relationship_inbound_label: str | None = None
    relationship_deletion: RelationshipDeletion | None = None
    #: Parent fields only: whether deep copy copies the children along this relationship. Vault has
    #: such a setting ("hierarchical copy is enabled for the parent object relationship") but names
    #: no attribute for it [U]; vaultjobs calls it ``hierarchical_copy``, on by default, and writes it
    #: in MDL only when off, so that scripts for Vault stay free of it.
    hierarchical_copy: bool = True
    #: MDL attributes accepted and kept for round trips, not acted on (``facetable``, ``format_mask`` …).
    extra: tuple[tuple[str, ExtraValue], ...] = ()

    @property
    def is_parent(self) -> bool:
        return self.type is FieldType.OBJECT and self.relationship_type is FieldRelationship.PARENT

    def evolve(self, **changes: Any) -> FieldDefinition:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, kw_only=True, slots=True)
class ObjectDefinition:
    """An object: its identity, its display attributes and its fields (standard fields included)."""

    name: str
    label: str
    label_plural: str
    #: Three characters starting every record id of the object; unique across the vault.
    prefix: str
    source: Source = Source.CUSTOM
    active: bool = True
    description: str | None = None
    help_content: str | None = None
    in_menu: bool = True
    order: int = 0
    audit: bool = True
    allow_attachments: bool = False
    dynamic_security: bool = False
    system_managed: bool = False
    allow_types: bool = False
    object_class: str = "base"
    data_store: str = "standard"
    available_lifecycles: tuple[str, ...] = ()
    fields: tuple[FieldDefinition, ...] = ()
    extra: tuple[tuple[str, ExtraValue], ...] = ()

    def field(self, name: str) -> FieldDefinition | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def custom_fields(self) -> tuple[FieldDefinition, ...]:
        return tuple(f for f in self.fields if f.source is Source.CUSTOM)

    @property
    def parent_fields(self) -> tuple[FieldDefinition, ...]:
        return tuple(f for f in self.fields if f.is_parent)

    @property
    def reference_fields(self) -> tuple[FieldDefinition, ...]:
        return tuple(f for f in self.fields if f.type is FieldType.OBJECT)

    def evolve(self, **changes: Any) -> ObjectDefinition:
        return dataclasses.replace(self, **changes)

    def with_field(self, definition: FieldDefinition) -> ObjectDefinition:
        """This object with ``definition`` added, or replacing the field of the same name in place."""
        if self.field(definition.name) is None:
            return self.evolve(fields=(*self.fields, definition))
        return self.evolve(fields=tuple(definition if f.name == definition.name else f for f in self.fields))

    def without_field(self, name: str) -> ObjectDefinition:
        return self.evolve(fields=tuple(f for f in self.fields if f.name != name))


#: The picklist behind every object's ``status__v``.
DEFAULT_STATUS_PICKLIST = Picklist(
    name="default_status__v",
    label="Status",
    source=Source.STANDARD,
    entries=(
        PicklistEntry(name="active__v", label="Active", order=1),
        PicklistEntry(name="inactive__v", label="Inactive", order=2),
    ),
)

STANDARD_FIELD_NAMES = (
    "id",
    "name__v",
    "status__v",
    "object_type__v",
    "created_by__v",
    "created_date__v",
    "modified_by__v",
    "modified_date__v",
)


def standard_fields() -> tuple[FieldDefinition, ...]:
    """The fields every object has, in Vault's order; ``name__v`` is the only one a caller sets."""
    def system(name: str, type_: FieldType, label: str, order: int, **kw: Any) -> FieldDefinition:
        return FieldDefinition(
            name=name,
            type=type_,
            label=label,
            order=order,
            source=Source.STANDARD,
            editable=False,
            system_managed=True,
            no_copy=True,
            **kw,
        )

    return (
        system("id", FieldType.ID, "ID", 0),
        FieldDefinition(
            name="name__v",
            type=FieldType.STRING,
            label="Name",
            source=Source.STANDARD,
            required=True,
            max_length=128,
            list_column=True,
            order=1,
        ),
        FieldDefinition(
            name="status__v",
            type=FieldType.PICKLIST,
            label="Status",
            source=Source.STANDARD,
            picklist=DEFAULT_STATUS_PICKLIST.name,
            order=2,
        ),
        system("object_type__v", FieldType.STRING, "Object Type", 3, max_length=128),
        system("created_by__v", FieldType.NUMBER, "Created By", 4, scale=0),
        system("created_date__v", FieldType.DATETIME, "Created Date", 5),
        system("modified_by__v", FieldType.NUMBER, "Last Modified By", 6, scale=0),
        system("modified_date__v", FieldType.DATETIME, "Last Modified Date", 7),
    )


def field_defaults(type_: FieldType) -> dict[str, Any]:
    """Attribute values a field of ``type_`` gets when its definition does not set them."""
    if type_ is FieldType.STRING:
        return {"max_length": STRING_DEFAULT_LENGTH}
    if type_ is FieldType.LONG_TEXT:
        return {"max_length": LONG_TEXT_MAX_LENGTH}
    if type_ is FieldType.NUMBER:
        return {"scale": 0}
    if type_ is FieldType.OBJECT:
        return {"relationship_type": FieldRelationship.REFERENCE, "relationship_deletion": RelationshipDeletion.BLOCK}
    return {}
