"""Fixtures of the client tests. Every test that takes ``client``, ``make_client`` or ``connect`` runs
twice: once with `VaultClient` and once with `AsyncVaultClient` behind the same blocking interface."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from vaultjobs.client import AsyncObjects, AsyncPackages, AsyncVaultClient, VaultClient
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


class BlockingAsyncClient:
    """An `AsyncVaultClient` with `VaultClient`'s interface, so one test body checks both clients.

    Each awaited method runs to completion on one event loop; an async iterator is read to its end
    and handed back as a plain iterator. Everything else (properties) is the async client's own.
    """

    def __init__(self, client: AsyncVaultClient, runner: asyncio.Runner) -> None:
        self.wrapped = client
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.wrapped, name)
        if isinstance(attribute, (AsyncObjects, AsyncPackages)):  # a namespace of awaitable methods, wrapped alike
            return BlockingAsyncClient(attribute, self._runner)  # type: ignore[arg-type]
        if not callable(attribute):
            return attribute

        def blocking(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            if asyncio.iscoroutine(result):
                return self._runner.run(result)
            if isinstance(result, AsyncIterator):
                return iter(self._runner.run(_read_all(result)))
            return result

        return blocking

    def close(self) -> None:
        self._runner.run(self.wrapped.aclose())

    def __enter__(self) -> BlockingAsyncClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


async def _read_all(iterator: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in iterator]


@pytest.fixture(params=["sync", "async"])
def flavor(request: pytest.FixtureRequest) -> str:
    """Which client the test runs with."""
    return str(request.param)


@pytest.fixture
def connect(flavor: str, clock: FakeClock) -> Iterator[Callable[..., VaultClient]]:
    """Build a client of the test's flavor from `VaultClient`'s arguments, on the fake clock."""
    runner = asyncio.Runner()
    clients: list[Any] = []

    def build(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("clock", clock)
        if flavor == "sync":
            client: Any = VaultClient(*args, sleep=clock.sleep, **kwargs)
        else:
            client = BlockingAsyncClient(AsyncVaultClient(*args, sleep=clock.async_sleep, **kwargs), runner)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()
    runner.close()


@pytest.fixture
def make_client(vault: FakeVault, connect: Callable[..., VaultClient]) -> Callable[..., VaultClient]:
    """A client of the FakeVault, logging in as user/pass unless given a session id."""

    def make(**kwargs: Any) -> VaultClient:
        if "session_id" not in kwargs:
            kwargs.setdefault("username", "user")
            kwargs.setdefault("password", "pass")
        kwargs.setdefault("transport", vault.transport())
        kwargs.setdefault("poll_margin", 0.0)  # round numbers; test_polling covers the default margin
        return connect(URL, **kwargs)

    return make


@pytest.fixture
def client(make_client: Callable[..., VaultClient]) -> VaultClient:
    return make_client()


@pytest.fixture
def vtime() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
def make_async_client(vtime: VirtualTime) -> Callable[..., AsyncVaultClient]:
    """An `AsyncVaultClient` on virtual time, for tests of concurrent tasks (see `VirtualTime.run`)."""

    def make(vault: FakeVault, **kwargs: Any) -> AsyncVaultClient:
        if "session_id" not in kwargs:
            kwargs.setdefault("username", "user")
            kwargs.setdefault("password", "pass")
        kwargs.setdefault("poll_margin", 0.0)
        return AsyncVaultClient(URL, transport=vault.transport(), clock=vtime, sleep=vtime.sleep, **kwargs)

    return make
