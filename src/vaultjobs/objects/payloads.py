"""Object metadata as Vault's metadata endpoints answer it: Retrieve Object Collection, Retrieve
Object Metadata and Retrieve Object Field Metadata.

Pure functions from the catalog to the endpoint's keys (the envelope adds ``responseStatus``). Keys
come in the order of Vault's examples; URLs carry the API version the caller used. Numbers that are
Decimals in the definition become ints when whole, floats otherwise, so any JSON encoder takes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from vaultjobs.objects.catalog import Catalog, Relationship
from vaultjobs.objects.metadata import FieldDefinition, FieldType, ObjectDefinition
from vaultjobs.timeutil import render_datetime

STEADY_STATE = "STEADY_STATE"
IN_DEPLOYMENT = "IN_DEPLOYMENT"


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditStamps:
    """Who created and last changed an object's definition, and when; kept by the store."""

    created_by: int
    created_date: datetime
    modified_by: int
    modified_date: datetime


def metadata_url(version: str, object_name: str) -> str:
    return f"/api/{version}/metadata/vobjects/{object_name}"


def records_url(version: str, object_name: str) -> str:
    return f"/api/{version}/vobjects/{object_name}"


def json_number(value: Decimal | int) -> int | float:
    if isinstance(value, int):
        return value
    return int(value) if value == value.to_integral_value() else float(value)


def _status(active: bool) -> list[str]:
    return ["active__v" if active else "inactive__v"]


def object_summary(
    definition: ObjectDefinition, version: str, configuration_state: str = STEADY_STATE
) -> dict[str, Any]:
    """One entry of Retrieve Object Collection's ``objects``."""
    return {
        "url": metadata_url(version, definition.name),
        "label": definition.label,
        "name": definition.name,
        "label_plural": definition.label_plural,
        "prefix": definition.prefix,
        "in_menu": definition.in_menu,
        "source": definition.source.value,
        "status": _status(definition.active),
        "configuration_state": configuration_state,
    }


def collection_object(
    definition: ObjectDefinition, version: str, configuration_state: str = STEADY_STATE
) -> dict[str, Any]:
    """``responseDetails.object`` of Retrieve Object Record Collection: the summary with ``order``."""
    summary = object_summary(definition, version, configuration_state)
    out = {k: summary[k] for k in ("url", "label", "name", "label_plural", "prefix")}
    out["order"] = definition.order
    out.update({k: summary[k] for k in ("in_menu", "source", "status", "configuration_state")})
    return out


def record_object(definition: ObjectDefinition, version: str) -> dict[str, Any]:
    """``responseDetails.object`` of Retrieve Object Record: five keys only."""
    return {
        "url": metadata_url(version, definition.name),
        "label": definition.label,
        "name": definition.name,
        "label_plural": definition.label_plural,
        "prefix": definition.prefix,
    }


def render_object_collection(
    catalog: Catalog, version: str, configuration_states: dict[str, str] | None = None
) -> dict[str, Any]:
    """Retrieve Object Collection: ``{"objects": [...]}``, in catalog order."""
    states = configuration_states or {}
    return {"objects": [object_summary(o, version, states.get(o.name, STEADY_STATE)) for o in catalog.objects]}


def _target(catalog: Catalog, name: str, version: str) -> dict[str, Any]:
    target = catalog.object(name)
    out: dict[str, Any] = {"url": metadata_url(version, name), "name": name}
    if target is not None:
        out.update(label=target.label, label_plural=target.label_plural, prefix=target.prefix)
    return out


def render_relationship(catalog: Catalog, relationship: Relationship, version: str) -> dict[str, Any]:
    return {
        "relationship_name": relationship.relationship_name,
        "relationship_label": relationship.relationship_label,
        "field": relationship.field,
        "relationship_type": relationship.relationship_type.value,
        "relationship_deletion": relationship.relationship_deletion.value,
        "object": _target(catalog, relationship.object, version),
    }


