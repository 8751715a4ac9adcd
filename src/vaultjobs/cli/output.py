"""What commands print: tables and messages through rich, JSON through orjson, one way each.

A table piped to a file or another program is never wrapped: off a terminal the console is wider
than any row we print, so each row stays one line for ``grep``, ``cut`` and ``awk``.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import orjson
from rich.console import Console, RenderableType

__all__ = ["UNWRAPPED_WIDTH", "console", "emit_json", "show", "status_style", "when"]

#: Console width off a terminal: wide enough that no row of ours wraps.
UNWRAPPED_WIDTH = 100_000


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr): the terminal's width on a terminal, unwrapped elsewhere."""
    out = Console(stderr=stderr, highlight=False)
    if not out.is_terminal:
        out.width = UNWRAPPED_WIDTH
    return out


def show(*renderables: RenderableType, stderr: bool = False) -> None:
    """Print tables or rich text."""
    console(stderr=stderr).print(*renderables)


def emit_json(value: Any) -> None:
    """Machine-readable output: indented JSON and a newline on stdout."""
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def status_style(status: str) -> str:
    """The colour of a job or task status: green for success, yellow while it runs, red otherwise."""
    if status == "SUCCESS":
        return "green"
    if status in ("RUNNING", "QUEUED", "QUEUEING", "SCHEDULED", "CANCELLING"):
        return "yellow"
    return "red"


def when(value: dt.datetime | None) -> str:
    """A date-time for a table cell (empty when unknown)."""
    return "" if value is None else value.isoformat(timespec="seconds")
