"""MDL files applied straight to a store: ``serve --mdl FILE`` at start and ``mdl apply --data-dir``.

A restart with the same file must not fail, so a ``CREATE`` of a component the catalog already
has is skipped (reported as such) rather than failed; every other statement applies as Execute
MDL applies it, and a statement that fails stops the command. Scripts meant to run at every start
should therefore use ``CREATE`` for new components and ``RECREATE`` to change existing ones.
The server's modules are imported by callers inside `server_imports`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from vaultjobs import errors
from vaultjobs.jobtypes.objects.catalogs import CatalogService
from vaultjobs.objects.mdl import Command, MdlSyntaxError, Statement, StatementResult, parse
from vaultjobs.store import Store
from vaultjobs.timeutil import Clock, SystemClock

__all__ = ["FileOutcome", "apply_files", "apply_script"]

#: Whose name the catalog's change stamps carry when no ``admin`` exists yet (the first user).
ADMIN_USERNAME = "admin"


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class FileOutcome:
    """What one script did: the statements applied, and the CREATEs skipped as already present."""

    path: str
    results: tuple[StatementResult, ...]
    skipped: tuple[str, ...]

    @property
    def succeeded(self) -> bool:
        return all(r.success for r in self.results)


def _statement_texts(script: str, statements: list[Statement]) -> list[str]:
    """Each statement's own text, cut from the script at the statements' starting positions."""
    lines = script.splitlines(keepends=True)
    starts = [sum(len(line) for line in lines[: s.position.line - 1]) + s.position.column - 1 for s in statements]
    ends = [*starts[1:], len(script)]
    return [script[start:end] for start, end in zip(starts, ends, strict=True)]


#: Attempts when replicas starting together apply the same script at once.
ATTEMPTS = 3


def apply_script(service: CatalogService, script: str, path: str, user_id: int) -> FileOutcome:
    """Apply ``script`` skipping CREATEs of existing components, all of it or nothing. Raises
    `errors.InvalidData` when it does not parse (nothing applies).

    Replicas started together (a Deployment of several) apply the same script at the same moment: a
    CREATE that fails because another replica made the component meanwhile sends the script round
    again, against the catalog as it is now, where that CREATE is skipped."""
    try:
        statements = list(parse(script))
    except MdlSyntaxError as exc:
        raise errors.InvalidData(f"{path}: MDL syntax error: {exc}") from exc
    texts = _statement_texts(script, statements)
    outcome = FileOutcome(path=path, results=(), skipped=())
    for _ in range(ATTEMPTS):
        catalog = service.current()
        present = [s.command is Command.CREATE and catalog.has_component(s.component.type, s.component.name)
                   for s in statements]
        kept = [t for t, skip in zip(texts, present, strict=True) if not skip]
        skipped = tuple(s.label for s, skip in zip(statements, present, strict=True) if skip)
        if not kept:
            return FileOutcome(path=path, results=(), skipped=skipped)
        execution = service.execute("".join(kept), user_id, all_or_nothing=True)
        outcome = FileOutcome(path=path, results=execution.results, skipped=skipped)
        now = service.current()
        raced = [r for r in execution.results
                 if not r.success and r.command is Command.CREATE and now.has_component(*r.component.split(".", 1))]
        if outcome.succeeded or not raced:
            return outcome
    return outcome


def apply_files(store: Store, paths: Iterable[str | Path], clock: Clock | None = None) -> list[FileOutcome]:
    """Apply each file in order; stops at the first file with a failed statement (it is returned last)."""
    service = CatalogService(store, clock or SystemClock())
    admin = store.users.get_user_by_name(ADMIN_USERNAME)
    user_id = admin.id if admin is not None else 1
    outcomes: list[FileOutcome] = []
    for path in paths:
        script = Path(path).read_text(encoding="utf-8")
        outcome = apply_script(service, script, str(path), user_id)
        outcomes.append(outcome)
        if not outcome.succeeded:
            break
    return outcomes
