"""Record values: an incoming value (from JSON or from a CSV cell) checked against its field and
turned into what the store keeps, with the error a Vault user would see; and record ids.

Messages and types follow Vault where its documentation shows one (``PARAMETER_REQUIRED`` "Missing
required parameter [f]", ``OPERATION_NOT_ALLOWED`` "Another resource already exists with [f=v]",
``INVALID_DATA`` "The resource [id] does not exist"); the others are vaultjobs' wording [U], all of
type ``INVALID_DATA``. Choices [U]:

* From CSV, an empty cell is no value; from JSON, ``null`` and ``""`` are no value (deep copy's
  documented "empty string clears the field").
* Booleans: ``true``/``false`` in any case, from JSON also as strings; nothing else.
* A DateTime without an offset is taken as UTC; stored values are UTC.
* Picklists: JSON gives an array of entry names or one name; a CSV cell gives names separated by
  commas. Inactive entries are refused; a single-value field takes at most one name. Stored (and
  answered) as a tuple, rendered as an array.
* Numbers keep at most ``scale`` digits after the point (more is an error, not a rounding) and stay
  within ``min_value``/``max_value``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from vaultjobs.errors import InvalidData, OperationNotAllowed, ParameterRequired
from vaultjobs.objects.catalog import Catalog
from vaultjobs.objects.metadata import NUMBER_MAX, NUMBER_MIN, FieldDefinition, FieldType, ObjectDefinition, Picklist
from vaultjobs.timeutil import parse_datetime, render_datetime

#: Digits after the prefix in a record id: ``00P`` + ``000000000202``.
ID_DIGITS = 12
RECORD_ID_LENGTH = 3 + ID_DIGITS
_RECORD_ID = re.compile(r"^[0-9A-Z]{3}[0-9A-Z]{12}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

#: A value as the store keeps it.
StoredValue = str | Decimal | bool | date | datetime | tuple[str, ...] | None
Origin = Literal["json", "csv"]


def format_record_id(prefix: str, sequence: int) -> str:
    """The 15-character id of record number ``sequence`` of the object with ``prefix``:
    ``format_record_id("00P", 202) == "00P000000000202"`` [I: Vault's ids are opaque; the digits are
    decimal so ids sort as they were created, which clients relying on "last = newest" need]."""
    if len(prefix) != 3:
        raise ValueError(f"a prefix has three characters, not {prefix!r}")
    if not 1 <= sequence < 10**ID_DIGITS:
        raise ValueError(f"record sequence {sequence} is out of range")
    return f"{prefix}{sequence:0{ID_DIGITS}d}"


def is_record_id(value: str) -> bool:
    return bool(_RECORD_ID.match(value))


def record_id_prefix(value: str) -> str | None:
    """The prefix of a well-formed record id, else None."""
    return value[:3] if is_record_id(value) else None


def missing_required(field_name: str) -> ParameterRequired:
    return ParameterRequired.named(field_name)


def unique_clash(field_name: str, value: object) -> OperationNotAllowed:
    """The documented error when another record holds the same value of a unique field."""
    return OperationNotAllowed(f"Another resource already exists with [{field_name}={value}]")


def missing_record(record_id: str) -> InvalidData:
    return InvalidData(f"The resource [{record_id}] does not exist")


def unknown_field(object_name: str, field_name: str) -> InvalidData:
    return InvalidData(f"Field [{field_name}] does not exist on object [{object_name}]")


def not_editable(field_name: str) -> InvalidData:
    return InvalidData(f"Field [{field_name}] is not editable")


def _invalid(definition: FieldDefinition, raw: object, expected: str) -> InvalidData:
    return InvalidData(f"Invalid value [{raw}] for field [{definition.name}]: expected {expected}")


def _is_empty(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and raw == "")


def coerce_value(
    definition: FieldDefinition,
    raw: object,
    *,
    origin: Origin = "json",
    picklist: Picklist | None = None,
    target_prefix: str | None = None,
    enforce_required: bool = True,
) -> StoredValue:
    """``raw`` as the store keeps it for ``definition``, or the ``VaultError`` a caller sees.

    ``picklist`` is the field's picklist (Picklist fields), ``target_prefix`` the prefix of the
    object an Object field points at (whether the record exists is the store's question).
    """
    if _is_empty(raw) or (
        definition.type is FieldType.PICKLIST and isinstance(raw, list | tuple) and not raw
    ):
        if enforce_required and definition.required:
            raise missing_required(definition.name)
        return None
    kind = definition.type
    if kind in (FieldType.STRING, FieldType.LONG_TEXT):
        if not isinstance(raw, str):
            raise _invalid(definition, raw, "text")
        if definition.max_length is not None and len(raw) > definition.max_length:
            raise InvalidData(
                f"Value for field [{definition.name}] is too long: {len(raw)} characters, "
                f"at most {definition.max_length}"
            )
        return raw
    if kind is FieldType.ID:
        if not isinstance(raw, str) or not is_record_id(raw):
            raise _invalid(definition, raw, "a record id")
        return raw
    if kind is FieldType.NUMBER:
        return _number(definition, raw)
    if kind is FieldType.BOOLEAN:
        return _boolean(definition, raw)
    if kind is FieldType.DATE:
        if not isinstance(raw, str) or not _DATE.match(raw):
            raise _invalid(definition, raw, "a date as YYYY-MM-DD")
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise _invalid(definition, raw, "a date as YYYY-MM-DD") from None
    if kind is FieldType.DATETIME:
        if not isinstance(raw, str):
            raise _invalid(definition, raw, "a date-time like 2026-01-31T12:00:00.000Z")
        try:
            return parse_datetime(raw).astimezone(UTC)
        except ValueError:
            raise _invalid(definition, raw, "a date-time like 2026-01-31T12:00:00.000Z") from None
    if kind is FieldType.PICKLIST:
        return _picklist(definition, raw, origin, picklist)
    return _reference(definition, raw, target_prefix)


def _number(definition: FieldDefinition, raw: object) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise _invalid(definition, raw, "a number")
    try:
        value = Decimal(str(raw).strip()) if not isinstance(raw, Decimal) else raw
    except InvalidOperation:
        raise _invalid(definition, raw, "a number") from None
    if not value.is_finite():
        raise _invalid(definition, raw, "a number")
    scale = definition.scale or 0
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > scale:
        raise InvalidData(
            f"Value [{raw}] for field [{definition.name}] has more than {scale} digits after the decimal point"
        )
    low = definition.min_value if definition.min_value is not None else NUMBER_MIN
    high = definition.max_value if definition.max_value is not None else NUMBER_MAX
    if not low <= value <= high:
        raise InvalidData(f"Value [{raw}] for field [{definition.name}] is outside the range [{low}, {high}]")
    return value


def _boolean(definition: FieldDefinition, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise _invalid(definition, raw, "true or false")


def _picklist(definition: FieldDefinition, raw: object, origin: Origin, picklist: Picklist | None) -> tuple[str, ...]:
    if isinstance(raw, str):
        names = [n.strip() for n in raw.split(",")] if origin == "csv" else [raw]
    elif isinstance(raw, list | tuple) and all(isinstance(n, str) for n in raw):
        names = [str(n) for n in raw]
    else:
        raise _invalid(definition, raw, "picklist value names")
    if len(names) > 1 and not definition.multi_value:
        raise InvalidData(f"Field [{definition.name}] takes one picklist value, got {len(names)}")
    if len(set(names)) != len(names):
        raise InvalidData(f"Field [{definition.name}] lists a picklist value twice")
    for name in names:
        entry = picklist.entry(name) if picklist else None
        if entry is None or not entry.active:
            raise InvalidData(f"Invalid picklist value [{name}] for field [{definition.name}]")
    return tuple(names)


def _reference(definition: FieldDefinition, raw: object, target_prefix: str | None) -> str:
    if not isinstance(raw, str) or not is_record_id(raw.strip()):
        raise _invalid(definition, raw, "a record id")
    value = raw.strip()
    if target_prefix is not None and not value.startswith(target_prefix):
        raise missing_record(value)
    return value


def to_json_value(value: StoredValue) -> Any:
    """A stored value as Vault's JSON shows it: picklists as arrays, DateTimes with milliseconds."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return render_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def to_csv_value(value: StoredValue) -> str:
    """A stored value as one CSV cell: empty for None, picklist names joined by commas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    shown = to_json_value(value)
    return str(shown)



@dataclass(frozen=True, kw_only=True, slots=True)
class RecordInput:
    """One incoming record, checked: field values as stored, and what the store still has to resolve."""

    values: dict[str, StoredValue]
    #: Object fields given through their relationship (``product__cr.name__v`` column): field name →
    #: (field of the target object, value to look up).
    lookups: dict[str, tuple[str, str]]


def coerce_record(
    catalog: Catalog,
    definition: ObjectDefinition,
    raw: Mapping[str, object],
    *,
    origin: Origin = "json",
    creating: bool,
    passthrough: frozenset[str] = frozenset({"id"}),
) -> RecordInput:
    """Check every column of one incoming record against ``definition``; the first problem raises.

    Unknown columns and columns that are not editable are errors; ``passthrough`` columns (``id``,
    and the ``idParam`` field for upserts) are left to the caller. A relationship column
    ``{relationship}.{field}`` names the target record by another field instead of its id. When
    ``creating``, every required editable field must have a value (given or looked up).
    """
    values: dict[str, StoredValue] = {}
    lookups: dict[str, tuple[str, str]] = {}
    by_relationship = {f.relationship_outbound_name: f for f in definition.reference_fields}
    for column, raw_value in raw.items():
        if column in passthrough:
            continue
        if "." in column:
            relationship, _, target_field = column.partition(".")
            reference = by_relationship.get(relationship)
            if reference is None:
                raise unknown_field(definition.name, column)
            if not reference.editable:
                raise not_editable(reference.name)
            if _is_empty(raw_value):
                if creating and reference.required:
                    raise missing_required(reference.name)
                values[reference.name] = None
                continue
            lookups[reference.name] = (target_field, str(raw_value))
            continue
        found = definition.field(column)
        if found is None:
            raise unknown_field(definition.name, column)
        if not found.editable:
            raise not_editable(column)
        target = catalog.object(found.object) if found.object else None
        values[column] = coerce_value(
            found,
            raw_value,
            origin=origin,
            picklist=catalog.picklist(found.picklist) if found.picklist else None,
            target_prefix=target.prefix if target else None,
        )
    if creating:
        for f in definition.fields:
            if f.required and f.editable and f.name not in values and f.name not in lookups:
                raise missing_required(f.name)
    return RecordInput(values=values, lookups=lookups)
