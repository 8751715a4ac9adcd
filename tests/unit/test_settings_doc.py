"""``docs/settings.md`` is what `vaultjobs.cli.settings_doc` writes from the commands and `Settings`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from vaultjobs.cli import main
from vaultjobs.cli.settings_doc import render
from vaultjobs.settings import Settings, env_var

PAGE = Path(__file__).parents[2] / "docs" / "settings.md"


def test_the_page_is_current() -> None:
    assert PAGE.read_text() == render(), "run: python -m vaultjobs.cli.settings_doc > docs/settings.md"


def test_the_page_names_every_setting_and_its_default() -> None:
    page = PAGE.read_text()
    for field in dataclasses.fields(Settings):
        [row] = [line for line in page.splitlines() if line.startswith(f"| `{env_var(field.name)}` |")]
        if field.default not in (None, "", ()):
            assert f"`{field.default:g}`" in row if isinstance(field.default, float) else f"`{field.default}`" in row


def _leaves(group: click.Group, path: str) -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _leaves(command, f"{path} {name}")
        else:
            found.append((f"{path} {name}", command))
    return found


def test_the_page_names_every_command_flag_and_environment_variable() -> None:
    page = PAGE.read_text()
    sections = page.split("\n### ")
    for path, command in _leaves(main, "vaultjobs"):
        [section] = [s for s in sections if s.startswith(f"`{path}`")]
        for param in command.params:
            if not isinstance(param, click.Option) or "--help" in param.opts:
                continue
            for flag in param.opts:
                assert f"`{flag}`" in section, (path, flag)
            if param.show_envvar and isinstance(param.envvar, str):
                assert f"`{param.envvar}`" in section, (path, param.envvar)
