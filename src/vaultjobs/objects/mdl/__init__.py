"""Vault's MDL for objects and picklists: parse a script, apply it to a catalog, render a definition
back. One parser and one applier serve Execute MDL, ``serve --mdl`` and package deployment alike."""

from __future__ import annotations

from vaultjobs.objects.mdl.apply import StatementResult, apply, execute
from vaultjobs.objects.mdl.errors import MdlError, MdlStatementError, MdlSyntaxError
from vaultjobs.objects.mdl.parser import COMPONENT_TYPES, parse, tokenize
from vaultjobs.objects.mdl.render import render_object, render_picklist
from vaultjobs.objects.mdl.results import render_execution
from vaultjobs.objects.mdl.syntax import (
    Attribute,
    Command,
    Component,
    Position,
    Statement,
    SubAction,
    SubCommand,
)

__all__ = [
    "Attribute",
    "COMPONENT_TYPES",
    "Command",
    "Component",
    "MdlError",
    "MdlStatementError",
    "MdlSyntaxError",
    "Position",
    "Statement",
    "StatementResult",
    "SubAction",
    "SubCommand",
    "apply",
    "execute",
    "parse",
    "render_execution",
    "render_object",
    "render_picklist",
    "tokenize",
]
