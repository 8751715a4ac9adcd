"""Where jobs, users and sessions live: SQLite by default, PostgreSQL for clusters.

:mod:`~vaultjobs.store.composition` puts the store together: a dialect per engine
(:mod:`~vaultjobs.store.sqlite`, :mod:`~vaultjobs.store.postgres`) under one query module per concern
(:mod:`~vaultjobs.store.users`, :mod:`~vaultjobs.store.jobs`, :mod:`~vaultjobs.store.work`,
:mod:`~vaultjobs.store.schedules`, :mod:`~vaultjobs.store.nodes`, :mod:`~vaultjobs.store.history`,
:mod:`~vaultjobs.store.content`), each with one SQL text for both engines.
"""

from __future__ import annotations

from pathlib import Path

from vaultjobs.store.composition import SqlStore, Store
from vaultjobs.store.errors import StoreError, UnknownUser, UserExists
from vaultjobs.store.jobs import NewJob
from vaultjobs.store.nodes import Recovery
from vaultjobs.store.sqlite import SqliteStore
from vaultjobs.store.work import FinishedTask, JobEnd, SoloEnd, SoloRun, Started, TaskOutcome, TaskPlan

__all__ = [
    "FinishedTask",
    "JobEnd",
    "SoloEnd",
    "SoloRun",
    "NewJob",
    "Recovery",
    "SqlStore",
    "SqliteStore",
    "Started",
    "Store",
    "StoreError",
    "TaskOutcome",
    "TaskPlan",
    "UnknownUser",
    "UserExists",
    "open_store",
]


def open_store(database_url: str, *, pool_size: int = 10) -> Store:
    """The store for ``database_url``: ``sqlite:///path/to/file.db`` or ``postgresql://…``."""
    if database_url.startswith("sqlite:///"):
        return SqliteStore(Path(database_url.removeprefix("sqlite:///")))
    if database_url.startswith(("postgresql://", "postgres://")):
        from vaultjobs.store.postgres import PostgresStore

        try:
            return PostgresStore(database_url, pool_size=pool_size)
        except Exception as exc:
            raise StoreError(f"cannot open the PostgreSQL database: {exc}") from exc
    raise StoreError(f"unsupported database URL [{database_url}]; expected sqlite:///path or postgresql://…")
