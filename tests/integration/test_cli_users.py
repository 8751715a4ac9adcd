"""``vaultjobs users …`` against a real data folder, and what it changes for a running server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from vaultjobs.testing import LiveServer, V


def vaultjobs(server: LiveServer, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaultjobs", *args], env=server.environment(), capture_output=True, text=True,
        check=check,
    )


def test_users_commands(live_server: LiveServer) -> None:
    out = vaultjobs(live_server, "users", "add", "dora", "--password", "dora-password", "--timezone",
                    "America/Denver", "--admin")
    assert "added user dora" in out.stdout
    listed = json.loads(vaultjobs(live_server, "users", "list", "--json").stdout)
    dora = next(u for u in listed if u["username"] == "dora")
    assert dora == {"id": dora["id"], "username": "dora", "timezone": "America/Denver", "admin": True,
                    "active": True}
    token = live_server.login("dora", "dora-password")

    vaultjobs(live_server, "users", "set-password", "dora", "--password", "dora-new-password")
    with live_server.client(headers={"Authorization": token}) as http:
        assert http.post(f"/api/{V}/keep-alive").json()["errors"][0]["type"] == "INVALID_SESSION_ID"
    live_server.login("dora", "dora-new-password")

    duplicate = vaultjobs(live_server, "users", "add", "DORA", "--password", "whatever-pw", check=False)
    assert duplicate.returncode != 0 and "exists already" in duplicate.stderr
    bad_zone = vaultjobs(live_server, "users", "add", "eve", "--password", "whatever-pw", "--timezone", "Nowhere/X",
                         check=False)
    assert bad_zone.returncode != 0 and "time zone" in bad_zone.stderr
    missing = vaultjobs(live_server, "users", "deactivate", "nobody", check=False)
    assert missing.returncode != 0 and "no user" in missing.stderr


def test_first_start_generates_an_admin_password(tmp_path: Path, vaultjobs_new_database: Callable[[], str]) -> None:
    server = LiveServer(tmp_path / "fresh", database_url=vaultjobs_new_database())
    env_password = server.admin_password
    server.environment = lambda: {  # type: ignore[method-assign]
        **{k: v for k, v in LiveServer.environment(server).items() if k != "VAULTJOBS_ADMIN_PASSWORD"}
    }
    server.start()
    try:
        saved = tmp_path / "fresh" / "admin-password"
        assert saved.stat().st_mode & 0o777 == 0o600
        password = saved.read_text().strip()
        assert password != env_password and len(password) >= 16
        assert any(password in line for line in server.output)
        server.login("admin", password)
    finally:
        server.stop()
    # printed once: a second start neither prints nor changes it
    server.start()
    try:
        assert not any("Created user" in line for line in server.output)
        server.login("admin", password)
    finally:
        server.stop()
