"""The parsed form of an MDL script: statements, components, attributes and ALTER sub-commands,
each remembering where in the script it was written so that every error can point at it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

#: One attribute value: ``'text'``, ``12``, ``1.5``, ``true``.
Scalar = str | int | Decimal | bool


class Command(StrEnum):
    CREATE = "CREATE"
    RECREATE = "RECREATE"
    ALTER = "ALTER"
    RENAME = "RENAME"
    DROP = "DROP"


class SubAction(StrEnum):
    """What an ALTER does to one subcomponent."""

    ADD = "ADD"
    MODIFY = "MODIFY"
    RENAME = "RENAME"
    DROP = "DROP"


@dataclass(frozen=True, slots=True)
class Position:
    """1-based line and column in the script."""

    line: int
    column: int

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Attribute:
    """``name(value, …)``; ``values`` is empty for ``name()``."""

    name: str
    values: tuple[Scalar, ...]
    position: Position


@dataclass(frozen=True, kw_only=True, slots=True)
class Component:
    """``Type name ( attributes…, Subtype subname ( … ) … )``."""

    type: str
    name: str
    attributes: tuple[Attribute, ...] = ()
    subcomponents: tuple[Component, ...] = ()
    position: Position

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)


@dataclass(frozen=True, kw_only=True, slots=True)
class SubCommand:
    """``ADD|MODIFY Subtype name (…)``, ``DROP Subtype name`` or ``RENAME Subtype old TO new`` in an ALTER."""

    action: SubAction
    type: str
    name: str
    position: Position
    #: ADD and MODIFY: the subcomponent's attributes.
    component: Component | None = None
    #: RENAME: the new name.
    new_name: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Statement:
    """One statement, numbered from 1 in the script."""

    number: int
    command: Command
    component: Component
    position: Position
    #: ALTER: ADD/MODIFY/DROP/RENAME of subcomponents, in script order.
    subcommands: tuple[SubCommand, ...] = ()
    #: RENAME: the new name.
    new_name: str | None = None

    @property
    def label(self) -> str:
        """``Object.product__c``, as Execute MDL's ``component`` names it."""
        return f"{self.component.type}.{self.component.name}"
