"""``vaultjobs worker`` as a process on a live server's store: ``--workers``, and ``--concurrency``,
its deprecated old name."""

from __future__ import annotations

import subprocess
import time

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


def test_worker_threads_from_workers(live_server: LiveServer) -> None:
    text = worker_log(live_server, "--workers", "3", expect="running 3 threads")
    assert "deprecated" not in text


def test_concurrency_still_sets_the_threads_and_says_it_is_deprecated(live_server: LiveServer) -> None:
    text = worker_log(live_server, "--concurrency", "2", expect="running 2 threads")
    assert "'concurrency' is deprecated" in text and "--workers" in text
