"""Fixtures for the whole suite. Stores and live servers run on SQLite and on PostgreSQL alike:
every test that uses them runs once per backend (the PostgreSQL half is skipped, with a reason,
where PostgreSQL is not installed; CI installs it)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vaultjobs.settings import Settings
from vaultjobs.store import SqliteStore, Store
from vaultjobs.testing import ManualClock, PostgresServer

# pytester: the pytest plugin's own tests run sample suites (tests/control/test_pytest_plugin.py).
pytest_plugins = ["pytester"]

BACKENDS = ["sqlite", "postgres"]
_numbers = itertools.count()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def vaultjobs_new_database(backend: str, request: pytest.FixtureRequest) -> Callable[[], str]:
    if backend == "sqlite":
        return lambda: ""
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return lambda: server.create_database(f"test_{next(_numbers)}")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(tmp_path: Path, backend: str, vaultjobs_new_database: Callable[[], str]) -> Iterator[Store]:
    s: Store
    if backend == "sqlite":
        s = SqliteStore(tmp_path / "test.db")
    else:
        from vaultjobs.store.postgres import PostgresStore

        s = PostgresStore(vaultjobs_new_database(), pool_size=12)
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, status_window=10.0, workers=2, poll_interval=0.05)
