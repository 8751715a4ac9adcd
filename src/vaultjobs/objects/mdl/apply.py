"""Applying parsed MDL to a catalog: one statement at a time, each all or nothing.

``apply(catalog, statements)`` returns the new catalog and one :class:`StatementResult` per statement.
A statement that cannot apply leaves the catalog as the previous statement left it, reports why, and
the script goes on with the next statement [I: Vault counts ``failures`` per script, so a script may
have several; the spec leaves the shape of a failure open]. What each command does:

* ``CREATE``: a new custom (``__c``) component; fails if it exists.
* ``RECREATE``: creates it, or makes an existing one match the definition: attributes not written
  take their defaults, custom fields (entries) not written are dropped. Standard fields stay; a
  standard field written in the script may change only its label, help, description, list column
  and order. A field may not change type [I: Vault refuses type changes of fields holding data].
* ``ALTER``: sets the attributes written, and ADD / MODIFY / RENAME / DROP of fields (entries).
* ``RENAME``: renames a custom component; Object fields and Picklist fields that point at it follow.
* ``DROP``: removes a custom component; refused while another object points at it (or a field uses
  the picklist). Its prefix is retired.

Standard components (``__v``/``__sys``) cannot be created, recreated, renamed or dropped; ALTER may
add custom fields to them. After each statement the whole catalog is checked
(:meth:`Catalog.problems`), so a parent cycle, a second parent field or a missing target fails the
statement that would introduce it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from vaultjobs.objects.catalog import Catalog, CatalogError
from vaultjobs.objects.mdl.attributes import (
    ENTRY_ATTRIBUTES,
    FIELD_ATTRIBUTES,
    FIELD_EXTRA_ATTRIBUTES,
    OBJECT_ATTRIBUTES,
    OBJECT_EXTRA_ATTRIBUTES,
    PICKLIST_ATTRIBUTES,
    STANDARD_FIELD_CHANGEABLE,
    TYPE_SPECIFIC,
    read_attributes,
)
from vaultjobs.objects.mdl.errors import MdlStatementError
from vaultjobs.objects.mdl.parser import parse
from vaultjobs.objects.mdl.syntax import Command, Component, Position, Statement, SubAction, SubCommand
from vaultjobs.objects.metadata import (
    NAME_PATTERN,
    ExtraValue,
    FieldDefinition,
    FieldType,
    ObjectDefinition,
    Picklist,
    PicklistEntry,
    Source,
    field_defaults,
    inbound_relationship_name,
    is_standard_name,
    outbound_relationship_name,
    standard_fields,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class StatementResult:
    """The outcome of one statement, as Execute MDL's ``statement_execution`` reports it."""

    statement: int
    command: Command
    #: ``Object.product__c``.
    component: str
    success: bool
    #: Why it failed (None on success), with the line and column where that is known.
    reason: str | None = None

    @property
    def message(self) -> str:
        kind, _, name = self.component.partition(".")
        head = f"{self.command.value} {kind} {name}"
        return f"[SUCCESS] {head}" if self.success else f"[FAILURE] {head}: {self.reason}"


def execute(catalog: Catalog, script: str) -> tuple[Catalog, tuple[StatementResult, ...]]:
    """Parse ``script`` (:class:`MdlSyntaxError` when it does not parse: nothing applies) and apply it."""
    return apply(catalog, parse(script))


def apply(catalog: Catalog, statements: Iterable[Statement]) -> tuple[Catalog, tuple[StatementResult, ...]]:
    """The catalog after every statement that could apply, and one result per statement, in order."""
    results: list[StatementResult] = []
    # Problems the catalog already had are not the statement's fault; only new ones fail it.
    known = set(catalog.problems())
    for statement in statements:
        try:
            after = _apply_one(catalog, statement)
            problems = after.problems()
            new_problems = [p for p in problems if p not in known]
            if new_problems:
                raise MdlStatementError(new_problems[0])
        except (MdlStatementError, CatalogError) as exc:
            reason = exc.args[0] if isinstance(exc, CatalogError) else str(exc)
            results.append(_result(statement, success=False, reason=reason))
            continue
        catalog, known = after, set(problems)
        results.append(_result(statement, success=True))
    return catalog, tuple(results)


def _result(statement: Statement, *, success: bool, reason: str | None = None) -> StatementResult:
    return StatementResult(
        statement=statement.number,
        command=statement.command,
        component=statement.label,
        success=success,
        reason=reason,
    )


