"""The control client is what a Vault integration's test suite imports: httpx only, typed errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from vaultjobs.control.client import ControlClient, ControlPlaneError
from vaultjobs.testing import LiveServer

CLIENT_ONLY = Path(__file__).parents[1] / "client_only.py"


def test_it_imports_without_the_servers_dependencies() -> None:
    script = (
        f"import sys; sys.path.insert(0, {str(CLIENT_ONLY.parent)!r}); import client_only; "
        "sys.meta_path.insert(0, client_only.BlockServer()); "
        "import vaultjobs.control.client, vaultjobs.client; print('imported', flush=True); "
        "import starlette"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    # The clients imported; the server's starlette, after them, is refused: a client-only install.
    assert run.stdout == "imported\n"
    assert run.returncode == 1 and "No module named 'starlette' (not in a client-only install)" in run.stderr, \
        run.stderr


def test_refusals_are_typed(http: httpx.Client, control_server: LiveServer) -> None:
    with ControlClient(control_server.url) as control:
        with pytest.raises(ControlPlaneError) as refused:
            control.faults.add(operation="no_such_operation", answer={"drop": True})
        assert (refused.value.status, refused.value.type) == (400, "INVALID_FAULT")
        rule = control.faults.add(operation="retrieve_job_status", job_id=3, when={"nth": 2},
                                  answer={"status": 502})
        assert control.faults.list() == [rule] and control.faults.hits(rule["id"]) == 0
        control.faults.remove(rule["id"])
        with pytest.raises(ControlPlaneError) as missing:
            control.faults.remove(rule["id"])
        assert missing.value.type == "FAULT_NOT_FOUND"


def test_a_server_without_the_control_plane_is_named_as_such(live_server: LiveServer) -> None:
    with ControlClient(live_server.url) as control, pytest.raises(ControlPlaneError) as off:
        control.faults.list()
    assert off.value.type == "CONTROL_PLANE_OFF" and "--control-plane" in off.value.message
