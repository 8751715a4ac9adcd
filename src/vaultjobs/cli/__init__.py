"""The ``vaultjobs`` command: run the service, administer it, and follow jobs on Vault or vaultjobs.

One package for every command. `options` declares the options they share (server options set
`vaultjobs.settings.Settings`, the only reader of ``VAULTJOBS_*``; client options read ``VAULT_*``),
`output` prints tables and JSON, `errors` gives every failure its exit code. `server` (serve, worker,
migrate) and `admin` (users, definitions, content) import the server only when they run; `client` (status,
wait, tasks, cancel, start-now, history, monitors, login) and `objects` (mdl, objects) need only the
client's dependencies.
`settings_doc` writes ``docs/settings.md`` from these commands and `Settings`.
"""

from __future__ import annotations

import click

from vaultjobs import __version__

from . import admin, client, objects, packages, server

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vaultjobs")
def main() -> None:
    """vaultjobs: a job service that speaks the Veeva Vault Jobs REST API."""


for _command in (*server.COMMANDS, admin.users, admin.definitions, admin.content, *client.COMMANDS, *objects.COMMANDS,
                 *packages.COMMANDS):
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    main()
