"""The client commands: status, wait, tasks, cancel, start-now, history, monitors and login.

They need only the client's dependencies, and work against Vault and vaultjobs alike. Every option
has an environment variable (``VAULT_*``, shown in ``--help``). Where the session comes from, first
match wins: ``--session-id``/``VAULT_SESSION_ID``; the session ``vaultjobs login`` saved for this URL
(see `vaultjobs.client._sessions`); ``--username``/``--password``. With a username and password as
well, an expired session is replaced by logging in again. Exit codes: see `vaultjobs.cli.errors`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from vaultjobs.client import (
    DEFAULT_API_VERSION,
    DEFAULT_CLIENT_ID,
    VAULT_STATUS_INTERVAL,
    HistoryEntry,
    Job,
    MonitorEntry,
    TaskState,
    VaultClient,
    VaultClientError,
)
from vaultjobs.client._core import base_url_from
from vaultjobs.client._sessions import load_session, save_session

from .errors import EXIT_CODES_HELP, reporting
from .options import job_id_argument, json_option, option_group
from .output import console, emit_json, show, status_style, when

__all__ = ["COMMANDS", "TEST_OVERRIDES", "Connection"]

#: ``click.Context.meta`` key: extra keyword arguments for `VaultClient` (tests inject a transport,
#: clock and sleep this way).
TEST_OVERRIDES = "vaultjobs.client.overrides"

HISTORY_STATUSES = [
    "success",
    "errors_encountered",
    "failed_to_run",
    "missed_schedule",
    "timeout",
    "completed_due_to_inactivity",
    "cancelled",
]
MONITOR_STATUSES = ["scheduled", "queued", "running"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Connection:
    """Where and as whom a client command talks to Vault, and how it answers."""

    url: str | None
    dns: str | None
    username: str | None
    password: str | None
    session_id: str | None
    api_version: str
    client_id: str
    reference_id: str | None
    http_timeout: float
    json_output: bool


def _vault_option(*decls: str, envvar: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(*decls, envvar=envvar, show_envvar=True, **kwargs)


connection_options = option_group(
    _vault_option("--url", envvar="VAULT_URL", help="Vault base URL, e.g. https://myvault.veevavault.com."),
    _vault_option("--dns", envvar="VAULT_DNS", help="Vault DNS name (instead of --url)."),
    _vault_option("--username", "-u", envvar="VAULT_USERNAME", help="User name to log in with."),
    _vault_option("--password", envvar="VAULT_PASSWORD", help="Password to log in with."),
    _vault_option("--session-id", envvar="VAULT_SESSION_ID", help="An existing session id."),
    _vault_option("--api-version", envvar="VAULT_API_VERSION", default=DEFAULT_API_VERSION, show_default=True,
                  help="Vault API version."),
    _vault_option("--client-id", envvar="VAULT_CLIENT_ID", default=DEFAULT_CLIENT_ID, show_default=True,
                  help="Sent as X-VaultAPI-ClientID."),
    _vault_option("--reference-id", envvar="VAULT_REFERENCE_ID", help="Sent as X-VaultAPI-ReferenceID."),
    _vault_option("--http-timeout", envvar="VAULT_HTTP_TIMEOUT", type=float, default=30.0, show_default=True,
                  help="Seconds to wait for each HTTP response."),
    json_option,
    into="connection",
    build=Connection,
)  # fmt: skip


def _base_url(connection: Connection) -> str:
    try:
        return str(base_url_from(connection.url, connection.dns))
    except ValueError as exc:
        raise click.UsageError(f"{exc} (--url / VAULT_URL or --dns / VAULT_DNS)") from exc


def _overrides() -> dict[str, Any]:
    overrides: dict[str, Any] = click.get_current_context().meta.get(TEST_OVERRIDES, {})
    return overrides


@contextmanager
def _client(connection: Connection, **extra: Any) -> Iterator[VaultClient]:
    """A client for the command, with the session resolved as the module docstring says."""
    base_url = _base_url(connection)
    saved = None
    session_id = connection.session_id
    if session_id is None:
        saved = load_session(base_url)
        if saved is not None and (
            connection.username is None or saved.get("username") == connection.username
        ):
            session_id = saved["session_id"]
        else:
            saved = None
    username, password = connection.username, connection.password
    if session_id is None and (username is None or password is None):
        raise click.UsageError(
            "no credentials: run `vaultjobs login`, or set VAULT_SESSION_ID,"
            " or VAULT_USERNAME and VAULT_PASSWORD"
        )
    if username is None or password is None:
        username = password = None
    try:
        client = VaultClient(
            base_url,
            username=username,
            password=password,
            session_id=session_id,
            api_version=connection.api_version,
            client_id=connection.client_id,
            reference_id=connection.reference_id,
            timeout=connection.http_timeout,
            **{**extra, **_overrides()},
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    with client:
        try:
            yield client
        finally:
            current = client.session
            if saved is not None and current is not None and current.session_id != session_id:
                save_session(
                    base_url, session_id=current.session_id, username=username, user_id=current.user_id
                )


def _reporting(connection: Connection) -> Any:
    """Client errors become a message (or JSON with ``--json``) and the exit code their class owns."""
    return reporting(VaultClientError, json_output=connection.json_output)


def _progress_text(job: Job) -> str:
    if job.progress is None or not job.progress.entries:
        return ""
    parts = [f"{entry.size} {entry.status.raw.lower()}" for entry in job.progress.entries if entry.size]
    return f"{job.progress.done}/{job.progress.total} tasks done ({', '.join(parts)})"


def _job_table(job: Job) -> Table:
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("Job", str(job.id))
    table.add_row("Status", f"[{status_style(job.status.value)}]{job.status.raw}[/]")
    for label, value in (
        ("Title", job.title),
        ("Method", job.method),
        ("Created by", None if job.created_by is None else str(job.created_by)),
        ("Created", when(job.created_date)),
        ("Started", when(job.run_start_date)),
        ("Ended", when(job.run_end_date)),
        ("Progress", _progress_text(job)),
    ):
        if value:
            table.add_row(label, value)
    for link in job.links:
        table.add_row(f"Link {link.rel}", link.href)
    return table


def _show_job(connection: Connection, job: Job) -> None:
    if connection.json_output:
        emit_json(job.to_dict())
    else:
        show(_job_table(job))


# -- commands ----------------------------------------------------------------------------------------


@click.command("status")
@job_id_argument
@connection_options
def status_command(connection: Connection, job_id: int) -> None:
    """Show a job's status (Retrieve Job Status)."""
    with _reporting(connection):
        with _client(connection) as client:
            job = client.status(job_id)
        _show_job(connection, job)


