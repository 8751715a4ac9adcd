"""Fixtures of the live integration tests: a real server with the content processors, for the
object tests that kill it or restart it (tests/api has the in-process twin)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from vaultjobs.testing import LiveServer

CONTENT_PROCESSORS = "vaultjobs.processors.export_documents vaultjobs.processors.binder_export " \
    "vaultjobs.processors.import_submission"

ContentServer = Callable[..., AbstractContextManager[LiveServer]]


@contextlib.contextmanager
def _content_server(folder: Path, database_url: str, *, status_window: float) -> Iterator[LiveServer]:
    """A live server with the document, binder and submission processors, and the users ``alice``
    and ``bob`` besides ``admin``."""
    srv = LiveServer(folder, database_url=database_url, status_window=status_window, processors=CONTENT_PROCESSORS)
    srv.start()
    try:
        srv.add_user("alice", "alice-password")
        srv.add_user("bob", "bob-password")
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def content_server() -> ContentServer:
    return _content_server
