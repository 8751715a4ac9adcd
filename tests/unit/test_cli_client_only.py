"""A client-only install: ``vaultjobs`` and its client commands work without the server's dependencies."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

CLIENT_ONLY = Path(__file__).parents[1] / "client_only.py"
CLIENT_COMMANDS = ["status", "wait", "tasks", "cancel", "start-now", "history", "monitors", "login"]
SERVER_COMMANDS = ["serve", "worker", "migrate", "users", "definitions"]


def client_only(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "VAULTJOBS_"))}
    return subprocess.run(
        [sys.executable, str(CLIENT_ONLY), *args], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("module", ["uvicorn", "starlette", "psycopg", "argon2", "croniter"])
def test_the_hook_refuses_what_this_environment_has_installed(module: str) -> None:
    code = (
        f"import runpy, sys; hook = runpy.run_path({str(CLIENT_ONLY)!r})['BlockServer'];"
        f" import {module}; sys.meta_path.insert(0, hook()); del sys.modules[{module!r}]; import {module}"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "not in a client-only install" in result.stderr


def test_help_lists_every_command() -> None:
    result = client_only("--help")
    assert result.returncode == 0, result.stderr
    for name in CLIENT_COMMANDS + SERVER_COMMANDS:
        assert f"  {name} " in result.stdout


@pytest.mark.parametrize("command", CLIENT_COMMANDS + SERVER_COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = client_only(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: vaultjobs" in result.stdout


def test_a_client_command_runs_and_fails_the_clients_way() -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = client_only("status", "1", "--url", f"http://127.0.0.1:{port}", "--session-id", "S", "--json")
    assert result.returncode == 1, result.stderr
    assert '"error": "ConnectError"' in result.stdout or '"TransportError"' in result.stdout


@pytest.mark.parametrize("args", [["serve"], ["worker"], ["migrate"], ["users", "list"], ["definitions", "list"]])
def test_server_commands_name_the_install_command(args: list[str], tmp_path: Path) -> None:
    result = client_only(*args, "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 1
    assert "pip install 'vaultjobs[server]'" in result.stderr
    assert not (tmp_path / "data").exists()
