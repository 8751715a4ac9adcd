from __future__ import annotations

from pathlib import Path

import pytest

from vaultjobs.settings import Settings
from vaultjobs.store import SqliteStore
from vaultjobs.testing import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "test.db")
    s.migrate()
    yield s  # type: ignore[misc]
    s.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, status_window=10.0, workers=2, poll_interval=0.05)