def _apply_one(catalog: Catalog, statement: Statement) -> Catalog:
    if statement.component.type == "Object":
        return _apply_object(catalog, statement)
    return _apply_picklist(catalog, statement)


def _require_custom_name(name: str, what: str, position: Position) -> None:
    if not NAME_PATTERN.match(name):
        raise MdlStatementError(
            f"[{name}] is not a valid {what} name: lowercase letters, digits and underscores, at most 40 "
            "characters, then a namespace such as __c",
            position,
        )
    if is_standard_name(name):
        raise MdlStatementError(f"{what} [{name}] is in a standard namespace; custom components end in __c", position)


# -- objects ---------------------------------------------------------------------------------------


def _apply_object(catalog: Catalog, statement: Statement) -> Catalog:
    component = statement.component
    name = component.name
    existing = catalog.object(name)
    position = statement.position
    command = statement.command
    if command in (Command.ALTER, Command.DROP, Command.RENAME) and existing is None:
        raise MdlStatementError(f"Object [{name}] does not exist", position)
    if command is Command.CREATE and existing is not None:
        raise MdlStatementError(f"Object [{name}] already exists", position)
    if existing is not None and existing.source is Source.STANDARD and command is not Command.ALTER:
        raise MdlStatementError(f"Object [{name}] is a standard object and cannot be {_past(command)}", position)

    if command is Command.DROP:
        assert existing is not None
        users = [f"{o.name}.{f.name}" for o, f in catalog.inbound_references(name) if o.name != name]
        if users:
            raise MdlStatementError(
                f"Object [{name}] is referenced by {', '.join(users)}; change or drop those fields first", position
            )
        return catalog.without_object(name)
    if command is Command.RENAME:
        new_name = statement.new_name or ""
        _require_custom_name(new_name, "Object", position)
        if catalog.object(new_name) is not None:
            raise MdlStatementError(f"Object [{new_name}] already exists", position)
        return catalog.renamed_object(name, new_name)
    if command is Command.ALTER:
        assert existing is not None
        return catalog.with_object(_alter_object(existing, statement))
    # CREATE or RECREATE
    if existing is None:
        _require_custom_name(name, "Object", position)
    return catalog.with_object(_build_object(catalog, component, existing))


def _past(command: Command) -> str:
    return {Command.RECREATE: "recreated", Command.RENAME: "renamed", Command.DROP: "dropped"}.get(
        command, "changed"
    )


def _object_values(component: Component, where: str) -> tuple[dict[str, Any], dict[str, ExtraValue]]:
    return read_attributes(component.attributes, OBJECT_ATTRIBUTES, OBJECT_EXTRA_ATTRIBUTES, where)


def _build_object(catalog: Catalog, component: Component, existing: ObjectDefinition | None) -> ObjectDefinition:
    """The definition a CREATE or RECREATE writes: defaults, then what the script sets."""
    where = f"Object [{component.name}]"
    values, extra = _object_values(component, where)
    for required in ("label", "label_plural"):
        if required not in values:
            raise MdlStatementError(f"Missing required attribute [{required}] for {where}", component.position)
    # Standard fields as shipped (a RECREATE resets what it does not write), then what it writes.
    fields: list[FieldDefinition] = list(standard_fields())
    for sub in component.subcomponents:
        current = next((f for f in fields if f.name == sub.name), None)
        if current is None and existing is not None:
            # RECREATE keeps a custom field it names; its type may not change.
            kept = existing.field(sub.name)
            if kept is not None and kept.source is Source.CUSTOM:
                fields.append(_build_field(component.name, sub, None, previous_type=kept))
                continue
        if current is not None:
            fields = [_modify_field(component.name, current, sub) if f.name == sub.name else f for f in fields]
        else:
            fields.append(_build_field(component.name, sub, None))
    return ObjectDefinition(
        name=component.name,
        prefix=existing.prefix if existing else catalog.allocate_prefix(),
        source=Source.CUSTOM,
        fields=tuple(fields),
        extra=tuple(extra.items()),
        **values,
    )


