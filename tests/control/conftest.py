"""A control-plane server per test module, its faults, journal and events emptied before each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from vaultjobs.testing import LiveServer


@pytest.fixture(scope="module")
def control_server(
    tmp_path_factory: pytest.TempPathFactory, vaultjobs_new_database: Callable[[], str]
) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("control"), control_plane="1", database_url=vaultjobs_new_database())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin_session(control_server: LiveServer) -> str:
    return control_server.login()


@pytest.fixture
def http(control_server: LiveServer, admin_session: str) -> Iterator[httpx.Client]:
    """A client of the control server, logged in as admin, with no fault rule and an empty journal."""
    with control_server.client(headers={"Authorization": admin_session}) as client:
        for path in ("/_vaultjobs/faults", "/_vaultjobs/requests"):
            assert client.delete(path).status_code == 200
        yield client
