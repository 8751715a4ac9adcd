"""``vaultjobs package …``: build a ``.vpk`` from a folder, export objects (and records) as one, and
import, validate and deploy packages through the API.

``build`` needs no server (the format module is standard library only). The others use the client
commands' connection options; ``import`` and ``deploy`` follow their job with the progress bar of
``vaultjobs wait`` (the same gated polling, which keeps to Vault's status window), then print the
package's results. A package that is blocked, or a deploy with a step that did not apply, exits 1;
a job that ended badly exits with its status's code, after the results it left are printed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from vaultjobs.client import (
    VAULT_STATUS_INTERVAL,
    DeployResults,
    ImportResults,
    Job,
    JobFailed,
    PackageStep,
    ValidationResults,
    VaultClient,
    WaitTimeout,
)
from vaultjobs.packages import (
    ComponentStep,
    DataStep,
    Package,
    PackageFormatError,
    build_directory,
    read_vpk,
    write_vpk,
)

from .client import Connection, _client, _reporting, _wait_with_progress, connection_options
from .errors import EXIT_CODES_HELP, CommandError, exit_code_of, report, reporting
from .options import json_option, option_group
from .output import emit_json, show

__all__ = ["COMMANDS"]

PACKAGE_EXIT_HELP = EXIT_CODES_HELP + """\b
A package that is blocked, or a deploy with a step that did not apply: exit 1.
"""

job_options = option_group(
    click.option("--timeout", type=float, default=3600.0, show_default=True, envvar="VAULT_WAIT_TIMEOUT",
                 show_envvar=True, help="Give up waiting for the job after this many seconds (exit 3)."),
    click.option("--poll-interval", type=float, default=VAULT_STATUS_INTERVAL, show_default=True,
                 envvar="VAULT_POLL_INTERVAL", show_envvar=True, help="Seconds between status calls (10 minimum)."),
    click.option("--min-poll-interval", type=float, default=VAULT_STATUS_INTERVAL, show_default=True,
                 envvar="VAULTJOBS_MIN_POLL_INTERVAL", show_envvar=True,
                 help="Lower the 10 s floor, only for a vaultjobs server with a shorter status window."),
    click.option("--progress/--no-progress", "show_progress", default=None,
                 help="Live progress bar on stderr (default: on unless --json)."),
    click.option("--logs", "logs_dir", type=click.Path(file_okay=False, path_type=Path),
                 help="Save the package's log files into this folder."),
    into="waiting",
    build=lambda **values: values,
)  # fmt: skip

vpk_file = click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))


# -- output --------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A result model as JSON-ready data, without the ``raw`` payloads it keeps."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name != "raw"}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _style(status: str | None) -> str:
    """Green for verified and deployed, red for anything blocked, failed or missing, yellow otherwise
    (queued, deploying, with warnings); API names and labels alike."""
    text = (status or "").lower().replace(" ", "_")
    if any(bad in text for bad in ("block", "fail", "error", "not_", "missing", "skipped")):
        return "red"
    if text.startswith(("verified", "deployed", "in_package", "in_target")):
        return "yellow" if "warning" in text else "green"
    return "yellow"


def _styled(status: str | None) -> str:
    return f"[{_style(status)}]{escape(status or '')}[/]"


def _steps_table(steps: tuple[PackageStep, ...], *, validation: bool) -> Table:
    table = Table("Step", "Type", "Component", "Label", "Status", *(["Action", "Dependencies"] if validation else []))
    for step in steps:
        component = f"{step.type}.{step.step_name}" if step.step_type == "Component" else step.step_name or ""
        row = [step.name, step.step_type or "", escape(component), escape(step.label or ""), _styled(step.status)]
        if validation:
            needs = ", ".join(f"{d.component_type}.{d.component_name}: {_styled(d.status)}" for d in step.dependencies)
            row += [escape(step.deployment_action or ""), needs]
        table.add_row(*row)
    return table


def _show_import(results: ImportResults) -> None:
    show(_steps_table(results.steps, validation=False))
    show(f"Package {escape(results.name or '')} ({results.package_id}): {_styled(results.package_status)}")


def _show_validation(results: ValidationResults) -> None:
    show(_steps_table(results.steps, validation=True))
    name = escape(results.package_name or "")
    where = f" ({results.package_id})" if results.package_id else ""
    show(f"Package {name}{where}: {_styled(results.package_status)}, "
         f"{results.total_steps_blocked} of {results.total_steps} steps blocked")
    if results.package_error:
        show(f"[red]{escape(results.package_error)}[/]")


def _show_deploy(package_id: str, results: DeployResults) -> None:
    show(_steps_table(results.steps, validation=False))
    show(f"Package {package_id}: {_styled(results.package_status)} — {results.total_steps} steps: "
         f"{results.deployed} deployed, {results.deployed_with_warnings} with warnings, "
         f"{results.deployed_with_failures} with failures, {results.deployed_with_error} with errors, "
         f"{results.failed} failed, {results.skipped} skipped")


def _save_logs(client: VaultClient, logs: tuple[Any, ...], folder: Path | None) -> list[str]:
    if folder is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for log in logs:
        name = Path(log.filename).name or "package.log"
        (folder / name).write_bytes(client.packages.download_log(log.url))
        saved.append(str(folder / name))
    return saved


# -- build ---------------------------------------------------------------------------------------------


def _step_rows(package: Package) -> list[dict[str, Any]]:
    rows = []
    for step in package.steps:
        if isinstance(step, ComponentStep):
            rows.append({"step": step.number, "type": "Component", "component": step.component,
                         "md5": step.checksum, "dependencies": len(step.dependencies)})
        else:
            assert isinstance(step, DataStep)
            rows.append({"step": step.number, "type": "Data", "object": step.object_name, "label": step.label,
                         "action": step.action, "records": step.record_count, "md5": step.checksum})
    return rows


def _write(package: Package, output: Path, json_output: bool) -> None:
    """Write the package, once it reads back: what is written is what Import Package's format checks take."""
    data = write_vpk(package)
    read_vpk(data)
    output.write_bytes(data)
    rows = _step_rows(package)
    if json_output:
        emit_json({"file": str(output), "name": package.manifest.name, "bytes": len(data), "steps": rows})
        return
    table = Table("Step", "Type", "Component", "Detail", "md5")
    for row in rows:
        if row["type"] == "Component":
            detail = f"{row['dependencies']} dependencies" if row["dependencies"] else ""
            table.add_row(row["step"], "Component", row["component"], detail, row["md5"])
        else:
            table.add_row(row["step"], "Data", row["object"], f"{row['action']} {row['records']} records", row["md5"])
    show(table)
    show(f"Wrote {escape(str(output))}: package {escape(package.manifest.name)}, {len(rows)} steps, {len(data)} bytes")


