"""Which MDL attributes each component type takes, and how a written value becomes a definition value.

An attribute vaultjobs models becomes a field of the definition; one it accepts without acting on
(``enable_esignatures``, ``facetable`` …, seen in Vault's own scripts) is kept verbatim in ``extra``
so that rendering the definition back gives the same script; any other name is an error, never
silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from vaultjobs.objects.mdl.errors import MdlStatementError
from vaultjobs.objects.mdl.syntax import Attribute
from vaultjobs.objects.metadata import (
    ExtraValue,
    FieldRelationship,
    FieldType,
    RelationshipDeletion,
)

Converter = Callable[[Attribute, str], Any]


def _single(attribute: Attribute, where: str) -> Any:
    if len(attribute.values) != 1:
        raise MdlStatementError(
            f"Attribute [{attribute.name}] of {where} takes one value, got {len(attribute.values)}",
            attribute.position,
        )
    return attribute.values[0]


def _wrong(attribute: Attribute, where: str, expected: str) -> MdlStatementError:
    shown = ", ".join(repr(v) if not isinstance(v, bool) else str(v).lower() for v in attribute.values)
    return MdlStatementError(
        f"Attribute [{attribute.name}] of {where} expects {expected}, got ({shown})", attribute.position
    )


def text(attribute: Attribute, where: str) -> str:
    value = _single(attribute, where)
    if not isinstance(value, str):
        raise _wrong(attribute, where, "a string")
    return value


def optional_text(attribute: Attribute, where: str) -> str | None:
    return None if not attribute.values else text(attribute, where)


def boolean(attribute: Attribute, where: str) -> bool:
    value = _single(attribute, where)
    if not isinstance(value, bool):
        raise _wrong(attribute, where, "true or false")
    return value


def integer(attribute: Attribute, where: str) -> int:
    value = _single(attribute, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong(attribute, where, "a whole number")
    return value


def decimal(attribute: Attribute, where: str) -> Decimal | None:
    if not attribute.values:
        return None
    value = _single(attribute, where)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _wrong(attribute, where, "a number")
    return Decimal(value)


def text_list(attribute: Attribute, where: str) -> tuple[str, ...]:
    if not all(isinstance(v, str) for v in attribute.values):
        raise _wrong(attribute, where, "a list of strings")
    return tuple(str(v) for v in attribute.values)


def component_ref(kind: str) -> Converter:
    """``'Picklist.color__c'`` or ``'color__c'`` → ``color__c`` (Vault writes both forms)."""

    def convert(attribute: Attribute, where: str) -> str:
        value = text(attribute, where)
        if value.startswith(kind + "."):
            return value[len(kind) + 1 :]
        if "." in value:
            raise _wrong(attribute, where, f"a reference to a {kind} ('{kind}.name__c')")
        return value

    return convert


def enum(choices: type[FieldRelationship] | type[RelationshipDeletion]) -> Converter:
    def convert(attribute: Attribute, where: str) -> Any:
        value = text(attribute, where)
        try:
            return choices(value)
        except ValueError:
            allowed = ", ".join(f"'{c.value}'" for c in choices)
            raise _wrong(attribute, where, f"one of {allowed}") from None

    return convert


#: Field types MDL may declare (``ID`` is the id field's alone).
DECLARABLE_TYPES = tuple(t for t in FieldType if t is not FieldType.ID)


def field_type(attribute: Attribute, where: str) -> FieldType:
    value = text(attribute, where)
    for t in DECLARABLE_TYPES:
        if t.value == value:
            return t
    raise MdlStatementError(
        f"Unsupported field type [{value}] for {where}: vaultjobs supports "
        + ", ".join(t.value for t in DECLARABLE_TYPES),
        attribute.position,
    )


def extra_value(attribute: Attribute, where: str) -> ExtraValue:
    if not attribute.values:
        return None
    if len(attribute.values) == 1:
        return attribute.values[0]
    return text_list(attribute, where)


OBJECT_ATTRIBUTES: dict[str, Converter] = {
    "label": text,
    "label_plural": text,
    "active": boolean,
    "description": optional_text,
    "help_content": optional_text,
    "in_menu": boolean,
    "order": integer,
    "audit": boolean,
    "allow_attachments": boolean,
    "dynamic_security": boolean,
    "system_managed": boolean,
    "allow_types": boolean,
    "object_class": text,
    "data_store": text,
    "available_lifecycles": text_list,
}
OBJECT_EXTRA_ATTRIBUTES = frozenset(
    {
        "enable_esignatures",
        "user_role_setup_object",
        "secure_sharing_settings",
        "secure_attachments",
        "secure_audit_trail",
        "prevent_record_overwrite",
        "multi_select",
    }
)

FIELD_ATTRIBUTES: dict[str, Converter] = {
    "label": text,
    "type": field_type,
    "active": boolean,
    "required": boolean,
    "unique": boolean,
    "no_copy": boolean,
    "editable": boolean,
    "list_column": boolean,
    "order": integer,
    "help_content": optional_text,
    "description": optional_text,
    "max_length": integer,
    "scale": integer,
    "min_value": decimal,
    "max_value": decimal,
    "picklist": component_ref("Picklist"),
    "multi_value": boolean,
    "object": component_ref("Object"),
    "relationship_type": enum(FieldRelationship),
    "relationship_outbound_name": text,
    "relationship_inbound_name": text,
    "relationship_inbound_label": optional_text,
    "relationship_deletion": enum(RelationshipDeletion),
    "hierarchical_copy": boolean,
}
FIELD_EXTRA_ATTRIBUTES = frozenset(
    {
        "facetable",
        "format_mask",
        "encrypted",
        "lookup_relationship_name",
        "lookup_source_field",
        "relationship_criteria",
        "secure_relationship",
        "controlling_field",
        "create_object_inline",
    }
)

#: Attributes that only some field types take.
TYPE_SPECIFIC: dict[str, tuple[FieldType, ...]] = {
    "max_length": (FieldType.STRING, FieldType.LONG_TEXT),
    "scale": (FieldType.NUMBER,),
    "min_value": (FieldType.NUMBER,),
    "max_value": (FieldType.NUMBER,),
    "picklist": (FieldType.PICKLIST,),
    "multi_value": (FieldType.PICKLIST,),
    "object": (FieldType.OBJECT,),
    "relationship_type": (FieldType.OBJECT,),
    "relationship_outbound_name": (FieldType.OBJECT,),
    "relationship_inbound_name": (FieldType.OBJECT,),
    "relationship_inbound_label": (FieldType.OBJECT,),
    "relationship_deletion": (FieldType.OBJECT,),
    "hierarchical_copy": (FieldType.OBJECT,),
}

#: What MDL may change on a standard field.
STANDARD_FIELD_CHANGEABLE = frozenset({"label", "help_content", "description", "list_column", "order"})

PICKLIST_ATTRIBUTES: dict[str, Converter] = {"label": text, "active": boolean}
ENTRY_ATTRIBUTES: dict[str, Converter] = {"value": text, "order": integer, "active": boolean}


def read_attributes(
    attributes: tuple[Attribute, ...],
    modelled: dict[str, Converter],
    extras: frozenset[str],
    where: str,
) -> tuple[dict[str, Any], dict[str, ExtraValue]]:
    """``(modelled values, extra values)`` of ``attributes``; an unknown name is an error."""
    values: dict[str, Any] = {}
    extra: dict[str, ExtraValue] = {}
    for attribute in attributes:
        if attribute.name in modelled:
            values[attribute.name] = modelled[attribute.name](attribute, where)
        elif attribute.name in extras:
            extra[attribute.name] = extra_value(attribute, where)
        else:
            raise MdlStatementError(f"Unknown attribute [{attribute.name}] for {where}", attribute.position)
    return values, extra
