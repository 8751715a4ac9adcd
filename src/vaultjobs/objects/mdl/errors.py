"""Errors of MDL: a script that does not parse, and a statement that cannot apply.

Tree::

    MdlError                 (message; the base)
    ├── MdlSyntaxError       the script does not parse; carries the line and column
    └── MdlStatementError    one statement cannot apply to the catalog (the statement fails alone)
"""

from __future__ import annotations

from vaultjobs.objects.mdl.syntax import Position


class MdlError(Exception):
    """The MDL script could not be executed."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip()
        super().__init__(self.message)


class MdlSyntaxError(MdlError):
    """The script does not parse."""

    def __init__(self, message: str, position: Position) -> None:
        self.reason = message
        self.position = position
        super().__init__(f"{message} at {position}")


class MdlStatementError(MdlError):
    """A statement cannot apply; ``position`` points at the attribute or subcommand at fault."""

    def __init__(self, message: str, position: Position | None = None) -> None:
        self.reason = message
        self.position = position
        super().__init__(f"{message} ({position})" if position else message)
