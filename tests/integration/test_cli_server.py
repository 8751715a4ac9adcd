"""``vaultjobs worker`` as a process on a live server's store: ``--workers``, and ``--concurrency``,
its deprecated old name. The server runs no workers (``VAULTJOBS_WORKERS=0``, as on an API node) and
the worker shares its environment: the flag wins over that variable."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import pytest

from vaultjobs.testing import LiveServer


def worker_log(server: LiveServer, *args: str, expect: str) -> str:
    """Start ``vaultjobs worker ARGS``, wait until its log shows ``expect``, stop it, return the log."""
    log = server.data_dir / "worker.log"
    log.unlink(missing_ok=True)
    process = server.start_worker(*args)
    try:
        deadline = time.monotonic() + 60
        while expect not in (text := log.read_text() if log.exists() else ""):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"worker {args} did not log {expect!r}: {text}")
            time.sleep(0.05)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return text


@pytest.fixture
def api_node(live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    return live_server_factory(workers=0)


def test_worker_threads_from_workers(api_node: LiveServer) -> None:
    text = worker_log(api_node, "--workers", "3", expect="running 3 threads")
    assert "deprecated" not in text


def test_concurrency_still_sets_the_threads_and_says_it_is_deprecated(api_node: LiveServer) -> None:
    text = worker_log(api_node, "--concurrency", "2", expect="running 2 threads")
    assert "'concurrency' is deprecated" in text and "--workers" in text
