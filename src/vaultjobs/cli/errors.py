"""How a command fails. Each error class owns its exit code, as click's own errors do: the client's
errors (`vaultjobs.client.VaultClientError.exit_code`), the server's (`vaultjobs.errors.VaultError.exit_code`)
and the command errors below. Anything else a command expects to fail with exits 1.

Exit codes::

    0   success (for wait: the job ended SUCCESS)
    1   any other error          2   usage error               3   wait timed out
    4   authentication failed, or session invalid/expired      5   rate limited
    10  ERRORS_ENCOUNTERED       11  CANCELLED                 12  TIMEOUT
    13  COMPLETED_DUE_TO_INACTIVITY   14  MISSED_SCHEDULE      15  FAILED_TO_RUN
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import click
from rich.markup import escape

from vaultjobs.client import JobFailed, VaultError, WaitTimeout

from .output import console, emit_json

__all__ = [
    "EXIT_CODES_HELP",
    "CommandError",
    "NotFound",
    "ServerNotInstalled",
    "exit_code_of",
    "reporting",
]

EXIT_CODES_HELP = """\b
Exit codes:
  0  SUCCESS                      10  ERRORS_ENCOUNTERED
  1  other error                  11  CANCELLED
  2  usage error                  12  TIMEOUT
  3  wait timed out               13  COMPLETED_DUE_TO_INACTIVITY
  4  authentication / session     14  MISSED_SCHEDULE
  5  rate limited                 15  FAILED_TO_RUN
"""


class CommandError(click.ClickException):
    """The command could not do what was asked."""

    exit_code: ClassVar[int] = 1


class NotFound(CommandError):
    """There is no user or definition of that name."""


class ServerNotInstalled(CommandError):
    """This command runs the server, whose dependencies are not installed."""

    def __init__(self, command: str, missing: str | None) -> None:
        super().__init__(
            f"`vaultjobs {command}` needs the server's dependencies ({missing or 'a module'} is missing);"
            " install them with: pip install 'vaultjobs[server]'"
        )


def exit_code_of(exc: BaseException) -> int:
    """The exit code ``exc``'s class owns, or 1."""
    code = getattr(exc, "exit_code", 1)
    return code if isinstance(code, int) else 1


@contextmanager
def reporting(*expected: type[BaseException], json_output: bool = False) -> Iterator[None]:
    """Turn an expected error into a message on stderr (or a JSON object on stdout) and its exit code."""
    try:
        yield
    except expected as exc:
        report(exc, json_output=json_output)
        raise SystemExit(exit_code_of(exc)) from exc


def report(exc: BaseException, *, json_output: bool) -> None:
    message = str(getattr(exc, "message", None) or exc)
    if json_output:
        out: dict[str, Any] = {"error": type(exc).__name__, "message": message}
        if isinstance(exc, VaultError):
            out["errors"] = [dataclasses.asdict(e) for e in exc.errors]
        if isinstance(exc, JobFailed):
            out["job"] = exc.job.to_dict()
        if isinstance(exc, WaitTimeout) and exc.last is not None:
            out["job"] = exc.last.to_dict()
        emit_json(out)
    else:
        console(stderr=True).print(f"[bold red]Error:[/] {escape(message)}", markup=True)
