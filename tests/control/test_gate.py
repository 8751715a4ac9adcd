"""The control plane is off unless asked for, and off loopback it answers only to its token."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest

from vaultjobs.settings import Settings
from vaultjobs.testing import LiveServer

TOKEN = "a-control-token"


def on_loopback(server: LiveServer) -> httpx.Client:
    """A client of ``server`` on 127.0.0.1, whatever address it listens on."""
    port = server.url.rsplit(":", 1)[1]
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0)


def test_off_by_default_its_paths_answer_as_unknown_ones(live_server_factory: Callable[..., LiveServer]) -> None:
    server = live_server_factory()
    with on_loopback(server) as http:
        unknown = http.get("/_vaultjobs/no-such-thing")
        control = http.get("/_vaultjobs/control")
    assert control.status_code == unknown.status_code
    assert control.json()["errors"][0]["type"] == unknown.json()["errors"][0]["type"] == "MALFORMED_URL"


def test_on_loopback_it_answers_without_a_token(live_server_factory: Callable[..., LiveServer]) -> None:
    server = live_server_factory(control_plane="1")
    with on_loopback(server) as http:
        answer = http.get("/_vaultjobs/control")
        assert answer.status_code == 200
        assert answer.json() == {"control_plane": "on", "version": answer.json()["version"], "token_required": False}
        # Vault's own routes and the service routes beside the mount are untouched.
        assert http.get("/_vaultjobs/health").status_code == 200
        assert http.get("/_vaultjobs/no-such-thing").json()["errors"][0]["type"] == "MALFORMED_URL"


def test_off_loopback_it_needs_the_token(live_server_factory: Callable[..., LiveServer]) -> None:
    server = live_server_factory(control_plane="1", control_token=TOKEN, host="0.0.0.0")
    with on_loopback(server) as http:
        missing = http.get("/_vaultjobs/control")
        wrong = http.get("/_vaultjobs/control", headers={"X-Vaultjobs-Control-Token": "guess"})
        right = http.get("/_vaultjobs/control", headers={"X-Vaultjobs-Control-Token": TOKEN})
        assert http.get("/_vaultjobs/health").status_code == 200  # the token guards the control plane only
    for refused in (missing, wrong):
        assert refused.status_code == 401
        assert refused.json()["error"]["type"] == "CONTROL_TOKEN_REQUIRED"
    assert "missing" in missing.json()["error"]["message"] and "wrong" in wrong.json()["error"]["message"]
    assert right.status_code == 200 and right.json()["token_required"] is True


def test_off_loopback_without_a_token_it_does_not_start(tmp_path: pytest.TempPathFactory) -> None:
    with pytest.raises(ValueError, match="control token"):
        Settings(control_plane=True, host="0.0.0.0")
    Settings(control_plane=True, host="127.0.0.1")  # loopback: fine without
    run = subprocess.run(
        [sys.executable, "-m", "vaultjobs", "serve", "--control-plane", "--host", "0.0.0.0", "--port", "0",
         "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode != 0
    assert "control token" in run.stderr
