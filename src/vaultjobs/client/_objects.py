"""Typed models of the object endpoints: metadata, record results, MDL executions and job result rows.

Like `_models`, every constructor takes the decoded payload and coerces values; each keeps the
payload as ``raw`` because object metadata carries many more keys than a caller usually needs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ._models import ErrorDetail, VaultWarning
from ._parse import as_dict, as_int, as_list, as_str

__all__ = [
    "FieldInfo",
    "MdlExecution",
    "MdlStatement",
    "ObjectMetadata",
    "ObjectSummary",
    "RecordResult",
]


def _status(value: Any) -> str | None:
    """Vault's ``status`` is a list (``["active__v"]``); its first entry, or a plain string as given."""
    if isinstance(value, list):
        value = value[0] if value else None
    return as_str(value)


def _bool(value: Any) -> bool:
    """JSON booleans, and XML's ``"true"``/``"false"`` strings."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class ObjectSummary:
    """One object of Retrieve Object Collection."""

    name: str
    label: str | None = None
    label_plural: str | None = None
    prefix: str | None = None
    status: str | None = None
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_payload(cls, payload: Any) -> ObjectSummary:
        item = as_dict(payload)
        name = as_str(item.get("name"))
        if name is None:
            raise ValueError("object without a name")
        return cls(
            name=name,
            label=as_str(item.get("label")),
            label_plural=as_str(item.get("label_plural")),
            prefix=as_str(item.get("prefix")),
            status=_status(item.get("status")),
            raw=dict(item),
        )


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class FieldInfo:
    """One field of an object's metadata."""

    name: str
    type: str | None = None
    label: str | None = None
    required: bool = False
    unique: bool = False
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_payload(cls, payload: Any) -> FieldInfo:
        item = as_dict(payload)
        name = as_str(item.get("name"))
        if name is None:
            raise ValueError("field without a name")
        return cls(
            name=name,
            type=as_str(item.get("type")),
            label=as_str(item.get("label")),
            required=_bool(item.get("required")),
            unique=_bool(item.get("unique")),
            raw=dict(item),
        )


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class ObjectMetadata:
    """Retrieve Object Metadata: the object and its fields (everything else is in ``raw``)."""

    name: str
    label: str | None = None
    label_plural: str | None = None
    prefix: str | None = None
    fields: tuple[FieldInfo, ...] = ()
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_payload(cls, payload: Any) -> ObjectMetadata:
        item = as_dict(payload)
        name = as_str(item.get("name"))
        if name is None:
            raise ValueError("object metadata without a name")
        return cls(
            name=name,
            label=as_str(item.get("label")),
            label_plural=as_str(item.get("label_plural")),
            prefix=as_str(item.get("prefix")),
            fields=tuple(FieldInfo.from_payload(f) for f in as_list(item.get("fields"))),
            raw=dict(item),
        )

    def field(self, name: str) -> FieldInfo | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class RecordResult:
    """What a bulk create, upsert, update or delete answered for one record (in request order)."""

    ok: bool
    id: str | None = None
    #: With ``id_param``: the value the record was matched on.
    id_param_value: str | None = None
    #: Upsert: ``created`` or ``updated``.
    event: str | None = None
    errors: tuple[ErrorDetail, ...] = ()
    warnings: tuple[VaultWarning, ...] = ()

    @classmethod
    def from_payload(cls, payload: Any) -> RecordResult:
        item = as_dict(payload)
        status = as_str(item.get("responseStatus"))
        data = as_dict(item.get("data")) if isinstance(item.get("data"), dict) else {}
        return cls(
            ok=status in ("SUCCESS", "WARNING"),
            id=as_str(data.get("id")),
            id_param_value=as_str(data.get("id_param_value")),
            event=as_str(data.get("event")),
            errors=ErrorDetail.list_from(item.get("errors")),
            warnings=VaultWarning.list_from(item.get("warnings")),
        )


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class MdlStatement:
    """One statement's outcome in an MDL execution."""

    statement: int
    command: str | None
    component: str | None
    message: str | None
    ok: bool

    @classmethod
    def from_payload(cls, payload: Any) -> MdlStatement:
        item = as_dict(payload)
        return cls(
            statement=as_int(item.get("statement")) or 0,
            command=as_str(item.get("command")),
            component=as_str(item.get("component")),
            message=as_str(item.get("message")),
            ok=as_str(item.get("response")) == "SUCCESS",
        )


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class MdlExecution:
    """Execute MDL's answer (and that of an asynchronous MDL job's results)."""

    ok: bool
    failures: int = 0
    components_affected: int = 0
    statements: tuple[MdlStatement, ...] = ()
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_payload(cls, body: Any) -> MdlExecution:
        item = as_dict(body)
        if "script_execution" not in item:
            raise ValueError("response has no 'script_execution'")
        summary = as_dict(item.get("script_execution"))
        statements = tuple(MdlStatement.from_payload(s) for s in as_list(item.get("statement_execution")))
        failures = as_int(summary.get("failures")) or 0
        return cls(
            ok=failures == 0 and all(s.ok for s in statements),
            failures=failures,
            components_affected=as_int(summary.get("components_affected")) or 0,
            statements=statements,
            raw=dict(item),
        )