@click.command("wait", epilog=EXIT_CODES_HELP)
@job_id_argument
@click.option(
    "--timeout",
    type=float,
    default=3600.0,
    show_default=True,
    envvar="VAULT_WAIT_TIMEOUT",
    show_envvar=True,
    help="Give up after this many seconds (exit 3).",
)
@click.option(
    "--poll-interval",
    type=float,
    default=VAULT_STATUS_INTERVAL,
    show_default=True,
    envvar="VAULT_POLL_INTERVAL",
    show_envvar=True,
    help="Seconds between status calls (10 minimum).",
)
@click.option(
    "--min-poll-interval",
    type=float,
    default=VAULT_STATUS_INTERVAL,
    show_default=True,
    envvar="VAULTJOBS_MIN_POLL_INTERVAL",
    show_envvar=True,
    help="Lower the 10 s floor, only for a vaultjobs server with a shorter status window.",
)
@click.option(
    "--progress/--no-progress",
    "show_progress",
    default=None,
    help="Live progress bar on stderr (default: on unless --json).",
)
@connection_options
def wait_command(
    connection: Connection,
    job_id: int,
    timeout: float,
    poll_interval: float,
    min_poll_interval: float,
    show_progress: bool | None,
) -> None:
    """Wait for a job to finish, with a live progress bar; the exit code tells how it ended."""
    if show_progress is None:
        show_progress = not connection.json_output
    with _reporting(connection):
        with _client(connection, poll_interval=poll_interval, min_poll_interval=min_poll_interval) as client:
            if show_progress:
                job = _wait_with_progress(client, job_id, timeout)
            else:
                job = client.wait(job_id, timeout=timeout)
        _show_job(connection, job)


