"""``docs/settings.md``: every flag and environment variable, written from the commands and `Settings`.

Run ``python -m vaultjobs.cli.settings_doc > docs/settings.md`` after changing an option or a
setting; a test fails while the page differs from what this module writes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import click

from vaultjobs import settings as settings_module
from vaultjobs.settings import Settings

from . import main
from .options import SettingOption, shown_default

__all__ = ["render"]

HEADER = """\
# Settings and flags

<!-- Written by `python -m vaultjobs.cli.settings_doc > docs/settings.md`; do not edit by hand
     (tests/unit/test_settings_doc.py fails while this page and the commands differ). -->

Every command of `vaultjobs`, every flag and every environment variable.

The server's settings are the fields of `vaultjobs.settings.Settings`. Each is read from its
environment variable `VAULTJOBS_<FIELD>` by `Settings` alone; a flag, where there is one, wins over
the variable, which wins over the default. A value from the environment is held to the same rules
as the flag (`VAULTJOBS_WORKERS=-1` is refused like `--workers -1`, exit 2). Lists are separated by
commas or spaces. Durations are in seconds unless the name says otherwise.

The client's commands read `VAULT_*` variables (and `VAULTJOBS_MIN_POLL_INTERVAL`), with the flag
winning over the variable. They need only the client's install (`pip install vaultjobs`); the
server's commands need `pip install 'vaultjobs[server]'`.
"""


def _commands(group: click.Group, prefix: str) -> Iterator[tuple[str, click.Command]]:
    for name in sorted(group.commands):
        command = group.commands[name]
        path = f"{prefix} {name}".strip()
        if isinstance(command, click.Group):
            yield from _commands(command, path)
        else:
            yield path, command


def _options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and "--help" not in p.opts]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _flags(option: click.Option) -> str:
    names = [*option.opts, *option.secondary_opts]
    return ", ".join(f"`{name}`" for name in names)


def _extra(option: click.Option, command: click.Command) -> dict[str, Any]:
    """What ``--help`` shows in brackets for ``option``: environment variable, default, range."""
    return dict(option.get_help_extra(click.Context(command)))


def _envvar(extra: dict[str, Any]) -> str:
    return ", ".join(f"`{name}`" for name in extra.get("envvars", ()))


def _default(extra: dict[str, Any]) -> str:
    return f"`{extra['default']}`" if extra.get("default") else ""


def _meaning(option: click.Option, extra: dict[str, Any]) -> str:
    text = option.help or ""
    if isinstance(option.type, click.Choice):
        text += f" One of: {', '.join(str(c) for c in option.type.choices)}."
    if extra.get("range"):
        text += f" Range: {extra['range']}."
    return _cell(text)


def _where(paths: list[str], commands: list[tuple[str, click.Command]]) -> str:
    """Command paths, with every command of a group written once as ``group …``."""
    shown: list[str] = []
    for path in paths:
        group = path.split()[0]
        members = [p for p, _ in commands if p.split()[0] == group]
        if len(members) > 1 and all(m in paths for m in members):
            if f"{group} …" not in shown:
                shown.append(f"{group} …")
        else:
            shown.append(path)
    return ", ".join(shown)


def _usage(path: str, command: click.Command) -> str:
    ctx = click.Context(command, info_name=path)
    return " ".join([path, *command.collect_usage_pieces(ctx)])


def render() -> str:
    """The settings page, as Markdown."""
    commands = list(_commands(main, ""))
    lines = [HEADER, "## Server settings", ""]
    lines += ["| environment variable | default | flag (commands) | meaning |", "|---|---|---|---|"]
    for field in dataclasses.fields(Settings):
        users: dict[str, list[str]] = {}
        for path, command in commands:
            for option in _options(command):
                if isinstance(option, SettingOption) and option.setting == field.name:
                    users.setdefault(_flags(option), []).append(path)
        flags = "; ".join(f"{flag} ({_where(paths, commands)})" for flag, paths in users.items()) or "environment only"
        shown = shown_default(field.default)
        lines.append(
            f"| `{settings_module.env_var(field.name)}` | {f'`{shown}`' if shown else ''} | {flags} "
            f"| {_cell(settings_module.describe(field.name))} |"
        )
    lines += ["", "## Commands", ""]
    for path, command in commands:
        lines += [f"### `vaultjobs {path}`", "", _cell(command.get_short_help_str(limit=200)), ""]
        lines += [f"    {_usage(f'vaultjobs {path}', command)}", ""]
        options = _options(command)
        if not options:
            continue
        lines += ["| flag | environment variable | default | meaning |", "|---|---|---|---|"]
        for option in options:
            extra = _extra(option, command)
            lines.append(f"| {_flags(option)} | {_envvar(extra)} | {_default(extra)} | {_meaning(option, extra)} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render(), end="")
