"""SQLite status windows kept in memory by the side file's sole user, and handed over when another
user (another API node on the same data folder, in this process or another) asks to share it."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from vaultjobs.store import sole_use
from vaultjobs.store.sole_use import HandoverTimeout, SoleUse
from vaultjobs.store.status_windows import SideFileStatusWindows
from vaultjobs.testing import ManualClock


@pytest.fixture
def side_file(tmp_path: Path) -> Path:
    return SideFileStatusWindows.beside(tmp_path / "vaultjobs.db")


@pytest.fixture
def windows(side_file: Path) -> Iterator[list[SideFileStatusWindows]]:
    """Make as many users of one side file as a test asks for; all closed at the end."""
    made: list[SideFileStatusWindows] = []
    yield made
    for w in made:
        w.close()


def user(side_file: Path, made: list[SideFileStatusWindows]) -> SideFileStatusWindows:
    w = SideFileStatusWindows(side_file)
    made.append(w)
    return w


def rows_in(side_file: Path) -> dict[int, int]:
    with sqlite3.connect(side_file) as conn:
        return dict(conn.execute("SELECT job_id, polled_at FROM status_polls").fetchall())


def test_a_sole_user_keeps_its_windows_in_memory(side_file: Path, windows: list[SideFileStatusWindows],
                                                 clock: ManualClock) -> None:
    a = user(side_file, windows)
    assert a.open(1, clock.now(), 10) is None
    assert a.in_memory
    assert rows_in(side_file) == {}  # no write transaction on the side file
    clock.advance(4)
    assert a.open(1, clock.now(), 10) == pytest.approx(6)  # refused, and the window did not move
    clock.advance(6)
    assert a.open(1, clock.now(), 10) is None


def test_a_second_user_sees_the_sole_users_windows_and_both_share_from_then_on(
    side_file: Path, windows: list[SideFileStatusWindows], clock: ManualClock
) -> None:
    a, b = user(side_file, windows), user(side_file, windows)
    assert a.open(1, clock.now(), 10) is None
    clock.advance(3)
    assert b.open(1, clock.now(), 10) == pytest.approx(7)  # a window opened on A refuses on B
    assert not a.in_memory and not b.in_memory
    assert b.open(2, clock.now(), 10) is None
    assert a.open(2, clock.now(), 10) == pytest.approx(10)  # and one opened on B refuses on A
    assert set(rows_in(side_file)) == {1, 2}


def test_a_sole_user_writes_its_windows_out_when_it_closes(side_file: Path, windows: list[SideFileStatusWindows],
                                                         clock: ManualClock) -> None:
    a = user(side_file, windows)
    assert a.open(5, clock.now(), 10) is None
    a.close()
    assert set(rows_in(side_file)) == {5}
    clock.advance(2)
    b = user(side_file, windows)  # alone again: sole, with the windows still open
    assert b.open(5, clock.now(), 10) == pytest.approx(8)
    assert b.in_memory


def test_a_clear_elsewhere_closes_the_sole_users_windows(side_file: Path, windows: list[SideFileStatusWindows],
                                                         clock: ManualClock) -> None:
    a, b = user(side_file, windows), user(side_file, windows)
    assert a.open(1, clock.now(), 10) is None
    b.clear()
    assert a.open(1, clock.now(), 10) is None


def test_closed_windows_are_purged_from_memory(side_file: Path, windows: list[SideFileStatusWindows],
                                               clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vaultjobs.store.status_windows.PURGE_EVERY", 10)
    a = user(side_file, windows)
    for job in range(9):
        assert a.open(job, clock.now(), 10) is None
    clock.advance(11)
    assert a.open(100, clock.now(), 10) is None  # the tenth: the nine closed windows go
    assert a._windows == {100: int(clock.now().timestamp() * 1000)}


def test_users_starting_at_once_get_one_success_per_window(side_file: Path, windows: list[SideFileStatusWindows],
                                                           clock: ManualClock) -> None:
    users = [user(side_file, windows) for _ in range(4)]
    barrier = threading.Barrier(16)
    results: list[float | None] = []

    def poll(n: int) -> None:
        barrier.wait()
        results.append(users[n % 4].open(9, clock.now(), 10))

    threads = [threading.Thread(target=poll, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(None) == 1
    assert sum(w.in_memory for w in users) <= 1


#: A sole user in a process of its own: it opens job 1's window, says so, then idles until stdin closes.
_CHILD = """
import sys
from pathlib import Path
from vaultjobs.store.status_windows import SideFileStatusWindows
from vaultjobs.timeutil import from_ms
w = SideFileStatusWindows(Path(sys.argv[1]))
assert w.open(1, from_ms(int(sys.argv[2])), 10) is None and w.in_memory
print("ready", flush=True)
sys.stdin.read()
w.close()
"""


def test_an_idle_sole_user_in_another_process_hands_over_and_a_killed_one_frees_the_file(
    side_file: Path, windows: list[SideFileStatusWindows], clock: ManualClock
) -> None:
    ms = int(clock.now().timestamp() * 1000)
    for kill in (False, True):
        child = subprocess.Popen([sys.executable, "-c", _CHILD, str(side_file), str(ms)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            if kill:
                child.kill()  # its windows are forgotten, its locks freed
                child.wait(30)
                fresh = user(side_file, windows)
                assert fresh.open(1, clock.now(), 10) is None
                assert fresh.in_memory  # nobody else uses the file: no waiting on the dead user
            else:
                other = user(side_file, windows)
                assert other.open(1, clock.now(), 10) == pytest.approx(10)
                assert not other.in_memory
                other.close()
                windows.remove(other)
        finally:
            if child.poll() is None:
                assert child.stdin is not None
                child.stdin.close()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            for pipe in (child.stdin, child.stdout):
                if pipe is not None:
                    pipe.close()
        assert child.returncode == (-signal.SIGKILL if kill else 0)
        clock.advance(10)
        ms = int(clock.now().timestamp() * 1000)


def test_a_sole_user_that_does_not_hand_over_times_the_newcomer_out(
    side_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sole_use, "HANDOVER_TIMEOUT", 0.2)
    stuck = threading.Lock()
    first = SoleUse(side_file, lambda: None, stuck)
    second = SoleUse(side_file, lambda: None, threading.Lock())
    try:
        assert first.join()
        with stuck:  # the sole user is busy: its listener cannot hand over
            with pytest.raises(HandoverTimeout):
                second.join()
    finally:
        with stuck:
            first.close()
        second.close()


def test_without_flock_every_user_shares_the_file(side_file: Path, windows: list[SideFileStatusWindows],
                                                  clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sole_use, "fcntl", None)  # as on a system without POSIX locks
    a, b = user(side_file, windows), user(side_file, windows)
    assert a.open(1, clock.now(), 10) is None
    assert not a.in_memory and set(rows_in(side_file)) == {1}
    assert b.open(1, clock.now(), 10) == pytest.approx(10)