def _wait_with_progress(client: VaultClient, job_id: int, timeout: float) -> Job:
    columns = (
        SpinnerColumn(),
        TextColumn("job {task.fields[job_id]}"),
        TextColumn("[{task.fields[style]}]{task.fields[status]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("tasks {task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console(stderr=True)) as progress:
        bar = progress.add_task("wait", total=None, job_id=job_id, status="…", style="yellow", detail="")

        def on_update(job: Job) -> None:
            fields: dict[str, Any] = {"status": job.status.raw, "style": status_style(job.status.value)}
            if job.progress is not None and job.progress.total:
                busy = [
                    f"{job.progress.count(state)} {state.value.lower()}"
                    for state in (TaskState.RUNNING, TaskState.QUEUED, TaskState.ERRORS_ENCOUNTERED)
                    if job.progress.count(state)
                ]
                fields.update(total=job.progress.total, completed=job.progress.done, detail=", ".join(busy))
            progress.update(bar, **fields)

        try:
            return client.wait(job_id, timeout=timeout, on_update=on_update)
        finally:
            progress.refresh()


@click.command("tasks")
@job_id_argument
@connection_options
def tasks_command(connection: Connection, job_id: int) -> None:
    """List an SDK job's tasks (Retrieve SDK Job Tasks)."""
    with _reporting(connection):
        with _client(connection) as client:
            tasks = list(client.tasks(job_id))
    if connection.json_output:
        emit_json([{"id": task.id, "state": task.state.raw} for task in tasks])
        return
    table = Table("Task", "State")
    for task in tasks:
        table.add_row(task.id, f"[{status_style(task.state.value)}]{task.state.raw}[/]")
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.state.raw] = counts.get(task.state.raw, 0) + 1
    show(table)
    show(", ".join(f"{n} {state}" for state, n in counts.items()) or "no tasks")


@click.command("cancel")
@click.argument("job_ids", nargs=-1, required=True, type=click.IntRange(min=1))
@connection_options
def cancel_command(connection: Connection, job_ids: tuple[int, ...]) -> None:
    """Cancel jobs (Cancel Job). Exits 1 if any of them could not be cancelled."""
    with _reporting(connection):
        with _client(connection) as client:
            outcomes = client.cancel(job_ids)
    if connection.json_output:
        emit_json(
            [
                {"job_id": o.job_id, "accepted": o.accepted, "errors": [dataclasses.asdict(e) for e in o.errors]}
                for o in outcomes
            ]
        )
    else:
        table = Table("Job", "Result", "Reason")
        for o in outcomes:
            reason = "; ".join(f"{e.type}: {e.message}" if e.message else e.type for e in o.errors)
            table.add_row(str(o.job_id), "[green]cancelling[/]" if o.accepted else "[red]refused[/]", reason)
        show(table)
    if not all(o.accepted for o in outcomes):
        raise SystemExit(1)


@click.command("start-now")
@job_id_argument
@connection_options
def start_now_command(connection: Connection, job_id: int) -> None:
    """Run a SCHEDULED job now (Start Job)."""
    with _reporting(connection):
        with _client(connection) as client:
            started = client.start_now(job_id)
    if connection.json_output:
        emit_json({"job_id": started.job_id, "url": started.url})
    else:
        show(f"Job {started.job_id} started: {started.url or ''}")


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.replace(tzinfo=dt.UTC)


def _entry_json(entry: HistoryEntry | MonitorEntry) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in dataclasses.fields(entry):
        if field.name == "raw":
            continue
        value = getattr(entry, field.name)
        if isinstance(value, dt.datetime):
            value = value.isoformat()
        elif field.name == "status":
            value = value.raw
        if value is not None:
            out[field.name] = value
    return out


def _list_command(
    name: str,
    doc: str,
    statuses: list[str],
    fetch: Callable[[VaultClient], Callable[..., Iterable[HistoryEntry | MonitorEntry]]],
    *,
    ended: bool,
) -> click.Command:
    """``history`` and ``monitors``: the same command over Retrieve Job Histories and Job Monitors.

    ``fetch(client)`` is the client's bound method for the list (keyword arguments: dates, status,
    page size); ``ended`` adds the column of end dates.
    """

    @click.command(name, help=doc)
    @click.option("--start-date", type=click.DateTime(), help="From this date-time (UTC).")
    @click.option("--end-date", type=click.DateTime(), help="Up to this date-time (UTC).")
    @click.option("--status", type=click.Choice(statuses, case_sensitive=False))
    @click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
                  help="Show at most this many jobs.")
    @connection_options
    def command(
        connection: Connection,
        start_date: dt.datetime | None,
        end_date: dt.datetime | None,
        status: str | None,
        limit: int,
    ) -> None:
        entries: list[HistoryEntry | MonitorEntry] = []
        with _reporting(connection):
            with _client(connection) as client:
                for entry in fetch(client)(
                    start_date=_utc(start_date), end_date=_utc(end_date), status=status, page_size=min(limit, 200)
                ):
                    entries.append(entry)
                    if len(entries) >= limit:
                        break
        if connection.json_output:
            emit_json([_entry_json(e) for e in entries])
            return
        table = Table("Job", "Title", "Status", "Created", "Started", *(["Ended"] if ended else []))
        for entry in entries:
            row = [
                str(entry.job_id),
                entry.title or "",
                f"[{status_style(entry.status.value)}]{entry.status.raw}[/]",
                when(entry.created_date),
                when(entry.run_start_date),
            ]
            if isinstance(entry, HistoryEntry):
                row.append(when(entry.run_end_date))
            table.add_row(*row)
        show(table)

    return command  # fmt: skip