def _alter_object(existing: ObjectDefinition, statement: Statement) -> ObjectDefinition:
    where = f"Object [{existing.name}]"
    values, extra = _object_values(statement.component, where)
    merged_extra = dict(existing.extra)
    merged_extra.update(extra)
    definition = existing.evolve(**values, extra=tuple(merged_extra.items()))
    for sub in statement.subcommands:
        definition = _alter_field(definition, sub)
    return definition


def _alter_field(definition: ObjectDefinition, sub: SubCommand) -> ObjectDefinition:
    current = definition.field(sub.name)
    where = f"Field [{definition.name}.{sub.name}]"
    if sub.action is SubAction.ADD:
        if current is not None:
            raise MdlStatementError(f"{where} already exists", sub.position)
        assert sub.component is not None
        return definition.with_field(_build_field(definition.name, sub.component, None))
    if current is None:
        raise MdlStatementError(f"{where} does not exist", sub.position)
    if sub.action is SubAction.MODIFY:
        assert sub.component is not None
        return definition.with_field(_modify_field(definition.name, current, sub.component))
    if current.source is Source.STANDARD:
        verb = "dropped" if sub.action is SubAction.DROP else "renamed"
        raise MdlStatementError(f"{where} is a standard field and cannot be {verb}", sub.position)
    if sub.action is SubAction.DROP:
        return definition.without_field(sub.name)
    new_name = sub.new_name or ""
    _require_custom_name(new_name, "Field", sub.position)
    if definition.field(new_name) is not None:
        raise MdlStatementError(f"Field [{definition.name}.{new_name}] already exists", sub.position)
    return definition.evolve(
        fields=tuple(f.evolve(name=new_name) if f.name == sub.name else f for f in definition.fields)
    )


def _modify_field(object_name: str, current: FieldDefinition, component: Component) -> FieldDefinition:
    if current.source is Source.STANDARD:
        where = f"standard field [{object_name}.{current.name}]"
        for attribute in component.attributes:
            if attribute.name not in STANDARD_FIELD_CHANGEABLE:
                raise MdlStatementError(
                    f"Attribute [{attribute.name}] of {where} cannot be changed", attribute.position
                )
        values, _ = read_attributes(component.attributes, FIELD_ATTRIBUTES, frozenset(), where)
        return current.evolve(**values)
    return _build_field(object_name, component, current)


def _build_field(
    object_name: str,
    component: Component,
    current: FieldDefinition | None,
    *,
    previous_type: FieldDefinition | None = None,
) -> FieldDefinition:
    """A custom field from its MDL: over ``current`` for MODIFY, from defaults otherwise.
    ``previous_type`` is the field a RECREATE replaces: its type may not change."""
    where = f"Field [{object_name}.{component.name}]"
    if current is None:
        _require_custom_name(component.name, "Field", component.position)
    values, extra = read_attributes(component.attributes, FIELD_ATTRIBUTES, FIELD_EXTRA_ATTRIBUTES, where)
    if current is None:
        for required in ("label", "type"):
            if required not in values:
                raise MdlStatementError(f"Missing required attribute [{required}] for {where}", component.position)
    was = current or previous_type
    if was is not None and "type" in values and values["type"] is not was.type:
        attribute = component.attribute("type")
        raise MdlStatementError(
            f"{where} cannot change type from {was.type.value} to {values['type'].value}",
            attribute.position if attribute else component.position,
        )
    field_type: FieldType = values.get("type", current.type if current else FieldType.STRING)
    for attribute in component.attributes:
        allowed = TYPE_SPECIFIC.get(attribute.name)
        if allowed is not None and field_type not in allowed:
            raise MdlStatementError(
                f"Attribute [{attribute.name}] does not apply to {field_type.value} field {where}",
                attribute.position,
            )
    if current is not None:
        merged_extra = dict(current.extra)
        merged_extra.update(extra)
        return current.evolve(**values, extra=tuple(merged_extra.items()))
    base: dict[str, Any] = field_defaults(field_type)
    if field_type is FieldType.OBJECT:
        base["relationship_outbound_name"] = outbound_relationship_name(component.name)
        base["relationship_inbound_name"] = inbound_relationship_name(object_name)
    base.update(values)
    if field_type is FieldType.PICKLIST and not base.get("picklist"):
        raise MdlStatementError(f"Missing required attribute [picklist] for {where}", component.position)
    if field_type is FieldType.OBJECT and not base.get("object"):
        raise MdlStatementError(f"Missing required attribute [object] for {where}", component.position)
    return FieldDefinition(name=component.name, source=Source.CUSTOM, extra=tuple(extra.items()), **base)


