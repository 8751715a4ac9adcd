"""The catalog as plain JSON values, so that the store can keep objects and picklists as rows or
documents and read them back equal.

Enums become their values, Decimals become strings (exact), tuples become lists; keys equal to their
default are left out, so a stored document names only what a definition sets and grows no noise
when a new attribute with a default is added to :mod:`vaultjobs.objects.metadata`.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from enum import Enum
from typing import Any

from vaultjobs.objects.catalog import Catalog
from vaultjobs.objects.metadata import (
    ExtraValue,
    FieldDefinition,
    FieldRelationship,
    FieldType,
    ObjectDefinition,
    Picklist,
    PicklistEntry,
    RelationshipDeletion,
    Source,
)

FORMAT_VERSION = 1


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _from_plain(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"decimal"}:
        return Decimal(value["decimal"])
    if isinstance(value, list):
        return tuple(_from_plain(v) for v in value)
    return value


def _dump(instance: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(instance):
        if f.name in skip:
            continue
        value = getattr(instance, f.name)
        default = f.default if f.default is not dataclasses.MISSING else dataclasses.MISSING
        if default is not dataclasses.MISSING and value == default:
            continue
        out[f.name] = _plain(value)
    return out


def _extra_to_json(extra: tuple[tuple[str, ExtraValue], ...]) -> list[list[Any]]:
    return [[name, _plain(value)] for name, value in extra]


def _extra_from_json(items: list[list[Any]]) -> tuple[tuple[str, ExtraValue], ...]:
    return tuple((str(name), _from_plain(value)) for name, value in items)


def field_to_json(definition: FieldDefinition) -> dict[str, Any]:
    out = _dump(definition, skip=("extra",))
    if definition.extra:
        out["extra"] = _extra_to_json(definition.extra)
    return out


def field_from_json(data: dict[str, Any]) -> FieldDefinition:
    values = {k: _from_plain(v) for k, v in data.items() if k != "extra"}
    values["type"] = FieldType(values["type"])
    for key, enum in (
        ("source", Source),
        ("relationship_type", FieldRelationship),
        ("relationship_deletion", RelationshipDeletion),
    ):
        if values.get(key) is not None:
            values[key] = enum(values[key])
    return FieldDefinition(**values, extra=_extra_from_json(data.get("extra", [])))


def object_to_json(definition: ObjectDefinition) -> dict[str, Any]:
    out = _dump(definition, skip=("fields", "extra"))
    out["fields"] = [field_to_json(f) for f in definition.fields]
    if definition.extra:
        out["extra"] = _extra_to_json(definition.extra)
    return out


def object_from_json(data: dict[str, Any]) -> ObjectDefinition:
    values = {k: _from_plain(v) for k, v in data.items() if k not in ("fields", "extra")}
    if "source" in values:
        values["source"] = Source(values["source"])
    return ObjectDefinition(
        **values,
        fields=tuple(field_from_json(f) for f in data.get("fields", [])),
        extra=_extra_from_json(data.get("extra", [])),
    )


def picklist_to_json(picklist: Picklist) -> dict[str, Any]:
    out = _dump(picklist, skip=("entries",))
    out["entries"] = [_dump(e) for e in picklist.entries]
    return out


def picklist_from_json(data: dict[str, Any]) -> Picklist:
    values = {k: v for k, v in data.items() if k != "entries"}
    if "source" in values:
        values["source"] = Source(values["source"])
    return Picklist(**values, entries=tuple(PicklistEntry(**e) for e in data.get("entries", [])))


def catalog_to_json(catalog: Catalog) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "objects": [object_to_json(o) for o in catalog.objects],
        "picklists": [picklist_to_json(p) for p in catalog.picklists],
        "retired_prefixes": sorted(catalog.retired_prefixes),
    }


def catalog_from_json(data: dict[str, Any]) -> Catalog:
    if data.get("format") != FORMAT_VERSION:
        raise ValueError(f"Unknown catalog format [{data.get('format')}]")
    return Catalog(
        (object_from_json(o) for o in data.get("objects", [])),
        (picklist_from_json(p) for p in data.get("picklists", [])),
        data.get("retired_prefixes", []),
    )
