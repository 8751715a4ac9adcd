"""The client commands of ``vaultjobs`` against the client's offline fake Vault."""

from __future__ import annotations

import os
import stat
from typing import Any

import click
import orjson
import pytest
from click.testing import CliRunner, Result

from vaultjobs.cli import client, main
from vaultjobs.cli.client import TEST_OVERRIDES
from vaultjobs.client.testing import FakeClock, FakeVault

URL = "https://fake.vault"
CREDENTIALS = {"VAULT_URL": URL, "VAULT_USERNAME": "user", "VAULT_PASSWORD": "pass"}


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No VAULT_* setting of the developer's shell leaks into a test; config lives in tmp."""
    for name in list(os.environ):
        if name.startswith(("VAULT_", "VAULTJOBS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def vault(clock: FakeClock) -> FakeVault:
    return FakeVault(clock=clock)


@pytest.fixture
def cli(vault: FakeVault, clock: FakeClock) -> click.Group:
    """The commands of ``vaultjobs``, with the fake Vault's transport and clock injected."""

    @click.group()
    @click.pass_context
    def group(ctx: click.Context) -> None:
        ctx.meta[TEST_OVERRIDES] = {
            "transport": vault.transport(),
            "clock": clock,
            "sleep": clock.sleep,
            "poll_margin": 0.0,
        }

    for command in client.COMMANDS:
        assert main.commands[str(command.name)] is command
        group.add_command(command)
    return group


def run(cli: click.Group, *args: str, env: dict[str, str] | None = None, **kwargs: Any) -> Result:
    environment = CREDENTIALS if env is None else env
    return CliRunner().invoke(cli, list(args), env=environment, catch_exceptions=False, **kwargs)


def test_commands_are_registered(cli: click.Group) -> None:
    assert set(cli.commands) == {
        "status",
        "wait",
        "tasks",
        "cancel",
        "start-now",
        "history",
        "monitors",
        "login",
    }


def test_help_names_every_environment_variable(cli: click.Group) -> None:
    out = run(cli, "wait", "--help").output
    for name in ("VAULT_URL", "VAULT_DNS", "VAULT_USERNAME", "VAULT_PASSWORD", "VAULT_SESSION_ID",
                 "VAULT_API_VERSION", "VAULT_POLL_INTERVAL"):  # fmt: skip
        assert name in out
    assert "COMPLETED_DUE_TO_INACTIVITY" in out  # the exit code table


def test_status_json(cli: click.Group, vault: FakeVault) -> None:
    job_id = vault.add_job(
        ["RUNNING"], progress=[[{"status": "SUCCESS", "size": 1}, {"status": "RUNNING", "size": 1}]]
    )
    result = run(cli, "status", str(job_id), "--json")
    assert result.exit_code == 0
    body = orjson.loads(result.stdout)
    assert body["id"] == job_id and body["status"] == "RUNNING"
    assert body["progress"] == [{"status": "SUCCESS", "size": 1}, {"status": "RUNNING", "size": 1}]


def test_status_table(cli: click.Group, vault: FakeVault) -> None:
    job_id = vault.add_job(
        ["RUNNING"], progress=[[{"status": "SUCCESS", "size": 1}, {"status": "RUNNING", "size": 1}]]
    )
    result = run(cli, "status", str(job_id))
    assert result.exit_code == 0
    assert "RUNNING" in result.stdout and "1/2 tasks done" in result.stdout


def test_wait_success_exits_zero_and_shows_progress(cli: click.Group, vault: FakeVault) -> None:
    progress = [
        [{"status": "QUEUED", "size": 2}],
        [{"status": "SUCCESS", "size": 1}, {"status": "RUNNING", "size": 1}],
        [{"status": "SUCCESS", "size": 2}],
    ]
    job_id = vault.add_job(["QUEUED", "RUNNING", "SUCCESS"], progress=progress)
    result = run(cli, "wait", str(job_id))
    assert result.exit_code == 0, result.output
    assert f"job {job_id}" in result.stderr and "2/2" in result.stderr  # the progress bar
    assert "SUCCESS" in result.stdout


def test_wait_json_prints_the_final_job_and_no_bar(cli: click.Group, vault: FakeVault) -> None:
    job_id = vault.add_job(["RUNNING", "SUCCESS"])
    result = run(cli, "wait", str(job_id), "--json")
    assert result.exit_code == 0
    assert orjson.loads(result.stdout)["status"] == "SUCCESS"
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("ERRORS_ENCOUNTERED", 10),
        ("CANCELLED", 11),
        ("TIMEOUT", 12),
        ("COMPLETED_DUE_TO_INACTIVITY", 13),
        ("MISSED_SCHEDULE", 14),
        ("FAILED_TO_RUN", 15),
    ],
)
def test_wait_exit_code_per_failing_status(
    cli: click.Group, vault: FakeVault, status: str, code: int
) -> None:
    job_id = vault.add_job(["RUNNING", status])
    result = run(cli, "wait", str(job_id), "--json")
    assert result.exit_code == code
    body = orjson.loads(result.stdout)
    assert body["error"] == "JobFailed" and body["job"]["status"] == status


