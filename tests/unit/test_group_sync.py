from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from vaultjobs.store.group_sync import GroupSync


def test_concurrent_callers_share_fsyncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "x.db"
    db.write_bytes(b"db")
    (tmp_path / "x.db-wal").write_bytes(b"wal")
    calls: list[int] = []
    real_fsync = os.fsync
    gate = threading.Event()

    def slow_fsync(fd: int) -> None:
        calls.append(fd)
        gate.wait(2)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    sync = GroupSync(db)
    threads = [threading.Thread(target=sync.sync) for _ in range(20)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    # the first fsync covers its own caller; everyone who queued meanwhile shares the next one or two
    assert 1 <= len(calls) <= 3


def test_every_ack_follows_an_fsync_that_began_after_its_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "x.db"
    db.write_bytes(b"db")
    events: list[tuple[str, int]] = []
    lock = threading.Lock()

    def fsync(fd: int) -> None:
        with lock:
            events.append(("fsync", -1))

    monkeypatch.setattr(os, "fsync", fsync)
    sync = GroupSync(db)  # no WAL file: the database file itself is synced

    def caller(n: int) -> None:
        with lock:
            events.append(("commit", n))
        sync.sync()
        with lock:
            events.append(("ack", n))

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(n for kind, n in events if kind == "ack") == list(range(10))
    for n in range(10):
        committed = events.index(("commit", n))
        acked = events.index(("ack", n))
        assert ("fsync", -1) in events[committed:acked], f"caller {n} was acknowledged before an fsync"
