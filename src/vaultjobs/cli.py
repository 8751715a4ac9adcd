"""The ``vaultjobs`` command: run the service and manage its users (the client commands join it too).

Every option has an environment variable, shown in ``--help``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from vaultjobs import __version__
from vaultjobs.accounts import Accounts
from vaultjobs.client.cli import register_commands
from vaultjobs.definitions import DefinitionError, load_definitions
from vaultjobs.settings import Settings
from vaultjobs.store import StoreError, UserExists
from vaultjobs.timeutil import SystemClock


def _store_options(func: Any) -> Any:
    func = click.option(
        "--database-url",
        envvar="VAULTJOBS_DATABASE_URL",
        show_envvar=True,
        help="sqlite:///path/file.db (default: <data dir>/vaultjobs.db).",
    )(func)
    func = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="VAULTJOBS_DATA_DIR",
        show_envvar=True,
        help="Where vaultjobs keeps its database and files [default: ./vaultjobs-data].",
    )(func)
    return func


def _settings(**values: Any) -> Settings:
    try:
        return Settings.from_env(**values)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vaultjobs")
def main() -> None:
    """vaultjobs: a job service that speaks the Veeva Vault Jobs REST API."""


@main.command()
@_store_options
@click.option("--host", envvar="VAULTJOBS_HOST", show_envvar=True, help="Address to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, envvar="VAULTJOBS_PORT", show_envvar=True,
              help="Port, 0 for any free one [default: 8080].")
@click.option("--workers", type=click.IntRange(min=0), envvar="VAULTJOBS_WORKERS", show_envvar=True,
              help="Worker threads in this process [default: 4].")
@click.option("--no-workers", is_flag=True, help="Run only the API and the scheduler.")
@click.option("--status-window", type=click.FloatRange(min=0), envvar="VAULTJOBS_STATUS_WINDOW", show_envvar=True,
              help="Job-status rate-limit window in seconds [default: 10].")
@click.option("--processors", "processor_modules", multiple=True, envvar="VAULTJOBS_PROCESSORS",
              show_envvar=True, help="Module with @processor classes to load (repeatable).")
@click.option("--definitions", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              envvar="VAULTJOBS_DEFINITIONS", show_envvar=True,
              help="TOML file of job definitions (schedules); reloaded on SIGHUP.")
@click.option("--retention-days", type=click.FloatRange(min=0, min_open=True), envvar="VAULTJOBS_RETENTION_DAYS",
              show_envvar=True, help="Purge finished jobs this many days after they ended [default: 30].")
@click.option("--log-level", default="info", envvar="VAULTJOBS_LOG_LEVEL", show_envvar=True,
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False))
def serve(
    data_dir: Path | None,
    database_url: str | None,
    host: str | None,
    port: int | None,
    workers: int | None,
    no_workers: bool,
    status_window: float | None,
    processor_modules: tuple[str, ...],
    definitions: Path | None,
    retention_days: float | None,
    log_level: str,
) -> None:
    """Run the API server, the scheduler and a worker pool in one process."""
    from vaultjobs.node import serve as run_serve

    _configure_logging(log_level)
    settings = _settings(
        data_dir=data_dir,
        database_url=database_url,
        host=host,
        port=port,
        workers=0 if no_workers else workers,
        status_window=status_window,
        processors=processor_modules or None,
        definitions=definitions,
        retention_days=retention_days,
    )
    try:
        run_serve(settings)
    except (StoreError, OSError, ImportError, DefinitionError) as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@_store_options
@click.option("--concurrency", "workers", type=click.IntRange(min=1), envvar="VAULTJOBS_WORKERS", show_envvar=True,
              help="Worker threads [default: 4].")
@click.option("--processors", "processor_modules", multiple=True, envvar="VAULTJOBS_PROCESSORS",
              show_envvar=True, help="Module with @processor classes to load (repeatable).")
@click.option("--log-level", default="info", envvar="VAULTJOBS_LOG_LEVEL", show_envvar=True,
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False))
def worker(
    data_dir: Path | None,
    database_url: str | None,
    workers: int | None,
    processor_modules: tuple[str, ...],
    log_level: str,
) -> None:
    """Run only workers, taking jobs from the shared store."""
    from vaultjobs.node import run_worker

    _configure_logging(log_level)
    settings = _settings(
        data_dir=data_dir, database_url=database_url, workers=workers, processors=processor_modules or None
    )
    try:
        run_worker(settings)
    except (StoreError, OSError, ImportError) as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@_store_options
def migrate(data_dir: Path | None, database_url: str | None) -> None:
    """Apply the store's schema migrations (servers also do this when they start)."""
    from vaultjobs.node import open_migrated_store

    settings = _settings(data_dir=data_dir, database_url=database_url)
    try:
        store = open_migrated_store(settings)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    store.close()
    click.echo("the schema is up to date")


@main.group()
def users() -> None:
    """Manage the users who may log in."""


def _accounts(data_dir: Path | None, database_url: str | None) -> Accounts:
    from vaultjobs.node import open_migrated_store

    settings = _settings(data_dir=data_dir, database_url=database_url)
    try:
        store = open_migrated_store(settings)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    return Accounts(store, settings, SystemClock())


