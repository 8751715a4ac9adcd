"""The control plane is off unless asked for, and off loopback it answers only to its token."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from starlette.routing import Mount, Route

from vaultjobs.node import build_node
from vaultjobs.settings import Settings
from vaultjobs.testing import LiveServer

TOKEN = "a-control-token"


def on_loopback(server: LiveServer) -> httpx.Client:
    """A client of ``server`` on 127.0.0.1, whatever address it listens on."""
    port = server.url.rsplit(":", 1)[1]
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0)


def control_plane_calls(tmp_path: Path) -> list[tuple[str, str]]:
    """(method, path) of every call the control plane answers when it is on, its parameters filled in."""
    node = build_node(Settings(data_dir=tmp_path, control_plane=True))
    try:
        # the control plane's own mount (the service routes beside it, /_vaultjobs/health …, stay on)
        (mount,) = [r for r in node.app.routes if type(r) is Mount and r.path == "/_vaultjobs"]
        return [(method, re.sub(r"\{\w+\}", "1", mount.path + route.path))
                for route in mount.routes if isinstance(route, Route)
                for method in sorted(route.methods or ()) if method != "HEAD"]
    finally:
        node.store.close()


def answer_of(response: httpx.Response, path: str) -> tuple[int, dict[str, str], str]:
    """What a client sees, but the execution id, the date, the length and the path named in the message."""
    headers = {k: v for k, v in response.headers.items()
               if k not in ("date", "x-vaultapi-executionid", "content-length")}
    return response.status_code, headers, response.text.replace(path, "{path}")


def test_off_by_default_its_paths_answer_as_unknown_ones(
    tmp_path: Path, live_server_factory: Callable[..., LiveServer]
) -> None:
    calls = control_plane_calls(tmp_path)
    assert len(calls) >= 20 and ("POST", "/_vaultjobs/reset") in calls and ("GET", "/_vaultjobs/events") in calls
    server = live_server_factory()
    with on_loopback(server) as http:
        for method, path in calls:
            unknown = "/_vaultjobs/no-such-thing"
            expected = answer_of(http.request(method, unknown, json={"seed": "empty"}), unknown)
            assert expected[0] == 200 and "MALFORMED_URL" in expected[2]
            assert answer_of(http.request(method, path, json={"seed": "empty"}), path) == expected, (method, path)


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
