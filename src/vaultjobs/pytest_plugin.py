"""The pytest plugin for testing a Vault integration against a local vaultjobs (docs/testing.md).

Registered through :mod:`vaultjobs.testing` (the ``pytest11`` entry point), so installing vaultjobs
is enough. Fixtures:

* ``vault_server`` (session): a ``vaultjobs serve --control-plane`` on a free port with SQLite in a
  temporary folder, or the server named by ``--vaultjobs-url`` (and ``--vaultjobs-control-token``,
  ``--vaultjobs-username``, ``--vaultjobs-password``).
* ``vault`` (each test): the server reset (seeded with the ``vault_seed`` marker's document, or the
  default seed; its clock frozen where the ``vault_clock`` marker says), as :class:`Vault`:
  ``base_url``, a logged-in ``client`` (a :class:`~vaultjobs.client.VaultClient` whose waits move the
  server's virtual clock instead of sleeping) and ``control`` (a
  :class:`~vaultjobs.control.client.ControlClient`).

Markers: ``@pytest.mark.vault_seed("path/to/seed.yaml")`` (relative to the test file) and
``@pytest.mark.vault_clock(frozen_at="2026-01-05T09:00:00Z")``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from vaultjobs.client import VaultClient
from vaultjobs.control.client import ClockState, ControlClient

#: The admin password of a server the plugin starts.
PLUGIN_ADMIN_PASSWORD = "vaultjobs-plugin-admin"


@dataclass
class VaultServer:
    """Where the server under test is, and who to log in as."""

    url: str
    username: str = "admin"
    password: str = PLUGIN_ADMIN_PASSWORD
    control_token: str | None = None
    #: The ``vaultjobs serve`` the plugin started (None for an external server).
    process: Any = None


class VirtualTime:
    """The client's sense of time: real time plus every second the test moved the server's clock.

    The client's ``sleep`` advances the server's clock instead of waiting, so that a poll loop that
    waits out Vault's 10-second window takes microseconds; its monotonic clock moves with it.
    """

    def __init__(self, control: ControlClient) -> None:
        self.control = control
        self.skipped = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.control.clock.advance(seconds)

    def moved(self, before: ClockState | None, after: ClockState, seconds: float | None) -> None:
        self.skipped += seconds if seconds is not None else (
            (after.now - before.now).total_seconds() if before is not None else 0.0)


@dataclass
class Vault:
    """One test's view of the server: its URL, a logged-in client and the control plane."""

    base_url: str
    client: VaultClient
    control: ControlClient
    server: VaultServer
    time: VirtualTime
    _closing: list[Any] = field(default_factory=list)

    def wait_for(self, job_id: int, status: str, timeout: float = 10.0) -> dict[str, Any]:
        """Shorthand for ``control.wait_for``: the job's view once it is in ``status``."""
        return self.control.wait_for(job_id, status, timeout=timeout)

    def new_client(self, **options: Any) -> VaultClient:
        """Another client of the server (its own login), closed after the test."""
        options.setdefault("username", self.server.username)
        options.setdefault("password", self.server.password)
        options.setdefault("clock", self.time.monotonic)
        client = VaultClient(self.base_url, sleep=self.time.sleep, **options)
        self._closing.append(client)
        return client

    def close(self) -> None:
        for thing in (*self._closing, self.client, self.control):
            thing.close()


class _TrackedControl(ControlClient):
    """A control client whose clock moves also move the test's :class:`VirtualTime`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.time = VirtualTime(self)
        advance = self.clock.advance

        def tracked_advance(seconds: float | None = None, *, to: Any = None) -> ClockState:
            before = self.clock.get() if to is not None else None
            after = advance(seconds, to=to)
            self.time.moved(before, after, seconds)
            return after

        self.clock.advance = tracked_advance  # type: ignore[method-assign]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vaultjobs", "a local Vault to test against (vaultjobs)")
    group.addoption("--vaultjobs-url", default=os.environ.get("VAULTJOBS_TEST_URL"),
                    help="use this running vaultjobs (started with --control-plane) instead of starting one "
                         "(env VAULTJOBS_TEST_URL)")
    group.addoption("--vaultjobs-control-token", default=os.environ.get("VAULTJOBS_CONTROL_TOKEN"),
                    help="its control token, when it listens off loopback (env VAULTJOBS_CONTROL_TOKEN)")
    group.addoption("--vaultjobs-username", default="admin", help="the user the `vault` client logs in as")
    group.addoption("--vaultjobs-password", default=os.environ.get("VAULTJOBS_ADMIN_PASSWORD"),
                    help="its password (env VAULTJOBS_ADMIN_PASSWORD)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "vault_seed(path): seed the vaultjobs under test with this JSON or YAML "
                                       "document (relative to the test file) instead of the default seed")
    config.addinivalue_line("markers", "vault_clock(frozen_at): freeze the vaultjobs clock at this ISO 8601 "
                                       "instant before the test")


@pytest.fixture(scope="session")
def vault_server(request: pytest.FixtureRequest) -> Iterator[VaultServer]:
    """The vaultjobs under test: the one ``--vaultjobs-url`` names, or one started for the session."""
    url = request.config.getoption("--vaultjobs-url")
    token = request.config.getoption("--vaultjobs-control-token")
    username = request.config.getoption("--vaultjobs-username")
    if url:
        password = request.config.getoption("--vaultjobs-password") or PLUGIN_ADMIN_PASSWORD
        yield VaultServer(url.rstrip("/"), username, password, token)
        return
    from vaultjobs.testing import LiveServer

    folder = Path(tempfile.mkdtemp(prefix="vaultjobs-vault-"))
    server = LiveServer(folder, admin_password=PLUGIN_ADMIN_PASSWORD, control_plane="1")
    try:
        server.start()
        yield VaultServer(server.url, "admin", PLUGIN_ADMIN_PASSWORD, None, server)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _seed_of(request: pytest.FixtureRequest) -> Path | None:
    marker = request.node.get_closest_marker("vault_seed")
    if marker is None:
        return None
    if len(marker.args) != 1:
        raise pytest.UsageError("vault_seed takes one argument: the seed document's path")
    path = Path(marker.args[0])
    return path if path.is_absolute() else Path(request.node.path).parent / path


@pytest.fixture
def vault(vault_server: VaultServer, request: pytest.FixtureRequest) -> Iterator[Vault]:
    """The server reset for this test, with a logged-in client and its control plane."""
    control = _TrackedControl(vault_server.url, token=vault_server.control_token)
    seed = _seed_of(request)
    control.reset("empty" if seed is not None else "default")
    if seed is not None:
        control.seed(seed)
    clock = request.node.get_closest_marker("vault_clock")
    if clock is not None:
        frozen_at = clock.kwargs.get("frozen_at", clock.args[0] if clock.args else None)
        control.clock.freeze(frozen_at)
    client = VaultClient(vault_server.url, username=vault_server.username, password=vault_server.password,
                         clock=control.time.monotonic, sleep=control.time.sleep)
    vault = Vault(vault_server.url, client, control, vault_server, control.time)
    try:
        yield vault
    finally:
        vault.close()
