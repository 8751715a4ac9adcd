"""What the page's tabs read (vaultjobs.ui.views), on both databases, without a browser: History's
Next and Previous links by key, its capped count, a bare page number, and the summary's hours."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl

import pytest

import vaultjobs.ui.views as views_module
from vaultjobs.models import User
from vaultjobs.status import JobStatus
from vaultjobs.store import Store
from vaultjobs.testing import ManualClock, execute
from vaultjobs.timeutil import to_ms
from vaultjobs.ui.views import PAGE_SIZE, Filters, Listing, Views


def admin(store: Store, clock: ManualClock) -> User:
    return store.users.create_user(username="root", password_hash="x", timezone="UTC", is_admin=True,
                                   now=clock.now())


def finished(store: Store, clock: ManualClock, count: int, status: str = "SUCCESS", ago_ms: int = 0) -> None:
    end = to_ms(clock.now()) - ago_ms
    for n in range(count):
        execute(store, "INSERT INTO jobs (processor, parameters, status, created_by, created_at, modified_by, "
                       "modified_at, run_start, run_end) VALUES ('demo', '{}', ?, 1, ?, 1, ?, ?, ?)",
                (status, end - 10_000, end - n, end - 9_000, end - n // 2))


def listing(views: Views, viewer: User, clock: ManualClock, query: str) -> Listing:
    pairs = parse_qsl(query)
    return views.listing(viewer, Filters.parse(dict(pairs), [v for k, v in pairs if k == "status"]), clock.now())


def ids(page: Listing) -> list[int]:
    return [row.job.id for row in page.rows]


def test_history_pages_by_key_forth_and_back(store: Store, clock: ManualClock) -> None:
    viewer = admin(store, clock)
    finished(store, clock, 2 * PAGE_SIZE + 7)
    views = Views(store)
    first = listing(views, viewer, clock, "tab=history")
    assert first.previous_query is None and first.next_query is not None and "after=" in first.next_query
    second = listing(views, viewer, clock, first.next_query)
    third = listing(views, viewer, clock, second.next_query or "")
    assert (len(ids(first)), len(ids(second)), len(ids(third))) == (PAGE_SIZE, PAGE_SIZE, 7)
    assert third.next_query is None and third.filters.page == 3
    everyone = [row[0] for row in execute(store, "SELECT id FROM jobs ORDER BY COALESCE(run_end, modified_at) DESC, "
                                                 "id DESC")]
    assert ids(first) + ids(second) + ids(third) == everyone
    back = listing(views, viewer, clock, third.previous_query or "")
    assert ids(back) == ids(second) and "before=" in (third.previous_query or "")
    assert ids(listing(views, viewer, clock, second.previous_query or "")) == ids(first)
    assert listing(views, viewer, clock, "tab=history&after=nonsense").problems == [
        "Invalid value for [after]: [nonsense] is not a key of the History tab"]


def test_a_bare_page_number_and_the_counts_follow_what_the_store_can_do_cheaply(
    store: Store, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    viewer = admin(store, clock)
    finished(store, clock, 2 * PAGE_SIZE + 7)
    views = Views(store)
    monkeypatch.setattr(views_module, "HISTORY_COUNT_CAP", PAGE_SIZE)
    page = listing(views, viewer, clock, "tab=history&page=2")
    if store.history.seeks_offsets:  # SQLite: the bucket counts find page 2 and count exactly
        assert page.exact and page.total == 2 * PAGE_SIZE + 7 and page.pages == 3
        assert page.problems == [] and page.filters.page == 2
        assert page.tab_counts["history"] == str(2 * PAGE_SIZE + 7)
    else:  # PostgreSQL: no OFFSET; page 1, said so, and a capped count
        assert not page.exact and page.total == PAGE_SIZE and page.pages is None
        assert page.filters.page == 1 and "reached from page 1 with Next" in page.problems[0]
        assert page.tab_counts["history"] == f"{PAGE_SIZE}+"
        assert page.next_query is not None


def test_the_summary_counts_the_last_day_by_hour(store: Store, clock: ManualClock) -> None:
    viewer = admin(store, clock)
    finished(store, clock, 3)  # in the newest hour
    finished(store, clock, 2, "ERRORS_ENCOUNTERED", ago_ms=int(timedelta(hours=5, minutes=30).total_seconds() * 1000))
    finished(store, clock, 4, ago_ms=int(timedelta(hours=30).total_seconds() * 1000))  # too old
    summary = Views(store).summary(viewer, clock.now())
    assert dict(summary.counts)[JobStatus.SUCCESS] == 3 and dict(summary.counts)[JobStatus.ERRORS_ENCOUNTERED] == 2
    assert [(h.completed, h.failed) for h in summary.hours if h.completed or h.failed] == [(0, 2), (3, 0)]
    assert summary.hours[18].failed == 2 and summary.hours[23].completed == 3
    assert summary.hours[0].start == clock.now() - timedelta(hours=24)
