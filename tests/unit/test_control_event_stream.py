"""The event stream's follower sends each id once, late commits included, and nothing before its start."""

from __future__ import annotations

from vaultjobs.control.events import IdFollower


def test_a_row_committed_after_a_higher_id_is_still_sent_once() -> None:
    follower = IdFollower(after=10)
    assert follower.low == 10
    assert follower.new([11, 13]) == [True, True]  # 12 is written but not committed yet
    assert follower.low == 10  # so the next read starts behind 13
    assert follower.new([11, 12, 13, 14]) == [False, True, False, True]
    assert follower.new([11, 12, 13, 14]) == [False, False, False, False]


def test_it_looks_back_a_bounded_window_and_never_before_its_start() -> None:
    follower = IdFollower(after=0)
    follower.new(list(range(1, 501)))
    assert follower.low == 500 - IdFollower.LOOK_BACK
    assert len(follower.seen) == IdFollower.LOOK_BACK  # what is older than the window is forgotten
    resumed = IdFollower(after=7)
    assert resumed.new([5, 7, 8]) == [False, False, True]