# -- picklists -------------------------------------------------------------------------------------


def _apply_picklist(catalog: Catalog, statement: Statement) -> Catalog:
    component = statement.component
    name = component.name
    existing = catalog.picklist(name)
    position = statement.position
    command = statement.command
    if command in (Command.ALTER, Command.DROP, Command.RENAME) and existing is None:
        raise MdlStatementError(f"Picklist [{name}] does not exist", position)
    if command is Command.CREATE and existing is not None:
        raise MdlStatementError(f"Picklist [{name}] already exists", position)
    if existing is not None and existing.source is Source.STANDARD and command is not Command.ALTER:
        raise MdlStatementError(f"Picklist [{name}] is a standard picklist and cannot be {_past(command)}", position)
    if command is Command.DROP:
        users = [f"{o.name}.{f.name}" for o in catalog.objects for f in o.fields if f.picklist == name]
        if users:
            raise MdlStatementError(f"Picklist [{name}] is used by {', '.join(users)}", position)
        return catalog.without_picklist(name)
    if command is Command.RENAME:
        new_name = statement.new_name or ""
        _require_custom_name(new_name, "Picklist", position)
        if catalog.picklist(new_name) is not None:
            raise MdlStatementError(f"Picklist [{new_name}] already exists", position)
        return catalog.renamed_picklist(name, new_name)
    where = f"Picklist [{name}]"
    values, _ = read_attributes(component.attributes, PICKLIST_ATTRIBUTES, frozenset(), where)
    if command is Command.ALTER:
        assert existing is not None
        picklist = existing.evolve(**values)
        for sub in statement.subcommands:
            picklist = _alter_entry(picklist, sub)
        return catalog.with_picklist(picklist)
    if existing is None:
        _require_custom_name(name, "Picklist", position)
    if "label" not in values:
        raise MdlStatementError(f"Missing required attribute [label] for {where}", component.position)
    entries = tuple(_build_entry(name, sub, None) for sub in component.subcomponents)
    return catalog.with_picklist(Picklist(name=name, entries=entries, **values))


def _alter_entry(picklist: Picklist, sub: SubCommand) -> Picklist:
    current = picklist.entry(sub.name)
    where = f"Picklistentry [{picklist.name}.{sub.name}]"
    if sub.action is SubAction.ADD:
        if current is not None:
            raise MdlStatementError(f"{where} already exists", sub.position)
        assert sub.component is not None
        return picklist.evolve(entries=(*picklist.entries, _build_entry(picklist.name, sub.component, None)))
    if current is None:
        raise MdlStatementError(f"{where} does not exist", sub.position)
    if sub.action is SubAction.MODIFY:
        assert sub.component is not None
        changed = _build_entry(picklist.name, sub.component, current)
        return picklist.evolve(entries=tuple(changed if e.name == sub.name else e for e in picklist.entries))
    if picklist.source is Source.STANDARD:
        verb = "dropped" if sub.action is SubAction.DROP else "renamed"
        raise MdlStatementError(f"{where} belongs to a standard picklist and cannot be {verb}", sub.position)
    if sub.action is SubAction.DROP:
        return picklist.evolve(entries=tuple(e for e in picklist.entries if e.name != sub.name))
    new_name = sub.new_name or ""
    _require_custom_name(new_name, "Picklistentry", sub.position)
    if picklist.entry(new_name) is not None:
        raise MdlStatementError(f"Picklistentry [{picklist.name}.{new_name}] already exists", sub.position)
    return picklist.evolve(
        entries=tuple(dataclasses.replace(e, name=new_name) if e.name == sub.name else e for e in picklist.entries)
    )


def _build_entry(picklist_name: str, component: Component, current: PicklistEntry | None) -> PicklistEntry:
    where = f"Picklistentry [{picklist_name}.{component.name}]"
    if current is None:
        _require_custom_name(component.name, "Picklistentry", component.position)
    values, _ = read_attributes(component.attributes, ENTRY_ATTRIBUTES, frozenset(), where)
    if "value" in values:
        values["label"] = values.pop("value")
    if current is not None:
        return dataclasses.replace(current, **values)
    if "label" not in values:
        raise MdlStatementError(f"Missing required attribute [value] for {where}", component.position)
    return PicklistEntry(name=component.name, **values)
