"""The server's commands and their settings: `Settings` reads ``VAULTJOBS_*``, flags win, and a value
from the environment is held to the flag's rules; admin commands close the store they open."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from vaultjobs.cli import main
from vaultjobs.settings import Settings
from vaultjobs.store import SqliteStore


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("VAULTJOBS_"):
            monkeypatch.delenv(name)


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env or {})


def test_lists_split_on_commas_and_spaces() -> None:
    settings = Settings.from_env({"VAULTJOBS_PROCESSORS": "acme.jobs, acme.more other.jobs"})
    assert settings.processors == ("acme.jobs", "acme.more", "other.jobs")


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("true", True), ("Yes", True), ("0", False), ("off", False)])
def test_yes_no_settings_read_the_usual_spellings(raw: str, value: bool) -> None:
    assert Settings.from_env({"VAULTJOBS_UI_READ_ONLY": raw}).ui_read_only is value


@pytest.mark.parametrize("root_path", ["jobs", "/jobs/"])
def test_a_root_path_starts_with_a_slash_and_does_not_end_with_one(root_path: str) -> None:
    with pytest.raises(ValueError, match="root_path"):
        Settings(root_path=root_path)


def test_flags_win_over_the_environment_which_wins_over_defaults(tmp_path: Path) -> None:
    from_env, from_flag = tmp_path / "from-env", tmp_path / "from-flag"
    assert run("migrate", env={"VAULTJOBS_DATA_DIR": str(from_env)}).exit_code == 0
    assert (from_env / "vaultjobs.db").exists()
    result = run("migrate", "--data-dir", str(from_flag), env={"VAULTJOBS_DATA_DIR": str(tmp_path / "unused")})
    assert result.exit_code == 0, result.output
    assert (from_flag / "vaultjobs.db").exists() and not (tmp_path / "unused").exists()


@pytest.mark.parametrize(
    ("command", "variable", "value"),
    [
        (["worker"], "VAULTJOBS_WORKERS", "0"),  # a worker process runs at least one thread
        (["serve"], "VAULTJOBS_WORKERS", "-1"),
        (["serve"], "VAULTJOBS_RETENTION_DAYS", "0"),
        (["serve"], "VAULTJOBS_STATUS_WINDOW", "-2"),
        (["serve"], "VAULTJOBS_LOG_LEVEL", "loud"),
        (["serve"], "VAULTJOBS_PORT", "eighty"),
        (["serve"], "VAULTJOBS_DEFINITIONS", "no-such-file.toml"),
        (["serve"], "VAULTJOBS_UI_READ_ONLY", "maybe"),
    ],
)
def test_the_environment_is_held_to_the_flags_rules(
    command: list[str], variable: str, value: str, tmp_path: Path
) -> None:
    result = run(*command, "--data-dir", str(tmp_path), env={variable: value})
    assert result.exit_code == 2, result.output
    assert variable in result.output
    assert not (tmp_path / "vaultjobs.db").exists()  # refused before anything was opened


def test_worker_refuses_workers_and_its_old_name_together(tmp_path: Path) -> None:
    result = run("worker", "--data-dir", str(tmp_path), "--workers", "2", "--concurrency", "3")
    assert result.exit_code == 2 and "--concurrency" in result.output


def test_worker_help_marks_concurrency_deprecated() -> None:
    out = run("worker", "--help").output
    assert "--workers" in out and "DEPRECATED" in out.split("--concurrency", 1)[1]


class Openings:
    """Every `SqliteStore` opened while a command runs, and whether it was closed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opened: list[SqliteStore] = []
        self.closed: list[SqliteStore] = []
        real_init, real_close = SqliteStore.__init__, SqliteStore.close

        def init(store: SqliteStore, *args: Any, **kwargs: Any) -> None:
            self.opened.append(store)
            real_init(store, *args, **kwargs)

        def close(store: SqliteStore) -> None:
            self.closed.append(store)
            real_close(store)

        monkeypatch.setattr(SqliteStore, "__init__", init)
        monkeypatch.setattr(SqliteStore, "close", close)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["users", "add", "erin", "--password", "erin-password"], 0),
        (["users", "add", "bad name", "--password", "erin-password"], 1),  # refused by the accounts
        (["users", "list", "--json"], 0),
        (["users", "deactivate", "nobody"], 1),  # no such user
        (["users", "set-password", "nobody", "--password", "whatever-pw"], 1),
        (["definitions", "list"], 0),
        (["definitions", "enable", "nothing"], 1),  # no such definition
        (["migrate"], 0),
    ],
)
def test_admin_commands_close_the_store_they_open(
    args: list[str], code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    openings = Openings(monkeypatch)
    result = run(*args, "--data-dir", str(tmp_path))
    assert result.exit_code == code, result.output
    assert openings.opened and {id(s) for s in openings.opened} == {id(s) for s in openings.closed}


def test_tables_of_admin_commands_piped_elsewhere_keep_each_row_on_one_line(tmp_path: Path) -> None:
    name = "a" * 150  # the longest username there may be
    assert run("users", "add", name, "--password", "long-name-password", "--data-dir", str(tmp_path)).exit_code == 0
    [row] = [line for line in run("users", "list", "--data-dir", str(tmp_path)).output.splitlines() if name in line]
    assert "UTC" in row
