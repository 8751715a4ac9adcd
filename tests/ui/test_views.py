"""What the page's tabs read (vaultjobs.ui.views), on both databases, without a browser: History's
Next and Previous links by key, its capped count, a bare page number, and the summary's hours."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl

import pytest

import vaultjobs.ui.views as views_module
from vaultjobs.models import Definition, User
from vaultjobs.status import JobStatus
from vaultjobs.store import Store
from vaultjobs.testing import ManualClock, execute
from vaultjobs.timeutil import to_ms
from vaultjobs.ui.links import ui_link
from vaultjobs.ui.render import TimeFormat, render_text
from vaultjobs.ui.views import PAGE_SIZE, Filters, Listing, Views, job_detail


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


HOUR_MS = 3_600_000


def user(store: Store, clock: ManualClock, name: str, *, timezone: str = "UTC", is_admin: bool = False) -> User:
    return store.users.create_user(username=name, password_hash="x", timezone=timezone, is_admin=is_admin,
                                   now=clock.now())


def add_job(store: Store, *, status: JobStatus, created_by: int, created_ms: int, end_ms: int | None = None,
            title: str | None = None, processor: str = "demo", cancellable: bool = True,
            definition: str | None = None) -> int:
    start = None if end_ms is None and status in (JobStatus.SCHEDULED, JobStatus.QUEUED) else created_ms + 1000
    rows = execute(store, "INSERT INTO jobs (processor, title, parameters, status, created_by, created_at, "
                          "modified_by, modified_at, run_start, run_end, cancellable, definition) "
                          "VALUES (?, ?, '{}', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                   (processor, title, status.value, created_by, created_ms, created_by, end_ms or created_ms, start,
                    end_ms, int(cancellable), definition))
    return int(rows[0][0])


def shown(views: Views, viewer: User, clock: ManualClock, query: str) -> set[int]:
    return set(ids(listing(views, viewer, clock, query)))


def test_history_filters_each_narrow_the_tab_and_combine(store: Store, clock: ManualClock) -> None:
    root = admin(store, clock)
    tokyo = user(store, clock, "tokyo", timezone="Asia/Tokyo", is_admin=True)
    alice = user(store, clock, "alice")
    bob = user(store, clock, "bob")
    now = to_ms(clock.now())  # 2026-01-01T00:00Z
    S = JobStatus
    # finished 2025-12-31T16:00Z (01:00 on 2026-01-01 in Tokyo), a moment later, 2025-12-30T18:00Z, 2025-12-31T23:00Z
    a1 = add_job(store, status=S.SUCCESS, created_by=alice.id, created_ms=now - 9 * HOUR_MS, end_ms=now - 8 * HOUR_MS,
                 title="Nightly export")
    a2 = add_job(store, status=S.ERRORS_ENCOUNTERED, created_by=alice.id, created_ms=now - 9 * HOUR_MS,
                 end_ms=now - 8 * HOUR_MS + 1, processor="deep_copy")
    b1 = add_job(store, status=S.CANCELLED, created_by=bob.id, created_ms=now - 31 * HOUR_MS,
                 end_ms=now - 30 * HOUR_MS, title="Nightly import")
    b2 = add_job(store, status=S.TIMEOUT, created_by=bob.id, created_ms=now - 2 * HOUR_MS, end_ms=now - HOUR_MS,
                 title="Other")
    views = Views(store)
    assert shown(views, root, clock, "tab=history") == {a1, a2, b1, b2}
    # several statuses at once
    assert shown(views, root, clock, "tab=history&status=success&status=cancelled") == {a1, b1}
    # part of the title, any case; a job without a title by its job type
    assert shown(views, root, clock, "tab=history&title=NIGHTLY") == {a1, b1}
    assert shown(views, root, clock, "tab=history&title=deep_") == {a2}
    # the creator, by user name in any case; an unknown one is named
    assert shown(views, root, clock, "tab=history&created_by=Alice") == {a1, a2}
    nobody = listing(views, root, clock, "tab=history&created_by=nobody")
    assert ids(nobody) == [] and nobody.problems == ["Invalid value for [created_by]: there is no user [nobody]"]
    # one job, and only where the other filters let it through
    assert shown(views, root, clock, f"tab=history&job_id={b1}") == {b1}
    assert shown(views, root, clock, f"tab=history&job_id={b1}&status=success") == set()
    # a date range is whole days in the viewer's time zone, both ends included
    assert shown(views, root, clock, "tab=history&from=2025-12-31&to=2025-12-31") == {a1, a2, b2}
    assert shown(views, tokyo, clock, "tab=history&from=2025-12-31&to=2025-12-31") == {b1}
    assert shown(views, tokyo, clock, "tab=history&from=2026-01-01") == {a1, a2, b2}
    assert shown(views, root, clock, "tab=history&to=2025-12-30") == {b1}
    # all together
    assert shown(views, root, clock, "tab=history&title=nightly&created_by=bob&status=cancelled&from=2025-12-30") \
        == {b1}
    # a user sees their own jobs only, whatever the filters ask
    assert shown(views, alice, clock, "tab=history") == {a1, a2}
    assert shown(views, alice, clock, "tab=history&created_by=bob") == set()
    assert shown(views, alice, clock, f"tab=history&job_id={b1}") == set()
    assert listing(views, alice, clock, "tab=history").tab_counts["history"] == "2"
    # what cannot be read is named and ignored
    bad = listing(views, root, clock, "tab=history&status=running&from=31.12.2025&job_id=x")
    assert set(ids(bad)) == {a1, a2, b1, b2} and len(bad.problems) == 3


def test_the_backlog_tabs_filter_by_status_creator_and_creation_date(store: Store, clock: ManualClock) -> None:
    root = admin(store, clock)
    alice = user(store, clock, "alice")
    bob = user(store, clock, "bob")
    now = to_ms(clock.now())
    S = JobStatus
    queued = add_job(store, status=S.QUEUED, created_by=alice.id, created_ms=now - 30 * HOUR_MS)
    running = add_job(store, status=S.RUNNING, created_by=bob.id, created_ms=now - HOUR_MS)
    cancelling = add_job(store, status=S.CANCELLING, created_by=bob.id, created_ms=now - HOUR_MS)
    scheduled = add_job(store, status=S.SCHEDULED, created_by=alice.id, created_ms=now - HOUR_MS, title="Later")
    views = Views(store)
    assert shown(views, root, clock, "tab=running") == {queued, running, cancelling}
    assert shown(views, root, clock, "tab=running&status=queued&status=running") == {queued, running}
    assert shown(views, root, clock, "tab=running&created_by=bob") == {running, cancelling}
    assert shown(views, root, clock, "tab=running&from=2025-12-31") == {running, cancelling}
    assert shown(views, root, clock, "tab=scheduled&title=later") == {scheduled}
    assert shown(views, bob, clock, "tab=running") == {running, cancelling}
    page = listing(views, root, clock, "tab=running&status=success")
    assert page.problems == ["Invalid value for [status]: [success] is not a status of the running tab"]
    assert page.tab_counts == {"scheduled": "1", "running": "3", "history": "0"}


def test_cancel_and_start_now_are_offered_exactly_where_they_would_move_the_job(
    store: Store, clock: ManualClock
) -> None:
    viewer = admin(store, clock)
    views = Views(store)
    offered = set()
    for status in JobStatus:
        for cancellable in (True, False):
            job_id = add_job(store, status=status, created_by=viewer.id, created_ms=to_ms(clock.now()),
                             cancellable=cancellable, end_ms=to_ms(clock.now()) if status.is_terminal else None)
            job = store.jobs.get_job(job_id)
            assert job is not None
            (row,) = views.rows([job], clock.now())
            accepted, after = store.jobs.cancel_job(job_id, viewer.id, clock.now())
            assert row.cancellable == (accepted and after is not status), (status, cancellable)
            assert row.startable == (status is JobStatus.SCHEDULED)
            if row.cancellable:
                offered.add((status, cancellable))
    S = JobStatus
    assert offered == {(S.SCHEDULED, True), (S.SCHEDULED, False), (S.QUEUEING, True), (S.QUEUEING, False),
                       (S.QUEUED, True), (S.QUEUED, False), (S.RUNNING, True)}


def test_a_scheduled_instance_shows_the_definition_it_came_from(store: Store, clock: ManualClock) -> None:
    viewer = admin(store, clock)
    store.schedules.upsert_definition(
        Definition(name="nightly", processor="demo", parameters={"items": 5}, owner_id=viewer.id, cron="0 2 * * *",
                   timezone="America/Los_Angeles", single_instance=True), clock.now(), keep_enabled=False)
    job_id = add_job(store, status=JobStatus.SCHEDULED, created_by=viewer.id, created_ms=to_ms(clock.now()),
                     definition="nightly")
    detail = job_detail(store, viewer, job_id, clock.now())
    assert detail.definition is not None and detail.definition.cron == "0 2 * * *"
    assert detail.definition_owner == "root"
    html = render_text("_job.html", {"detail": detail, "job": detail.row.job, "row": detail.row, "ui_link": ui_link,
                                     "base": "/ui", "read_only": True, "when": TimeFormat("UTC")})
    assert "Definition nightly" in html and "<code>0 2 * * *</code> (America/Los_Angeles)" in html
    assert "\"items\": 5" in html.split("Definition nightly")[1]
    gone = add_job(store, status=JobStatus.CANCELLED, created_by=viewer.id, created_ms=to_ms(clock.now()),
                   end_ms=to_ms(clock.now()), definition="retired")
    detail = job_detail(store, viewer, gone, clock.now())
    assert detail.definition is None
    html = render_text("_job.html", {"detail": detail, "job": detail.row.job, "row": detail.row, "ui_link": ui_link,
                                     "base": "/ui", "read_only": True, "when": TimeFormat("UTC")})
    assert "Definition retired no longer exists" in html


def test_a_page_holds_50_rows_unless_the_query_asks_for_another_size(store: Store, clock: ManualClock) -> None:
    viewer = admin(store, clock)
    finished(store, clock, 60)
    now = to_ms(clock.now())
    for _ in range(30):
        add_job(store, status=JobStatus.QUEUED, created_by=viewer.id, created_ms=now)
    views = Views(store)
    assert len(ids(listing(views, viewer, clock, "tab=history"))) == PAGE_SIZE == 50
    first = listing(views, viewer, clock, "tab=history&per_page=25")
    assert len(ids(first)) == 25 and "per_page=25" in (first.next_query or "")
    second = listing(views, viewer, clock, first.next_query or "")
    third = listing(views, viewer, clock, second.next_query or "")
    assert [len(ids(p)) for p in (second, third)] == [25, 10] and third.next_query is None
    assert len(set(ids(first) + ids(second) + ids(third))) == 60
    running = listing(views, viewer, clock, "tab=running&per_page=25&page=2")
    assert len(ids(running)) == 5 and running.pages == 2
    odd = listing(views, viewer, clock, "tab=history&per_page=7")
    assert len(ids(odd)) == 50 and odd.problems == ["Invalid value for [per_page]: [7]; expected 25, 50, 100 or 200"]
