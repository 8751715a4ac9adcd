"""The administration commands, ``users …``, ``definitions …`` and ``content …``: they work on the store directly.

Each opens the store for its own work and closes it before it returns, failure or not.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from vaultjobs.settings import Settings

from .errors import NotFound, reporting
from .options import json_option, settings_options
from .output import emit_json, show
from .server import STORE, server_failures, server_imports

if TYPE_CHECKING:
    from vaultjobs.accounts import Accounts
    from vaultjobs.models import User

__all__ = ["content", "definitions", "users"]


@contextmanager
def opened(settings: Settings, command: str) -> Iterator[Accounts]:
    """The migrated store, as `Accounts`, for the body of one command; closed when the body ends.

    Whatever the body fails with that the server's commands expect becomes a message and its exit code.
    """
    with server_imports(command):
        from vaultjobs.accounts import Accounts
        from vaultjobs.node import open_migrated_store
        from vaultjobs.timeutil import SystemClock

        failures = (*server_failures(), ValueError)
    with reporting(*failures):
        with closing(open_migrated_store(settings)) as store:
            yield Accounts(store, settings, SystemClock())


def _user(accounts: Accounts, name: str) -> User:
    user = accounts.store.users.get_user_by_name(name)
    if user is None:
        raise NotFound(f"no user called {name!r}")
    return user


@click.group()
def users() -> None:
    """Manage the users who may log in."""


@users.command("add")
@settings_options(*STORE)
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The user's password (prompted when omitted).")
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone, e.g. America/New_York.")
@click.option("--admin", is_flag=True, help="Admins see and manage every job.")
def users_add(settings: Settings, name: str, password: str, timezone: str, admin: bool) -> None:
    """Add a user."""
    with opened(settings, "users add") as accounts:
        user = accounts.add_user(name, password, timezone=timezone, is_admin=admin)
    click.echo(f"added user {user.username} (id {user.id}{', admin' if user.is_admin else ''}, {user.timezone})")


@users.command("list")
@settings_options(*STORE)
@json_option
def users_list(settings: Settings, json_output: bool) -> None:
    """List users."""
    with opened(settings, "users list") as accounts:
        listed = accounts.store.users.list_users()
    if json_output:
        emit_json([
            {"id": u.id, "username": u.username, "timezone": u.timezone, "admin": u.is_admin, "active": u.active}
            for u in listed
        ])
        return
    table = Table("id", "username", "time zone", "admin", "active")
    for u in listed:
        table.add_row(str(u.id), u.username, u.timezone, "yes" if u.is_admin else "", "yes" if u.active else "no")
    show(table)


@users.command("set-password")
@settings_options(*STORE)
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The new password (prompted when omitted).")
def users_set_password(settings: Settings, name: str, password: str) -> None:
    """Change a user's password, unlock them, and end their sessions."""
    with opened(settings, "users set-password") as accounts:
        accounts.set_password(_user(accounts, name), password)
    click.echo(f"password of {name} changed; their sessions have ended")


@users.command("deactivate")
@settings_options(*STORE)
@click.argument("name")
def users_deactivate(settings: Settings, name: str) -> None:
    """Deactivate a user and end their sessions."""
    with opened(settings, "users deactivate") as accounts:
        accounts.store.users.set_active(_user(accounts, name).id, False)
    click.echo(f"{name} is deactivated; their sessions have ended")


@users.command("activate")
@settings_options(*STORE)
@click.argument("name")
def users_activate(settings: Settings, name: str) -> None:
    """Activate a user again."""
    with opened(settings, "users activate") as accounts:
        accounts.store.users.set_active(_user(accounts, name).id, True)
    click.echo(f"{name} is active")


@click.group()
def definitions() -> None:
    """Job definitions: scheduled runs of processors."""


@definitions.command("load")
@settings_options(*STORE)
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def definitions_load(settings: Settings, path: Path) -> None:
    """Check a definitions file and load it into the store (a running server picks it up)."""
    with opened(settings, "definitions load") as accounts:
        from vaultjobs.definitions import load_definitions
        from vaultjobs.timeutil import SystemClock

        report = load_definitions(path, accounts.store, SystemClock().now())
    click.echo(f"loaded {', '.join(report.loaded) or 'nothing'}")
    if report.disabled:
        click.echo(f"disabled (no longer in the file): {', '.join(report.disabled)}")


@definitions.command("list")
@settings_options(*STORE)
@json_option
def definitions_list(settings: Settings, json_output: bool) -> None:
    """List job definitions with their schedules and next instance."""
    rows: list[dict[str, Any]] = []
    with opened(settings, "definitions list") as accounts:
        store = accounts.store
        owners = {u.id: u.username for u in store.users.list_users()}
        for d in store.schedules.list_definitions():
            nxt = store.schedules.next_instance_time(d.name)
            rows.append({
                "name": d.name,
                "processor": d.processor,
                "schedule": f"cron {d.cron} ({d.timezone})" if d.cron else f"every {d.interval:g} s",
                "owner": owners.get(d.owner_id, str(d.owner_id)),
                "single_instance": d.single_instance,
                "enabled": d.enabled,
                "next": nxt.isoformat() if nxt else None,
            })
    if json_output:
        emit_json(rows)
        return
    table = Table("name", "processor", "schedule", "owner", "single", "enabled", "next instance")
    for r in rows:
        table.add_row(r["name"], r["processor"], r["schedule"], r["owner"], "yes" if r["single_instance"] else "",
                      "yes" if r["enabled"] else "no", r["next"] or "-")
    show(table)


def _set_enabled(settings: Settings, name: str, enabled: bool) -> None:
    with opened(settings, "definitions enable" if enabled else "definitions disable") as accounts:
        from vaultjobs.timeutil import SystemClock

        if not accounts.store.schedules.set_definition_enabled(name, enabled, SystemClock().now()):
            raise NotFound(f"no definition called {name!r}")
    click.echo(f"{name} is {'enabled' if enabled else 'disabled'}")


@definitions.command("enable")
@settings_options(*STORE)
@click.argument("name")
def definitions_enable(settings: Settings, name: str) -> None:
    """Enable a definition: its next instance is scheduled."""
    _set_enabled(settings, name, True)


@definitions.command("disable")
@settings_options(*STORE)
@click.argument("name")
def definitions_disable(settings: Settings, name: str) -> None:
    """Disable a definition: its scheduled instance is cancelled."""
    _set_enabled(settings, name, False)


@click.group()
def content() -> None:
    """The content repository's files."""


@content.command("move-files")
@settings_options(*STORE)
def content_move_files(settings: Settings) -> None:
    """Move this node's document files (<data dir>/files) into PostgreSQL, where every node reads them.

    Run it once on each node that kept document files in its own folder before they moved into the
    database; until then only that node can read those files. Safe to run again or on several nodes.
    """
    with opened(settings, "content move-files") as accounts:
        from vaultjobs.content.blobs import PostgresBlobStore, blob_store_for

        blobs = blob_store_for(accounts.store, settings.data_dir)
        if not isinstance(blobs, PostgresBlobStore):
            raise click.UsageError("document files move into the database only when the store is PostgreSQL")
        moved, size = blobs.move_local_files()
    click.echo(f"moved {moved} files ({size} bytes) into the database")
