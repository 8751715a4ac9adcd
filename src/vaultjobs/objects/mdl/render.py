"""Definitions back to MDL: the ``RECREATE`` statement that, executed, gives the same definition.

The packages export writes these into ``.mdl`` steps; the round trip (render, parse, apply to a
catalog without the component) is what the unit tests hold it to. Every modelled attribute that
applies is written, defaults included, so that the script says everything and depends on no default;
standard fields appear only where their changeable attributes differ from the standard definition.
Layout follows Vault's own scripts: three spaces of indent, one attribute a line.
"""

from __future__ import annotations

from decimal import Decimal

from vaultjobs.objects.mdl.attributes import STANDARD_FIELD_CHANGEABLE
from vaultjobs.objects.metadata import (
    ExtraValue,
    FieldDefinition,
    FieldType,
    ObjectDefinition,
    Picklist,
    Source,
    standard_fields,
)

_INDENT = "   "


def literal(value: ExtraValue) -> str:
    """One attribute's parenthesised value: ``('text')``, ``(12)``, ``(true)``, ``('a', 'b')``, ``()``."""
    if value is None:
        return "()"
    if isinstance(value, tuple):
        return "(" + ", ".join(_scalar(v) for v in value) + ")"
    return f"({_scalar(value)})"


def _scalar(value: str | int | Decimal | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _block(head: str, items: list[str], depth: int) -> str:
    """``head(`` then one item a line, then ``)``; items already laid out (nested blocks) start with
    spaces and are kept as they are."""
    pad = _INDENT * depth
    inner = _INDENT * (depth + 1)
    body = ",\n".join(item if item.startswith(" ") else inner + item for item in items)
    return f"{pad}{head}(\n{body}\n{pad})"


def _field_lines(definition: FieldDefinition) -> list[str]:
    values: list[tuple[str, ExtraValue]] = [
        ("label", definition.label),
        ("type", definition.type.value),
        ("active", definition.active),
        ("required", definition.required),
        ("unique", definition.unique),
        ("no_copy", definition.no_copy),
        ("editable", definition.editable),
        ("list_column", definition.list_column),
        ("order", definition.order),
        ("help_content", definition.help_content),
        ("description", definition.description),
    ]
    if definition.type in (FieldType.STRING, FieldType.LONG_TEXT):
        values.append(("max_length", definition.max_length))
    if definition.type is FieldType.NUMBER:
        values += [
            ("scale", definition.scale),
            ("min_value", definition.min_value),
            ("max_value", definition.max_value),
        ]
    if definition.type is FieldType.PICKLIST:
        values += [("picklist", f"Picklist.{definition.picklist}"), ("multi_value", definition.multi_value)]
    if definition.type is FieldType.OBJECT:
        values += [
            ("object", definition.object),
            ("relationship_type", definition.relationship_type.value if definition.relationship_type else None),
            ("relationship_outbound_name", definition.relationship_outbound_name),
            ("relationship_inbound_name", definition.relationship_inbound_name),
            ("relationship_inbound_label", definition.relationship_inbound_label),
            (
                "relationship_deletion",
                definition.relationship_deletion.value if definition.relationship_deletion else None,
            ),
        ]
        if not definition.hierarchical_copy:
            values.append(("hierarchical_copy", False))
    values += list(definition.extra)
    return [f"{name}{literal(value)}" for name, value in values]


def _standard_field_lines(definition: FieldDefinition) -> list[str] | None:
    """The changed attributes of a standard field, or None when it is as shipped."""
    shipped = next((f for f in standard_fields() if f.name == definition.name), None)
    if shipped is None or shipped == definition:
        return None
    changed = [
        name for name in sorted(STANDARD_FIELD_CHANGEABLE) if getattr(shipped, name) != getattr(definition, name)
    ]
    return [f"{name}{literal(getattr(definition, name))}" for name in changed] or None


def render_object(definition: ObjectDefinition) -> str:
    """``RECREATE Object name ( … );`` with the object's attributes, then its fields."""
    values: list[tuple[str, ExtraValue]] = [
        ("label", definition.label),
        ("label_plural", definition.label_plural),
        ("active", definition.active),
        ("description", definition.description),
        ("help_content", definition.help_content),
        ("in_menu", definition.in_menu),
        ("allow_attachments", definition.allow_attachments),
        ("audit", definition.audit),
        ("order", definition.order),
        ("dynamic_security", definition.dynamic_security),
        ("system_managed", definition.system_managed),
        ("available_lifecycles", definition.available_lifecycles or None),
        ("object_class", definition.object_class),
        ("allow_types", definition.allow_types),
        ("data_store", definition.data_store),
        *definition.extra,
    ]
    lines = [f"{name}{literal(value)}" for name, value in values]
    for f in definition.fields:
        field_lines = _field_lines(f) if f.source is Source.CUSTOM else _standard_field_lines(f)
        if field_lines:
            lines.append(_block(f"Field {f.name}", field_lines, 1))
    return _block(f"RECREATE Object {definition.name} ", lines, 0) + ";\n"


def render_picklist(picklist: Picklist) -> str:
    """``RECREATE Picklist name ( … );`` with its entries, as Vault's documentation shows one."""
    lines = [f"label{literal(picklist.label)}", f"active{literal(picklist.active)}"]
    for entry in picklist.entries:
        entry_lines = [f"value{literal(entry.label)}", f"order{literal(entry.order)}", f"active{literal(entry.active)}"]
        lines.append(_block(f"Picklistentry {entry.name}", entry_lines, 1))
    return _block(f"RECREATE Picklist {picklist.name} ", lines, 0) + ";\n"