def _user(accounts: Accounts, name: str) -> Any:
    user = accounts.store.users.get_user_by_name(name)
    if user is None:
        raise click.ClickException(f"no user called {name!r}")
    return user


@users.command("add")
@_store_options
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The user's password (prompted when omitted).")
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone, e.g. America/New_York.")
@click.option("--admin", is_flag=True, help="Admins see and manage every job.")
def users_add(data_dir: Path | None, database_url: str | None, name: str, password: str, timezone: str,
              admin: bool) -> None:
    """Add a user."""
    accounts = _accounts(data_dir, database_url)
    try:
        user = accounts.add_user(name, password, timezone=timezone, is_admin=admin)
    except (ValueError, UserExists) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"added user {user.username} (id {user.id}{', admin' if user.is_admin else ''}, {user.timezone})")


@users.command("list")
@_store_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def users_list(data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """List users."""
    accounts = _accounts(data_dir, database_url)
    listed = accounts.store.users.list_users()
    if as_json:
        import orjson

        rows = [
            {"id": u.id, "username": u.username, "timezone": u.timezone, "admin": u.is_admin, "active": u.active}
            for u in listed
        ]
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    table = Table("id", "username", "time zone", "admin", "active")
    for u in listed:
        table.add_row(str(u.id), u.username, u.timezone, "yes" if u.is_admin else "", "yes" if u.active else "no")
    Console().print(table)


@users.command("set-password")
@_store_options
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The new password (prompted when omitted).")
def users_set_password(data_dir: Path | None, database_url: str | None, name: str, password: str) -> None:
    """Change a user's password, unlock them, and end their sessions."""
    accounts = _accounts(data_dir, database_url)
    try:
        accounts.set_password(_user(accounts, name), password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"password of {name} changed; their sessions have ended")


@users.command("deactivate")
@_store_options
@click.argument("name")
def users_deactivate(data_dir: Path | None, database_url: str | None, name: str) -> None:
    """Deactivate a user and end their sessions."""
    accounts = _accounts(data_dir, database_url)
    accounts.store.users.set_active(_user(accounts, name).id, False)
    click.echo(f"{name} is deactivated; their sessions have ended")


@users.command("activate")
@_store_options
@click.argument("name")
def users_activate(data_dir: Path | None, database_url: str | None, name: str) -> None:
    """Activate a user again."""
    accounts = _accounts(data_dir, database_url)
    accounts.store.users.set_active(_user(accounts, name).id, True)
    click.echo(f"{name} is active")


@main.group()
def definitions() -> None:
    """Job definitions: scheduled runs of processors."""


@definitions.command("load")
@_store_options
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def definitions_load(data_dir: Path | None, database_url: str | None, path: Path) -> None:
    """Check a definitions file and load it into the store (a running server picks it up)."""
    accounts = _accounts(data_dir, database_url)
    try:
        report = load_definitions(path, accounts.store, SystemClock().now())
    except DefinitionError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"loaded {', '.join(report.loaded) or 'nothing'}")
    if report.disabled:
        click.echo(f"disabled (no longer in the file): {', '.join(report.disabled)}")


@definitions.command("list")
@_store_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def definitions_list(data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """List job definitions with their schedules and next instance."""
    accounts = _accounts(data_dir, database_url)
    store = accounts.store
    users = {u.id: u.username for u in store.users.list_users()}
    rows: list[dict[str, Any]] = []
    for d in store.schedules.list_definitions():
        nxt = store.schedules.next_instance_time(d.name)
        rows.append({
            "name": d.name,
            "processor": d.processor,
            "schedule": f"cron {d.cron} ({d.timezone})" if d.cron else f"every {d.interval:g} s",
            "owner": users.get(d.owner_id, str(d.owner_id)),
            "single_instance": d.single_instance,
            "enabled": d.enabled,
            "next": nxt.isoformat() if nxt else None,
        })
    if as_json:
        import orjson

        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    table = Table("name", "processor", "schedule", "owner", "single", "enabled", "next instance")
    for r in rows:
        table.add_row(r["name"], r["processor"], r["schedule"], r["owner"], "yes" if r["single_instance"] else "",
                      "yes" if r["enabled"] else "no", r["next"] or "-")
    Console().print(table)


def _set_enabled(data_dir: Path | None, database_url: str | None, name: str, enabled: bool) -> None:
    accounts = _accounts(data_dir, database_url)
    if not accounts.store.schedules.set_definition_enabled(name, enabled, SystemClock().now()):
        raise click.ClickException(f"no definition called {name!r}")
    click.echo(f"{name} is {'enabled' if enabled else 'disabled'}")


@definitions.command("enable")
@_store_options
@click.argument("name")
def definitions_enable(data_dir: Path | None, database_url: str | None, name: str) -> None:
    """Enable a definition: its next instance is scheduled."""
    _set_enabled(data_dir, database_url, name, True)


@definitions.command("disable")
@_store_options
@click.argument("name")
def definitions_disable(data_dir: Path | None, database_url: str | None, name: str) -> None:
    """Disable a definition: its scheduled instance is cancelled."""
    _set_enabled(data_dir, database_url, name, False)


# The client commands (status, wait, tasks, cancel, …), which work against Vault and vaultjobs alike.
register_commands(main)


if __name__ == "__main__":  # pragma: no cover
    main()
