"""The object commands: ``vaultjobs mdl apply`` and ``vaultjobs objects …`` (list, records, and the
Deep Copy, Cascade Delete and Create EDL jobs).

They talk to the API with the client commands' connection options. ``mdl apply`` with
``--data-dir``/``--database-url`` instead applies the files straight to a store, as ``serve --mdl``
does at start (see `vaultjobs.cli.mdl_files`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson
from rich.table import Table

from vaultjobs.client import (
    VAULT_STATUS_INTERVAL,
    JobStarted,
    MdlExecution,
    VaultError,
)
from vaultjobs.settings import Settings

from .client import Connection, _client, _reporting, _show_job, _wait_with_progress, connection_options
from .errors import EXIT_CODES_HELP, reporting
from .options import option_group
from .output import emit_json, show
from .server import STORE, server_failures, server_imports

__all__ = ["COMMANDS"]


wait_options = option_group(
    click.option("--wait", "wait", is_flag=True, help="Wait for the job to end; the exit code tells how."),
    click.option("--timeout", type=float, default=3600.0, show_default=True, envvar="VAULT_WAIT_TIMEOUT",
                 show_envvar=True, help="With --wait: give up after this many seconds (exit 3)."),
    click.option("--poll-interval", type=float, default=VAULT_STATUS_INTERVAL, show_default=True,
                 envvar="VAULT_POLL_INTERVAL", show_envvar=True, help="Seconds between status calls (10 minimum)."),
    click.option("--min-poll-interval", type=float, default=VAULT_STATUS_INTERVAL, show_default=True,
                 envvar="VAULTJOBS_MIN_POLL_INTERVAL", show_envvar=True,
                 help="Lower the 10 s floor, only for a vaultjobs server with a shorter status window."),
    click.option("--progress/--no-progress", "show_progress", default=None,
                 help="With --wait: live progress bar on stderr (default: on unless --json)."),
    into="waiting",
    build=lambda **values: values,
)  # fmt: skip


def _run_job(connection: Connection, waiting: dict[str, Any], start: Any) -> None:
    """Start a job with ``start(client)``; print its id, or with ``--wait`` follow it to its end."""
    with _reporting(connection):
        extra = {"poll_interval": waiting["poll_interval"], "min_poll_interval": waiting["min_poll_interval"]}
        with _client(connection, **extra) as client:
            started: JobStarted = start(client)
            if not waiting["wait"]:
                job = None
            elif waiting["show_progress"] or (waiting["show_progress"] is None and not connection.json_output):
                job = _wait_with_progress(client, started.job_id, waiting["timeout"])
            else:
                job = client.wait(started.job_id, timeout=waiting["timeout"])
    if job is not None:
        _show_job(connection, job)
    elif connection.json_output:
        emit_json({"job_id": started.job_id, "url": started.url})
    else:
        click.echo(f"Started job {started.job_id}.")


# -- mdl -------------------------------------------------------------------------------------------


@click.group("mdl")
def mdl_group() -> None:
    """Object definitions in MDL (Vault's Metadata Definition Language)."""


def _execution_json(execution: MdlExecution) -> dict[str, Any]:
    return {
        "ok": execution.ok,
        "failures": execution.failures,
        "statements": [
            {"statement": s.statement, "command": s.command, "component": s.component, "ok": s.ok,
             "message": s.message}
            for s in execution.statements
        ],
    }


def _show_statements(rows: list[tuple[str, str, str, str]]) -> None:
    table = Table("File", "Statement", "Result", "Message")
    for path, component, result, message in rows:
        table.add_row(path, component, result, message)
    show(table)


@mdl_group.command("apply", epilog=EXIT_CODES_HELP)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--local", is_flag=True,
              help="Apply to the store of --data-dir/--database-url (VAULTJOBS_*) instead of through the API.")
@option_group(*STORE, into="store_options", build=lambda **values: values)
@connection_options
def mdl_apply(connection: Connection, files: tuple[Path, ...], local: bool, store_options: dict[str, Any]) -> None:
    """Apply MDL scripts in order (Execute MDL); stops at the first with a failed statement (exit 1)."""
    if local or any(v is not None for v in store_options.values()):
        _apply_local(connection, files, store_options)
        return
    results: list[dict[str, Any]] = []
    rows: list[tuple[str, str, str, str]] = []
    failed = False
    with _reporting(connection):
        with _client(connection) as client:
            for path in files:
                try:
                    execution = client.objects.execute_mdl(path.read_text(encoding="utf-8"))
                except VaultError as exc:
                    if not isinstance(exc.body, dict) or "script_execution" not in exc.body:
                        raise
                    execution = MdlExecution.from_payload(exc.body)
                results.append({"file": str(path), **_execution_json(execution)})
                rows.extend((str(path), s.component or "", "applied" if s.ok else "[red]failed[/]", s.message or "")
                            for s in execution.statements)
                if not execution.ok:
                    failed = True
                    break
    if connection.json_output:
        emit_json(results)
    else:
        _show_statements(rows)
    if failed:
        raise SystemExit(1)


