"""The commands that run the service: ``serve``, ``worker`` and ``migrate``.

The server (uvicorn, starlette, the stores) is imported only when one of them runs, so that
``vaultjobs --help`` and the client commands work where only the client is installed; there these
commands say which install command adds the server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from vaultjobs.settings import LOG_LEVELS, Settings

from .errors import ServerNotInstalled, reporting
from .options import setting_option, settings_options

__all__ = ["COMMANDS", "LOG_LEVEL", "PROCESSORS", "STORE", "server_failures", "server_imports"]

#: Where the store is: every command that opens it takes these.
STORE = (
    setting_option("data_dir", type=click.Path(file_okay=False, path_type=Path)),
    setting_option("database_url"),
)
PROCESSORS = setting_option("processors", multiple=True, help="Module with @processor classes to load (repeatable).")
LOG_LEVEL = setting_option("log_level", type=click.Choice(LOG_LEVELS, case_sensitive=False))
LOG_FORMAT = setting_option("log_format", type=click.Choice(("text", "json")))


@contextmanager
def server_imports(command: str) -> Iterator[None]:
    """Around imports of the server's modules: a missing dependency names the install command."""
    try:
        yield
    except ModuleNotFoundError as exc:
        raise ServerNotInstalled(command, exc.name) from exc


def server_failures() -> tuple[type[BaseException], ...]:
    """What the server's commands expect to fail with; each reaches the user as a message and exit code."""
    from vaultjobs.definitions import DefinitionError
    from vaultjobs.errors import VaultError
    from vaultjobs.store import StoreError

    return (StoreError, DefinitionError, VaultError, OSError, ImportError)


def configure_logging(settings: Settings) -> None:
    from vaultjobs.logs import configure_logging as configure

    configure(settings.log_level, settings.log_format)


@click.command()
@settings_options(
    *STORE,
    setting_option("host"),
    setting_option("port", type=int),
    setting_option("workers", type=click.IntRange(min=0)),
    setting_option("status_window", type=click.FloatRange(min=0)),
    PROCESSORS,
    setting_option("definitions", type=click.Path(dir_okay=False, exists=True, path_type=Path)),
    setting_option("mdl", multiple=True, type=click.Path(dir_okay=False, exists=True),
                   help="MDL script applied at start, after migrations (repeatable); a CREATE of a component"
                        " that exists is skipped, so a restart with the same file does not fail."),
    setting_option("retention_days", type=click.FloatRange(min=0, min_open=True)),
    setting_option("ui_read_only", is_flag=True, default=None),
    setting_option("root_path"),
    setting_option("control_plane", is_flag=True, default=None),
    setting_option("control_token"),
    setting_option("seed", type=click.Path(dir_okay=False, exists=True, path_type=Path)),
    LOG_LEVEL,
    LOG_FORMAT,
)
@click.option("--no-workers", is_flag=True, help="Run only the API and the scheduler (as --workers 0).")
def serve(settings: Settings, no_workers: bool) -> None:
    """Run the API server, the scheduler and a worker pool in one process."""
    with server_imports("serve"):
        from vaultjobs.node import serve as run_serve

        failures = server_failures()
    configure_logging(settings)
    if no_workers:
        settings = settings.evolve(workers=0)
    with reporting(*failures):
        if settings.mdl:
            apply_mdl_at_start(settings)
        run_serve(settings)


def apply_mdl_at_start(settings: Settings) -> None:
    """``serve --mdl``: apply the scripts before the server starts; a failed statement stops it."""
    from vaultjobs.errors import InvalidData
    from vaultjobs.node import open_migrated_store

    from .mdl_files import apply_files

    store = open_migrated_store(settings)
    try:
        outcomes = apply_files(store, settings.mdl)
    finally:
        store.close()
    log = logging.getLogger("vaultjobs.mdl")
    for outcome in outcomes:
        for label in outcome.skipped:
            log.info("%s: %s exists; CREATE skipped", outcome.path, label)
        for result in outcome.results:
            log.info("%s: %s %s", outcome.path, result.component, result.message)
        if not outcome.succeeded:
            failed = next(r for r in outcome.results if not r.success)
            raise InvalidData(f"{outcome.path}: statement on {failed.component} failed: {failed.message}")


@click.command()
@settings_options(
    *STORE,
    setting_option("workers", type=click.IntRange(min=1), help="Worker threads in this process."),
    setting_option("workers", "--concurrency", name="concurrency", type=click.IntRange(min=1),
                   deprecated="Use --workers.", help="Worker threads: the old name of --workers."),
    PROCESSORS,
    setting_option("control_plane", is_flag=True, default=None,
                   help="Keep the control plane's virtual clock and limits, as the servers started with it do."),
    LOG_LEVEL,
    LOG_FORMAT,
)
def worker(settings: Settings) -> None:
    """Run only workers, taking jobs from the shared store."""
    with server_imports("worker"):
        from vaultjobs.node import run_worker

        failures = server_failures()
    configure_logging(settings)
    with reporting(*failures):
        run_worker(settings)


@click.command()
@settings_options(*STORE)
def migrate(settings: Settings) -> None:
    """Apply the store's schema migrations (servers also do this when they start)."""
    with server_imports("migrate"):
        from vaultjobs.node import open_migrated_store

        failures = server_failures()
    with reporting(*failures):
        open_migrated_store(settings).close()
    click.echo("the schema is up to date")


COMMANDS: tuple[click.Command, ...] = (serve, worker, migrate)