history_command = _list_command(
    "history", "List completed jobs (Retrieve Job Histories).", HISTORY_STATUSES,
    lambda client: client.histories, ended=True,
)  # fmt: skip
monitors_command = _list_command(
    "monitors", "List scheduled, queued and running jobs (Retrieve Job Monitors).", MONITOR_STATUSES,
    lambda client: client.monitors, ended=False,
)  # fmt: skip


@click.command("login")
@click.option(
    "--save/--no-save",
    default=True,
    show_default=True,
    help="Keep the session in the user's config directory (mode 0600) for later commands.",
)
@click.option("--print-export", is_flag=True, help="Print `export VAULT_SESSION_ID=…` for a shell to eval.")
@connection_options
def login_command(connection: Connection, save: bool, print_export: bool) -> None:
    """Log in with a username and password and keep the session for the other commands."""  # fmt: skip
    base_url = _base_url(connection)
    username = connection.username or click.prompt("Username", err=True)
    password = connection.password or click.prompt("Password", hide_input=True, err=True)
    with _reporting(connection):
        with VaultClient(
            base_url,
            username=username,
            password=password,
            api_version=connection.api_version,
            client_id=connection.client_id,
            reference_id=connection.reference_id,
            timeout=connection.http_timeout,
            **_overrides(),
        ) as client:
            session = client.login()
    path = (
        save_session(base_url, session_id=session.session_id, username=username, user_id=session.user_id)
        if save
        else None
    )
    if connection.json_output:
        out: dict[str, Any] = {"url": base_url, "username": username, "user_id": session.user_id,
                               "session_file": None if path is None else str(path)}  # fmt: skip
        if print_export:
            out["session_id"] = session.session_id
        emit_json(out)
        return
    if print_export:
        click.echo(f"export VAULT_SESSION_ID={session.session_id}")
    message = f"Logged in to {base_url} as {username} (user id {session.user_id})."
    if path is not None:
        message += f" Session saved to {path}."
    click.echo(message, err=print_export)


COMMANDS: tuple[click.Command, ...] = (
    status_command,
    wait_command,
    tasks_command,
    cancel_command,
    start_now_command,
    history_command,
    monitors_command,
    login_command,
)