def _apply_local(connection: Connection, files: tuple[Path, ...], store_options: dict[str, Any]) -> None:
    with server_imports("mdl apply --local"):
        from vaultjobs.node import open_migrated_store

        from .mdl_files import apply_files

        failures = server_failures()
    try:
        settings = Settings.from_env(**store_options)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    with reporting(*failures, json_output=connection.json_output):
        store = open_migrated_store(settings)
        try:
            outcomes = apply_files(store, files)
        finally:
            store.close()
    if connection.json_output:
        emit_json([
            {"file": o.path, "ok": o.succeeded, "skipped": list(o.skipped),
             "statements": [{"statement": r.statement, "command": r.command.value, "component": r.component,
                             "ok": r.success, "message": r.message} for r in o.results]}
            for o in outcomes
        ])
    else:
        rows = [(o.path, label, "already present", "CREATE skipped") for o in outcomes for label in o.skipped]
        rows += [(o.path, r.component, "applied" if r.success else "[red]failed[/]", r.message)
                 for o in outcomes for r in o.results]
        _show_statements(rows)
    if not all(o.succeeded for o in outcomes):
        raise SystemExit(1)


# -- objects ---------------------------------------------------------------------------------------


@click.group("objects")
def objects_group() -> None:
    """Vault objects: definitions, records, Deep Copy, Cascade Delete and Create EDL."""


@objects_group.command("list")
@connection_options
def objects_list(connection: Connection) -> None:
    """List the objects the vault defines (Retrieve Object Collection)."""
    with _reporting(connection):
        with _client(connection) as client:
            objects = client.objects.list()
    if connection.json_output:
        emit_json([{"name": o.name, "label": o.label, "label_plural": o.label_plural, "prefix": o.prefix,
                    "status": o.status} for o in objects])
        return
    table = Table("Object", "Label", "Prefix", "Status")
    for o in objects:
        table.add_row(o.name, o.label or "", o.prefix or "", o.status or "")
    show(table)


@objects_group.command("records")
@click.argument("object_name")
@click.option("--fields", help="Comma-separated fields to show (default: id and name__v).")
@click.option("--sort", help="Sort by id, name__v, created_date__v or modified_date__v, optionally 'desc'.")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many records.")
@connection_options
def objects_records(connection: Connection, object_name: str, fields: str | None, sort: str | None,
                    limit: int | None) -> None:
    """List an object's records (Retrieve Object Record Collection), following every page."""
    names = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    records: list[dict[str, Any]] = []
    with _reporting(connection):
        with _client(connection) as client:
            for item in client.objects.records(object_name, fields=names, sort=sort):
                records.append(item)
                if limit is not None and len(records) >= limit:
                    break
    if connection.json_output:
        emit_json(records)
        return
    columns = names or ["id", "name__v"]
    table = Table(*columns)
    for item in records:
        table.add_row(*(_cell(item.get(c)) for c in columns))
    show(table)
    show(f"{len(records)} records")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


@objects_group.command("deep-copy", epilog=EXIT_CODES_HELP)
@click.argument("object_name")
@click.argument("record_id")
@click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE",
              help="Set a field of the copy (repeatable); VALUE is read as JSON when it parses, else as text.")
@wait_options
@connection_options
def objects_deep_copy(connection: Connection, object_name: str, record_id: str, overrides: tuple[str, ...],
                      waiting: dict[str, Any]) -> None:
    """Copy a record and its children (Deep Copy Object Record)."""
    values = dict(_assignment(item) for item in overrides)
    _run_job(connection, waiting, lambda c: c.objects.deep_copy(object_name, record_id, values or None))


def _assignment(item: str) -> tuple[str, Any]:
    name, sep, raw = item.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"{item!r} is not FIELD=VALUE", param_hint="--set")
    try:
        value: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = raw
    return name.strip(), value


@objects_group.command("cascade-delete", epilog=EXIT_CODES_HELP)
@click.argument("object_name")
@click.argument("record_id")
@wait_options
@connection_options
def objects_cascade_delete(connection: Connection, object_name: str, record_id: str,
                           waiting: dict[str, Any]) -> None:
    """Delete a record and its children (Cascade Delete Object Record)."""
    _run_job(connection, waiting, lambda c: c.objects.cascade_delete(object_name, record_id))


@objects_group.command("create-edl", epilog=EXIT_CODES_HELP)
@click.argument("study_id")
@click.option("--apply-where-edl-items-exist", is_flag=True,
              help="Also create items where the study already has EDL items.")
@wait_options
@connection_options
def objects_create_edl(connection: Connection, study_id: str, apply_where_edl_items_exist: bool,
                       waiting: dict[str, Any]) -> None:
    """Create a study's expected document list from its template (Create EDL)."""
    _run_job(connection, waiting,
             lambda c: c.objects.create_edl(study_id, apply_where_edl_items_exist=apply_where_edl_items_exist))


COMMANDS: tuple[click.Command, ...] = (mdl_group, objects_group)