def render_field(catalog: Catalog, definition: FieldDefinition, version: str) -> dict[str, Any]:
    """One field as ``fields[]`` of Retrieve Object Metadata and ``field`` of Field Metadata show it:
    the common keys in the order of Vault's example, then those of the field's type."""
    out: dict[str, Any] = {
        "name": definition.name,
        "type": definition.type.value,
        "label": definition.label,
        "required": definition.required,
        "editable": definition.editable,
        "no_copy": definition.no_copy,
        "source": definition.source.value,
        "list_column": definition.list_column,
        "facetable": False,
        "status": _status(definition.active),
        "order": definition.order,
        "unique": definition.unique,
    }
    if definition.system_managed:
        out["system_managed"] = True
    if definition.help_content is not None:
        out["help_content"] = definition.help_content
    if definition.type in (FieldType.STRING, FieldType.LONG_TEXT) and definition.max_length is not None:
        out["max_length"] = definition.max_length
    if definition.type is FieldType.NUMBER:
        if definition.scale is not None:
            out["scale"] = definition.scale
        if definition.min_value is not None:
            out["min_value"] = json_number(definition.min_value)
        if definition.max_value is not None:
            out["max_value"] = json_number(definition.max_value)
    if definition.type is FieldType.PICKLIST:
        out["picklist"] = definition.picklist
        out["multi_value"] = definition.multi_value
    if definition.type is FieldType.OBJECT and definition.object:
        out["object"] = _target(catalog, definition.object, version)
        out["relationship_type"] = definition.relationship_type.value if definition.relationship_type else None
        out["relationship_outbound_name"] = definition.relationship_outbound_name
        out["relationship_inbound_name"] = definition.relationship_inbound_name
        if definition.relationship_inbound_label is not None:
            out["relationship_inbound_label"] = definition.relationship_inbound_label
        out["relationship_deletion"] = (
            definition.relationship_deletion.value if definition.relationship_deletion else None
        )
    return out


def render_object_metadata(
    catalog: Catalog,
    definition: ObjectDefinition,
    version: str,
    *,
    stamps: AuditStamps | None = None,
    configuration_state: str = STEADY_STATE,
) -> dict[str, Any]:
    """Retrieve Object Metadata: ``{"object": {...}}`` with ``urls``, ``relationships`` and
    ``fields``. ``created_*``/``modified_*`` appear when the store passes ``stamps``;
    ``configuration_state`` (as in the object collection [U: not in Vault's example]) comes last."""
    name = definition.name
    body: dict[str, Any] = {
        "name": name,
        "label": definition.label,
        "label_plural": definition.label_plural,
        "prefix": definition.prefix,
        "source": definition.source.value,
        "status": _status(definition.active),
        "data_store": definition.data_store,
        "object_class": definition.object_class,
        "allow_types": definition.allow_types,
        "default_obj_type": "base__v",
        "available_lifecycles": list(definition.available_lifecycles),
        "in_menu": definition.in_menu,
        "order": definition.order,
        "auditable": definition.audit,
        "system_managed": definition.system_managed,
        "dynamic_security": definition.dynamic_security,
    }
    if stamps is not None:
        body.update(
            created_by=stamps.created_by,
            created_date=render_datetime(stamps.created_date),
            modified_by=stamps.modified_by,
            modified_date=render_datetime(stamps.modified_date),
        )
    base = metadata_url(version, name)
    body["urls"] = {
        "field": base + "/fields/{name}",
        "record": records_url(version, name) + "/{id}",
        "list": records_url(version, name),
        "metadata": base,
    }
    body["relationships"] = [render_relationship(catalog, r, version) for r in catalog.relationships(name)]
    body["fields"] = [render_field(catalog, f, version) for f in definition.fields]
    body["configuration_state"] = configuration_state
    return {"object": body}


def render_field_metadata(catalog: Catalog, definition: FieldDefinition, version: str) -> dict[str, Any]:
    """Retrieve Object Field Metadata: ``{"field": {...}}``."""
    return {"field": render_field(catalog, definition, version)}
