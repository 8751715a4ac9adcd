"""The client commands of the ``vaultjobs`` CLI against a real ``vaultjobs serve``, as subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from vaultjobs.client import VaultClient
from vaultjobs.testing import LiveServer

#: ``vaultjobs`` as a client-only install runs it: the [server] extra's packages cannot be imported.
CLIENT_ONLY = Path(__file__).parents[1] / "client_only.py"


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, vaultjobs_new_database: Callable[[], str]
) -> Iterator[LiveServer]:
    """Every command here signs in afresh, more often than Vault's 20 a minute: lift that limit so
    no test depends on which minute the module runs in (tests/integration/test_errors.py tests it)."""
    server = LiveServer(
        tmp_path_factory.mktemp("cli-client"),
        status_window=0.1,  # well under the time a command takes to start, so no test meets the window
        database_url=vaultjobs_new_database(),
        auth_attempts_per_minute=1000,
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def env(live_server: LiveServer, tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "VAULTJOBS_"))}
    return {
        **base,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "VAULT_URL": live_server.url,
        "VAULT_USERNAME": "admin",
        "VAULT_PASSWORD": live_server.admin_password,
        "VAULT_POLL_INTERVAL": "0.1",
        "VAULTJOBS_MIN_POLL_INTERVAL": "0.1",  # the server's window; never lower this for Vault
    }


def vaultjobs(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaultjobs", *args], env=env, capture_output=True, text=True, timeout=120
    )


def demo(live_server: LiveServer, **parameters: object) -> int:
    with VaultClient(live_server.url, username="admin", password=live_server.admin_password) as client:
        return client.run_processor("demo", parameters).job_id


def test_wait_success_exits_zero(live_server: LiveServer, env: dict[str, str]) -> None:
    job_id = demo(live_server, items=4, chunk_size=2, item_seconds=0.2)
    result = vaultjobs(env, "wait", str(job_id))
    assert result.returncode == 0, result.stderr
    assert "SUCCESS" in result.stdout
    assert f"job {job_id}" in result.stderr  # the progress bar


def test_wait_json(live_server: LiveServer, env: dict[str, str]) -> None:
    job_id = demo(live_server, items=2, chunk_size=1, item_seconds=0.05)
    result = vaultjobs(env, "wait", str(job_id), "--json")
    assert result.returncode == 0, result.stderr
    body = orjson.loads(result.stdout)
    assert body["id"] == job_id and body["status"] == "SUCCESS"
    assert body["progress"] == [{"status": "SUCCESS", "size": 2}]


def test_wait_errors_encountered_exits_10(live_server: LiveServer, env: dict[str, str]) -> None:
    job_id = demo(live_server, items=4, chunk_size=2, item_seconds=0.01, fail_items=[1])
    result = vaultjobs(env, "wait", str(job_id), "--json")
    assert result.returncode == 10, result.stderr
    body = orjson.loads(result.stdout)
    assert body["error"] == "JobFailed" and body["job"]["status"] == "ERRORS_ENCOUNTERED"


def test_wait_timeout_exits_3(live_server: LiveServer, env: dict[str, str]) -> None:
    job_id = demo(live_server, items=1, item_seconds=15)  # still running when the wait gives up, even on a slow machine
    result = vaultjobs(env, "wait", str(job_id), "--timeout", "1")
    assert result.returncode == 3
    assert "timed out" in result.stderr


def test_status_and_tasks(live_server: LiveServer, env: dict[str, str]) -> None:
    job_id = demo(live_server, items=3, chunk_size=1, item_seconds=0.01)
    assert vaultjobs(env, "wait", str(job_id), "--json").returncode == 0
    status = vaultjobs(env, "status", str(job_id), "--json")
    assert status.returncode == 0, status.stderr
    assert orjson.loads(status.stdout)["status"] == "SUCCESS"
    table = vaultjobs(env, "status", str(job_id))
    assert "SUCCESS" in table.stdout and "3/3 tasks done" in table.stdout
    tasks = vaultjobs(env, "tasks", str(job_id), "--json")
    assert orjson.loads(tasks.stdout) == [{"id": f"Task{n}", "state": "SUCCESS"} for n in (1, 2, 3)]


def test_login_then_commands_use_the_saved_session(
    live_server: LiveServer, env: dict[str, str], tmp_path: Path
) -> None:
    login = vaultjobs(env, "login")
    assert login.returncode == 0, login.stderr
    assert (tmp_path / "config" / "vaultjobs" / "sessions.json").stat().st_mode & 0o777 == 0o600
    job_id = demo(live_server, items=1, item_seconds=0.01)
    session_only = {k: v for k, v in env.items() if k not in ("VAULT_USERNAME", "VAULT_PASSWORD")}
    result = vaultjobs(session_only, "wait", str(job_id), "--json")
    assert result.returncode == 0, result.stderr


def test_login_print_export(env: dict[str, str]) -> None:
    result = vaultjobs(env, "login", "--print-export", "--no-save")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("export VAULT_SESSION_ID=")


def test_bad_password_exits_4(env: dict[str, str]) -> None:
    result = vaultjobs({**env, "VAULT_PASSWORD": "wrong"}, "status", "1")
    assert result.returncode == 4
    assert "USERNAME_OR_PASSWORD_INCORRECT" in result.stderr


def test_unknown_job_exits_1(env: dict[str, str]) -> None:
    result = vaultjobs(env, "status", "987654321", "--json")
    assert result.returncode == 1
    assert orjson.loads(result.stdout)["errors"][0]["type"] == "INVALID_DATA"


def test_wait_and_tasks_in_a_client_only_install(live_server: LiveServer, env: dict[str, str]) -> None:
    job_id = demo(live_server, items=2, chunk_size=1, item_seconds=0.01)
    for args in (["wait", str(job_id), "--json"], ["tasks", str(job_id), "--json"]):
        result = subprocess.run(
            [sys.executable, str(CLIENT_ONLY), *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout) == [{"id": f"Task{n}", "state": "SUCCESS"} for n in (1, 2)]