@click.group("package")
def package_group() -> None:
    """Vault packages (.vpk): build, export, import, validate and deploy."""


@package_group.command("build")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The .vpk file to write.")
@json_option
def package_build(directory: Path, output: Path, json_output: bool) -> None:
    """Build a .vpk from a folder laid out like one (vaultpackage.xml, components/00010/…): md5s,
    checksums and record counts are computed. Needs no server."""
    with reporting(PackageFormatError, OSError, json_output=json_output):
        package = build_directory(directory)
        _write(package, output, json_output)


@package_group.command("export", epilog=EXIT_CODES_HELP)
@click.option("--object", "objects", multiple=True, required=True, metavar="NAME",
              help="An object to export (repeatable); the package creates them in dependency order.")
@click.option("--records", is_flag=True, help="Also export each object's records as a data step.")
@click.option("--name", default="PKG-EXPORT", show_default=True, help="The package's name (its manifest).")
@click.option("--picklists/--no-picklists", default=True, show_default=True,
              help="Also export the custom picklists the objects use.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The .vpk file to write.")
@connection_options
def package_export(connection: Connection, objects: tuple[str, ...], records: bool, name: str, picklists: bool,
                   output: Path) -> None:
    """Export objects (their MDL, and with --records their records) as a package another vault can
    deploy. References between records become lookups by a unique field or name__v."""
    with _reporting(connection), reporting(ValueError, OSError, json_output=connection.json_output):
        with _client(connection) as client:
            package = client.packages.export(objects, records=records, name=name,
                                             author=connection.username or "", include_picklists=picklists)
        _write(package, output, connection.json_output)


# -- through the API -----------------------------------------------------------------------------------


def _follow(client: VaultClient, connection: Connection, waiting: dict[str, Any], job_id: int) -> Job:
    if waiting["show_progress"] or (waiting["show_progress"] is None and not connection.json_output):
        return _wait_with_progress(client, job_id, waiting["timeout"])
    return client.wait(job_id, timeout=waiting["timeout"])


def _job_then(client: VaultClient, connection: Connection, waiting: dict[str, Any], job_id: int,
              results: Callable[[str], None]) -> Job:
    """Follow the job; whether it succeeds or not, show the results its package left, then let a
    failed job's error end the command."""
    try:
        job = _follow(client, connection, waiting, job_id)
    except JobFailed as failed:
        try:
            package_id = client.packages.package_id(failed.job)
        except ValueError:
            raise failed from None
        results(package_id)
        raise
    results(client.packages.package_id(job))
    return job


def _connect(connection: Connection, waiting: dict[str, Any]) -> AbstractContextManager[VaultClient]:
    return _client(connection, poll_interval=waiting["poll_interval"], min_poll_interval=waiting["min_poll_interval"])


