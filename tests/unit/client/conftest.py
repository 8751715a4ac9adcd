from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from vaultjobs.client import AsyncVaultClient, VaultClient
from vaultjobs.client.testing import FakeClock, FakeVault

T = TypeVar("T")

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
        client = VaultClient(URL, clock=clock, sleep=clock.sleep, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., VaultClient]) -> VaultClient:
    return make_client()


class VirtualTime:
    """Virtual time for asyncio tests: ``sleep`` parks the task until the driver moves time forward.

    The driver advances to the earliest wake-up only once every task is blocked, so concurrent waits
    interleave exactly as they would in real time, instantly.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (self.now + seconds, next(self._seq), future))
        await future

    def run(self, main: Callable[[], Awaitable[T]]) -> T:
        async def drive() -> T:
            task = asyncio.ensure_future(main())
            while not task.done():
                for _ in range(200):
                    await asyncio.sleep(0)
                    if task.done():
                        break
                if task.done():
                    break
                if not self._heap:
                    raise AssertionError("deadlock: every task is blocked and nothing sleeps")
                when, _, future = heapq.heappop(self._heap)
                self.now = max(self.now, when)
                future.set_result(None)
            return task.result()

        return asyncio.run(drive())


@pytest.fixture
def vtime() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
def make_async_client(vtime: VirtualTime) -> Callable[..., AsyncVaultClient]:
    def make(vault: FakeVault, **kwargs: Any) -> AsyncVaultClient:
        if "session_id" not in kwargs:
            kwargs.setdefault("username", "user")
            kwargs.setdefault("password", "pass")
        return AsyncVaultClient(URL, transport=vault.transport(), clock=vtime, sleep=vtime.sleep, **kwargs)

    return make