def test_wait_timeout_exits_3(cli: click.Group, vault: FakeVault) -> None:
    job_id = vault.add_job(["RUNNING"])
    result = run(cli, "wait", str(job_id), "--timeout", "25")
    assert result.exit_code == 3
    assert "timed out" in result.stderr and "RUNNING" in result.stderr


def test_wait_refuses_fast_polling_unless_the_floor_is_lowered(cli: click.Group, vault: FakeVault) -> None:
    job_id = vault.add_job(["SUCCESS"])
    assert run(cli, "wait", str(job_id), "--poll-interval", "1").exit_code == 2
    env = {**CREDENTIALS, "VAULT_POLL_INTERVAL": "0.5", "VAULTJOBS_MIN_POLL_INTERVAL": "0.5"}
    assert run(cli, "wait", str(job_id), env=env).exit_code == 0


def test_tasks(cli: click.Group, vault: FakeVault) -> None:
    job_id = vault.add_job(
        ["RUNNING"], tasks=[{"id": "Task1", "state": "SUCCESS"}, {"id": "Task2", "state": "RUNNING"}]
    )
    assert orjson.loads(run(cli, "tasks", str(job_id), "--json").stdout) == [
        {"id": "Task1", "state": "SUCCESS"},
        {"id": "Task2", "state": "RUNNING"},
    ]
    table = run(cli, "tasks", str(job_id)).stdout
    assert "Task2" in table and "1 SUCCESS, 1 RUNNING" in table


def test_cancel_reports_each_job_and_exits_1_when_one_is_refused(cli: click.Group, vault: FakeVault) -> None:
    queued, done = vault.add_job(["QUEUED"]), vault.add_job(["SUCCESS"])
    result = run(cli, "cancel", str(queued), str(done), "--json")
    assert result.exit_code == 1
    outcomes = orjson.loads(result.stdout)
    assert [(o["job_id"], o["accepted"]) for o in outcomes] == [(queued, True), (done, False)]
    assert run(cli, "cancel", str(vault.add_job(["SCHEDULED"]))).exit_code == 0


def test_start_now(cli: click.Group, vault: FakeVault) -> None:
    job_id = vault.add_job(["SCHEDULED"])
    result = run(cli, "start-now", str(job_id))
    assert result.exit_code == 0 and f"Job {job_id} started" in result.stdout
    again = run(cli, "start-now", str(job_id), "--json")
    assert again.exit_code == 1
    assert orjson.loads(again.stdout)["errors"][0]["type"] == "OPERATION_NOT_ALLOWED"


def test_history_and_monitors(cli: click.Group, vault: FakeVault) -> None:
    ok, failed, running = (
        vault.add_job(["SUCCESS"]),
        vault.add_job(["ERRORS_ENCOUNTERED"]),
        vault.add_job(["RUNNING"]),
    )
    history = orjson.loads(run(cli, "history", "--json").stdout)
    assert [e["job_id"] for e in history] == [failed, ok]
    only_failed = orjson.loads(run(cli, "history", "--json", "--status", "errors_encountered").stdout)
    assert [e["job_id"] for e in only_failed] == [failed]
    assert [e["job_id"] for e in orjson.loads(run(cli, "history", "--json", "--limit", "1").stdout)] == [
        failed
    ]
    monitors = orjson.loads(run(cli, "monitors", "--json", "--start-date", "2026-01-01").stdout)
    assert [e["job_id"] for e in monitors] == [running]
    assert vault.requests[-1].url.params["start_date"] == "2026-01-01T00:00:00Z"
    assert "Fake job" in run(cli, "history").stdout


