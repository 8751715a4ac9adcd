from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from vaultjobs.client import AsyncVaultClient, VaultClient
from vaultjobs.client.testing import FakeClock, FakeVault, VirtualTime

URL = "https://fake.vault"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No VAULT_* setting of the developer's shell leaks into a test; config lives in tmp."""
    import os

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
def make_client(vault: FakeVault, clock: FakeClock) -> Iterator[Callable[..., VaultClient]]:
    clients: list[VaultClient] = []

    def make(**kwargs: Any) -> VaultClient:
        if "session_id" not in kwargs:
            kwargs.setdefault("username", "user")
            kwargs.setdefault("password", "pass")
        kwargs.setdefault("transport", vault.transport())
        kwargs.setdefault("poll_margin", 0.0)  # round numbers; test_polling covers the default margin
        client = VaultClient(URL, clock=clock, sleep=clock.sleep, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., VaultClient]) -> VaultClient:
    return make_client()


@pytest.fixture
def vtime() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
def make_async_client(vtime: VirtualTime) -> Callable[..., AsyncVaultClient]:
    def make(vault: FakeVault, **kwargs: Any) -> AsyncVaultClient:
        if "session_id" not in kwargs:
            kwargs.setdefault("username", "user")
            kwargs.setdefault("password", "pass")
        kwargs.setdefault("poll_margin", 0.0)
        return AsyncVaultClient(URL, transport=vault.transport(), clock=vtime, sleep=vtime.sleep, **kwargs)

    return make