def _import(client: VaultClient, connection: Connection, waiting: dict[str, Any], file: Path,
            out: dict[str, Any]) -> ImportResults | None:
    """Import ``file`` and show its results (``out`` gathers the JSON); the results, or None when the job
    left none."""
    started = client.packages.import_package(file)
    out["import_job"] = started.job_id
    found: list[ImportResults] = []

    def show_results(package_id: str) -> None:
        results = client.packages.import_results(package_id)
        found.append(results)
        out["package_id"] = package_id
        out["import"] = _plain(results)
        out["logs"] = out.get("logs", []) + _save_logs(client, results.logs, waiting["logs_dir"])
        if not connection.json_output:
            _show_import(results)

    _job_then(client, connection, waiting, started.job_id, show_results)
    return found[0] if found else None


def _deploy(client: VaultClient, connection: Connection, waiting: dict[str, Any], package_id: str,
            out: dict[str, Any]) -> DeployResults | None:
    started = client.packages.deploy(package_id)
    out["deploy_job"] = started.job_id
    found: list[DeployResults] = []

    def show_results(deployed_id: str) -> None:
        results = client.packages.deploy_results(deployed_id)
        found.append(results)
        out["package_id"] = deployed_id
        out["deploy"] = _plain(results)
        logs = results.deployment_log + results.data_deployment_log
        out["logs"] = out.get("logs", []) + _save_logs(client, logs, waiting["logs_dir"])
        if not connection.json_output:
            _show_deploy(deployed_id, results)

    _job_then(client, connection, waiting, started.job_id, show_results)
    return found[0] if found else None


def _finish(connection: Connection, out: dict[str, Any], ok: bool) -> None:
    if connection.json_output:
        emit_json({**out, "ok": ok})
    if not ok:
        raise SystemExit(1)


@contextmanager
def _job_errors(connection: Connection, out: dict[str, Any]) -> Iterator[None]:
    """A job that ended badly (or a wait that timed out) ends the command with its exit code, after the
    results it left; with --json, those results and the error are one JSON document."""
    try:
        yield
    except (JobFailed, WaitTimeout) as exc:
        if connection.json_output:
            job = exc.job if isinstance(exc, JobFailed) else exc.last
            emit_json({**out, "ok": False, "error": type(exc).__name__, "message": exc.message,
                       "job": None if job is None else job.to_dict()})
        else:
            report(exc, json_output=False)
        raise SystemExit(exit_code_of(exc)) from exc


@package_group.command("import", epilog=PACKAGE_EXIT_HELP)
@vpk_file
@job_options
@connection_options
def package_import(connection: Connection, file: Path, waiting: dict[str, Any]) -> None:
    """Import a package (Import Package) and show what the import found: verified, or blocked."""
    out: dict[str, Any] = {}
    with _reporting(connection), reporting(ValueError, OSError, json_output=connection.json_output), \
            _job_errors(connection, out), _connect(connection, waiting) as client:
        results = _import(client, connection, waiting, file, out)
    _finish(connection, out, results is not None and not results.blocked)


@package_group.command("validate", epilog=PACKAGE_EXIT_HELP)
@vpk_file
@connection_options
def package_validate(connection: Connection, file: Path) -> None:
    """Check a package against the vault without importing it (Validate Package)."""
    with _reporting(connection), _client(connection) as client:
        results = client.packages.validate(file)
    _report_validation(connection, results)


@package_group.command("validate-inbound", epilog=PACKAGE_EXIT_HELP)
@click.argument("package_id")
@connection_options
def package_validate_inbound(connection: Connection, package_id: str) -> None:
    """Check an imported package against the vault again (Validate Inbound Package)."""
    with _reporting(connection), reporting(ValueError, json_output=connection.json_output):
        with _client(connection) as client:
            results = client.packages.validate_inbound(package_id)
    _report_validation(connection, results)


def _report_validation(connection: Connection, results: ValidationResults) -> None:
    if connection.json_output:
        emit_json({**_plain(results), "ok": not results.blocked})
    else:
        _show_validation(results)
    if results.blocked:
        raise SystemExit(1)


@package_group.command("deploy", epilog=PACKAGE_EXIT_HELP)
@click.argument("package")
@job_options
@connection_options
def package_deploy(connection: Connection, package: str, waiting: dict[str, Any]) -> None:
    """Deploy an imported package by its id (Deploy Package); given a .vpk file instead, import it
    first and deploy it when it is verified."""
    out: dict[str, Any] = {}
    path = Path(package)
    with _reporting(connection), reporting(ValueError, OSError, json_output=connection.json_output), \
            _job_errors(connection, out), _connect(connection, waiting) as client:
        package_id = package
        if path.suffix.lower() == ".vpk" or path.is_file():
            if not path.is_file():
                raise CommandError(f"no such package file: {package}")
            imported = _import(client, connection, waiting, path, out)
            if imported is None or imported.blocked:
                _finish(connection, out, False)
                return
            package_id = imported.package_id
        results = _deploy(client, connection, waiting, package_id, out)
    _finish(connection, out, results is not None and results.ok)


COMMANDS: tuple[click.Command, ...] = (package_group,)