def test_login_saves_a_private_session_that_later_commands_use(
    cli: click.Group, vault: FakeVault, tmp_path: Any
) -> None:
    result = run(cli, "login")
    assert result.exit_code == 0 and "Session saved to" in result.output
    path = tmp_path / "config" / "vaultjobs" / "sessions.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    saved = orjson.loads(path.read_bytes())[URL + "/"]
    assert saved["session_id"] in vault.sessions and saved["username"] == "user"
    job_id = vault.add_job(["RUNNING"])
    assert run(cli, "status", str(job_id), env={"VAULT_URL": URL}).exit_code == 0
    assert vault.logins == 1  # the saved session, no new login


def test_saved_session_is_renewed_when_credentials_are_given(
    cli: click.Group, vault: FakeVault, tmp_path: Any
) -> None:
    run(cli, "login")
    vault.expire_sessions()
    job_id = vault.add_job(["RUNNING"])
    assert run(cli, "status", str(job_id)).exit_code == 0
    saved = orjson.loads((tmp_path / "config" / "vaultjobs" / "sessions.json").read_bytes())[URL + "/"]
    assert saved["session_id"] in vault.sessions


def test_login_print_export_without_saving(cli: click.Group, vault: FakeVault, tmp_path: Any) -> None:
    result = run(cli, "login", "--print-export", "--no-save")
    [line] = result.stdout.splitlines()
    assert line.startswith("export VAULT_SESSION_ID=") and line.split("=", 1)[1] in vault.sessions
    assert not (tmp_path / "config" / "vaultjobs" / "sessions.json").exists()


def test_login_prompts_for_missing_password(cli: click.Group, vault: FakeVault) -> None:
    result = run(cli, "login", "--json", env={"VAULT_URL": URL, "VAULT_USERNAME": "user"}, input="pass\n")
    assert result.exit_code == 0
    assert orjson.loads(result.stdout)["user_id"] == 61603


def test_login_with_a_wrong_password_exits_4(cli: click.Group) -> None:
    result = run(cli, "login", env={**CREDENTIALS, "VAULT_PASSWORD": "nope"})
    assert result.exit_code == 4 and "USERNAME_OR_PASSWORD_INCORRECT" in result.stderr


def test_expired_session_id_exits_4(cli: click.Group, vault: FakeVault) -> None:
    job_id = vault.add_job(["RUNNING"])
    result = run(cli, "status", str(job_id), env={"VAULT_URL": URL, "VAULT_SESSION_ID": "stale"})
    assert result.exit_code == 4 and "INVALID_SESSION_ID" in result.stderr


def test_missing_url_or_credentials_is_a_usage_error(cli: click.Group) -> None:
    assert run(cli, "status", "1", env={}).exit_code == 2
    assert run(cli, "status", "1", env={"VAULT_URL": URL}).exit_code == 2


def test_vault_dns_and_api_version_from_the_environment(cli: click.Group, vault: FakeVault) -> None:
    env = {
        "VAULT_DNS": "myvault.veevavault.com",
        "VAULT_SESSION_ID": vault.new_session(),
        "VAULT_API_VERSION": "v26.1",
    }
    job_id = vault.add_job(["SUCCESS"])
    assert run(cli, "status", str(job_id), env=env).exit_code == 0
    assert str(vault.requests[-1].url) == f"https://myvault.veevavault.com/api/v26.1/services/jobs/{job_id}"


def test_unknown_job_exits_1_with_the_vault_error(cli: click.Group) -> None:
    result = run(cli, "status", "424242")
    assert result.exit_code == 1 and "INVALID_DATA" in result.stderr


def test_tables_piped_elsewhere_keep_each_row_on_one_line(cli: click.Group, vault: FakeVault) -> None:
    title = "A long title " * 20  # far wider than any terminal's 80 columns
    job_id = vault.add_job(["ERRORS_ENCOUNTERED"], title=title.strip())
    lines = run(cli, "history").stdout.splitlines()
    [row] = [line for line in lines if title.strip() in line]
    assert str(job_id) in row and "ERRORS_ENCOUNTERED" in row


def test_status_table_of_a_long_link_is_not_wrapped(cli: click.Group, vault: FakeVault) -> None:
    href = "/api/v25.3/services/jobs/1/" + "x" * 200
    job_id = vault.add_job(["SUCCESS"], links=[{"rel": "artifacts", "href": href, "method": "GET"}])
    assert any(href in line for line in run(cli, "status", str(job_id)).stdout.splitlines())

