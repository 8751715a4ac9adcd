"""The store's histories, monitors and retention purge, against a brute-force reading of the same rows."""

from __future__ import annotations

import contextlib
import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultjobs.status import ACTIVE_JOB_STATUSES, TERMINAL_JOB_STATUSES, JobStatus
from vaultjobs.store import NewJob, SqliteStore, Store
from vaultjobs.store.history import FINISHED_AT, LEVELS, CountedHistory, HistoryKey, _HistoryFilter, split_range
from vaultjobs.testing import ManualClock, claim_job, execute, finish_job
from vaultjobs.timeutil import from_ms, to_ms

T0 = to_ms(datetime(2026, 1, 1, tzinfo=UTC))
FINISHED = sorted(TERMINAL_JOB_STATUSES)
UNFINISHED = sorted(ACTIVE_JOB_STATUSES)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    """For what only SQLite has: the bucket counts, their triggers and index plans."""
    s = SqliteStore(tmp_path / "test.db")
    s.migrate()
    yield s
    s.close()


@contextlib.contextmanager
def one_transaction(store: Store) -> Iterator[None]:
    """Bulk inserts in one transaction on SQLite (PostgreSQL's pooled autocommit is fast enough)."""
    if isinstance(store, SqliteStore):
        execute(store, "BEGIN")
        yield
        execute(store, "COMMIT")
    else:
        yield


@dataclass(frozen=True)
class Row:
    id: int
    status: str
    created_by: int
    created_at: int
    finished_at: int  # COALESCE(run_end, modified_at)


def insert_job(
    store: Store,
    *,
    status: JobStatus | str,
    created_by: int = 1,
    created_at: int = T0,
    modified_at: int | None = None,
    run_start: int | None = None,
    run_end: int | None = None,
    scheduled_for: int | None = None,
    title: str | None = None,
) -> int:
    rows = execute(store, 
        "INSERT INTO jobs (processor, title, parameters, status, created_by, created_at, modified_by, modified_at, "
        "run_start, run_end, scheduled_for) VALUES ('demo', ?, '{}', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (title, str(status), created_by, created_at, created_by, modified_at or created_at, run_start, run_end,
         scheduled_for),
    )
    return int(rows[0][0])


def history_ids(store: Store, **kw: object) -> list[int]:
    kw.setdefault("created_by", None)
    kw.setdefault("status", None)
    kw.setdefault("start", None)
    kw.setdefault("end", None)
    kw.setdefault("limit", 200)
    kw.setdefault("offset", 0)
    return [job.id for job in store.history.job_histories(**kw).items]  # type: ignore[arg-type]


def counts_rows(store: Store) -> int:
    return int(execute(store, "SELECT count(*) FROM job_history_counts")[0][0])


def check_counts_match_jobs(store: Store) -> None:
    """The trigger-kept counts equal a fresh count of the jobs, bucket by bucket, and hold no zeros."""
    if not isinstance(store, SqliteStore):
        return
    expected: dict[tuple[int, int, int, str], int] = {}
    for created_by, finished_at, status in execute(store, 
        "SELECT created_by, COALESCE(run_end, modified_at), status FROM jobs WHERE status IN "
        f"({','.join(repr(s.value) for s in FINISHED)})"
    ):
        for level, width in LEVELS:
            for who in (created_by, 0):
                key = (level, who, finished_at // width, status)
                expected[key] = expected.get(key, 0) + 1
    actual = {(r[0], r[1], r[2], r[3]): r[4] for r in execute(store, "SELECT * FROM job_history_counts")}
    assert actual == expected


# -- splitting a range into buckets ----------------------------------------------------------


bounds = st.one_of(st.none(), st.integers(min_value=T0 - 10**8, max_value=T0 + 10**8))


@given(lo=bounds, hi=bounds)
def test_split_range_tiles_the_range_newest_first_with_whole_buckets(lo: int | None, hi: int | None) -> None:
    pieces = split_range(lo, hi)
    if lo is not None and hi is not None and lo >= hi:
        assert pieces == []
        return
    widths = dict(LEVELS)
    assert pieces[0].hi == hi and pieces[-1].lo == lo
    for upper, lower in zip(pieces, pieces[1:], strict=False):
        assert upper.lo == lower.hi is not None
    for piece in pieces:
        if piece.level == 0:
            assert piece.lo is not None and piece.hi is not None and 0 < piece.hi - piece.lo < widths[1]
        else:
            for edge in (piece.lo, piece.hi):
                assert edge is None or edge % widths[piece.level] == 0
    assert len(pieces) <= 2 * len(LEVELS) + 1


# -- histories against a brute-force oracle ------------------------------------------------


@pytest.fixture(scope="module")
def history(
    tmp_path_factory: pytest.TempPathFactory, backend: str, vaultjobs_new_database: Callable[[], str]
) -> Iterator[tuple[Store, list[Row]]]:
    """About 3,000 finished jobs of three users: bursts inside one 8-second bucket, bursts on bucket
    edges, a steady trickle across several 4096-second buckets, sparse outliers, and unfinished jobs."""
    store: Store
    if backend == "sqlite":
        store = SqliteStore(tmp_path_factory.mktemp("history") / "h.db")
    else:
        from vaultjobs.store.postgres import PostgresStore

        store = PostgresStore(vaultjobs_new_database())
    store.migrate()
    rng = random.Random(7)
    times: list[int] = []
    times += [T0 + 3_000 + rng.randrange(4_000) for _ in range(600)]  # one 8 s bucket
    times += [T0 + 4_096_000 - 2_000 + rng.randrange(4_000) for _ in range(400)]  # across a level-2 edge
    times += [T0 + 10_000 + i * 7_919 for i in range(1_500)]  # about 3.3 hours, one every 8 s
    times += [T0 + rng.randrange(40 * 86_400_000) for _ in range(300)]  # sparse, over 40 days
    times += [T0 + 5_000] * 50  # exact ties
    with one_transaction(store):
        insert_rows(store, rng, times)
    rows = [
        Row(*r)
        for r in execute(store, 
            "SELECT id, status, created_by, created_at, COALESCE(run_end, modified_at) FROM jobs"
        )
        if JobStatus(r[1]).is_terminal
    ]
    yield store, rows
    store.close()


def insert_rows(store: Store, rng: random.Random, times: list[int]) -> None:
    for at in times:
        status = rng.choice(FINISHED)
        ran = status not in (JobStatus.FAILED_TO_RUN, JobStatus.MISSED_SCHEDULE) and rng.random() < 0.9
        insert_job(
            store,
            status=status,
            created_by=rng.choice((1, 1, 2, 3)),
            created_at=at - rng.randrange(10**7),
            modified_at=at,
            run_start=at - 1_000 if ran else None,
            run_end=at if ran else None,
        )
    for _ in range(100):
        insert_job(store, status=rng.choice(UNFINISHED), created_at=T0 + rng.randrange(10**7))


def oracle(
    rows: list[Row], *, who: int | None, status: JobStatus | None, lo: int | None, hi: int | None
) -> list[int]:
    chosen = [
        r
        for r in rows
        if (who is None or r.created_by == who)
        and (status is None or r.status == status.value)
        and (lo is None or r.finished_at >= lo)
        and (hi is None or r.finished_at < hi)
    ]
    chosen.sort(key=lambda r: (r.finished_at, r.id), reverse=True)
    return [r.id for r in chosen]


def test_histories_match_a_brute_force_reading(history: tuple[Store, list[Row]]) -> None:
    store, rows = history
    check_counts_match_jobs(store)
    rng = random.Random(11)
    edges = [T0 + 3_000, T0 + 5_000, T0 + 5_001, T0 + 4_096_000, T0 + 4_096_000 - 1_500, T0 + 8_000, T0 + 8_192_000]
    for _ in range(400):
        who = rng.choice((None, None, 1, 2, 3))
        status = rng.choice((None, None, *FINISHED))
        lo = rng.choice((None, rng.choice(edges), T0 + rng.randrange(12 * 3_600_000)))
        hi = rng.choice((None, rng.choice(edges), T0 + rng.randrange(50 * 86_400_000)))
        expected = oracle(rows, who=who, status=status, lo=lo, hi=hi)
        limit = rng.choice((1, 7, 50, 200))
        offset = rng.choice((0, rng.randrange(len(expected) + 2), max(0, len(expected) - 3), len(expected)))
        page = store.history.job_histories(
            created_by=who, status=status, start=None if lo is None else from_ms(lo),
            end=None if hi is None else from_ms(hi), limit=limit, offset=offset,
        )
        assert page.total == len(expected), (who, status, lo, hi)
        assert [j.id for j in page.items] == expected[offset : offset + limit], (who, status, lo, hi, offset, limit)
        assert (page.limit, page.offset) == (limit, offset)


def test_several_statuses_match_a_brute_force_reading(history: tuple[Store, list[Row]]) -> None:
    """The Job Status page filters on several statuses at once: pages merge one index per status."""
    store, rows = history
    rng = random.Random(13)
    status_of = {r.id: r.status for r in rows}
    for _ in range(60):
        who = rng.choice((None, 1, 2))
        statuses = set(rng.sample(FINISHED, rng.choice((2, 3, 5))))
        lo = rng.choice((None, T0 + 3_000, T0 + rng.randrange(12 * 3_600_000)))
        wanted = {s.value for s in statuses}
        expected = [i for i in oracle(rows, who=who, status=None, lo=lo, hi=None) if status_of[i] in wanted]
        limit = rng.choice((1, 50))
        offset = rng.choice((0, rng.randrange(len(expected) + 2), max(0, len(expected) - 3)))
        page = store.history.job_histories(
            created_by=who, status=None, statuses=statuses, start=None if lo is None else from_ms(lo), end=None,
            limit=limit, offset=offset,
        )
        assert page.total == len(expected), (who, statuses, lo)
        assert [j.id for j in page.items] == expected[offset : offset + limit], (who, statuses, lo, offset)


def test_the_title_filter_matches_title_or_job_type_whatever_the_case(store: Store) -> None:
    nightly = insert_job(store, status=JobStatus.SUCCESS, title="Nightly 100%_export", modified_at=T0 + 1)
    plain = insert_job(store, status=JobStatus.CANCELLED, modified_at=T0 + 2)  # shows its type, demo
    insert_job(store, status=JobStatus.SUCCESS, title="weekly", modified_at=T0 + 3)
    insert_job(store, status=JobStatus.RUNNING, title="nightly run")
    assert history_ids(store, title="NIGHTLY") == [nightly]
    assert history_ids(store, title="100%_") == [nightly]
    assert history_ids(store, title="0%x") == []
    assert history_ids(store, title="dem") == [plain]
    page = store.history.job_histories(created_by=None, status=None, start=None, end=None, limit=1, offset=1,
                                       title="e")
    assert page.total == 3 and len(page.items) == 1
    assert [j.title for j in store.history.job_monitors(created_by=None, statuses=None, start=None, end=None,
                                                        limit=10, offset=0, title="Night").items] == ["nightly run"]


def test_every_offset_of_a_burst_lands_on_the_right_row(history: tuple[Store, list[Row]]) -> None:
    store, rows = history
    expected = oracle(rows, who=None, status=None, lo=None, hi=None)
    for offset in range(0, len(expected), 37):
        assert history_ids(store, limit=3, offset=offset) == expected[offset : offset + 3]


def test_a_page_skips_less_than_one_bucket_by_offset(history: tuple[Store, list[Row]]) -> None:
    """Keyset underneath: whatever the offset, the counts bring the page to within one 8-second bucket."""
    store, rows = history
    history = store.history
    if not isinstance(history, CountedHistory):
        pytest.skip("the bucket counts are SQLite's")
    flt = _HistoryFilter(who=0, statuses=None, lo=None, hi=None)
    conn = store.dialect.connection()
    pieces = [(piece, history._count(conn, flt, piece)) for piece in split_range(None, None)]
    per_bucket: dict[int, int] = {}
    for r in rows:
        per_bucket[r.finished_at // LEVELS[0][1]] = per_bucket.get(r.finished_at // LEVELS[0][1], 0) + 1
    for offset in range(0, len(rows), 13):
        hi, skip = history._seek(conn, flt, pieces, offset)
        assert hi is not None and hi % LEVELS[0][1] == 0
        assert skip < per_bucket[hi // LEVELS[0][1] - 1]


def test_histories_hold_finished_jobs_only_with_their_fields(store: Store, clock: ManualClock) -> None:
    ran = insert_job(store, status="SUCCESS", created_at=T0, modified_at=T0 + 9_000, run_start=T0 + 1_000,
                     run_end=T0 + 9_000, title="Nightly export")
    insert_job(store, status="RUNNING", created_at=T0 + 1, run_start=T0 + 2)
    insert_job(store, status="SCHEDULED", created_at=T0 + 2, scheduled_for=T0 + 10**6)
    page = store.history.job_histories(created_by=None, status=None, start=None, end=None, limit=50, offset=0)
    assert page.total == 1
    (job,) = page.items
    assert (job.id, job.title, job.status) == (ran, "Nightly export", JobStatus.SUCCESS)
    assert job.run_start == from_ms(T0 + 1_000) and job.run_end == from_ms(T0 + 9_000)


def test_the_date_filter_is_on_the_finish_not_the_creation(store: Store) -> None:
    day = 86_400_000
    created_long_ago = insert_job(store, status="SUCCESS", created_at=T0 - 5 * day, modified_at=T0 + 500,
                                  run_start=T0 - 5 * day, run_end=T0 + 500)
    # never ran: it finished when it was cancelled (modified_at)
    cancelled = insert_job(store, status="CANCELLED", created_at=T0 - day, modified_at=T0 + 1_500)
    insert_job(store, status="SUCCESS", created_at=T0, modified_at=T0 + 2 * day, run_end=T0 + 2 * day)
    ids = history_ids(store, start=from_ms(T0), end=from_ms(T0 + day))
    assert ids == [cancelled, created_long_ago]


def test_newest_finished_first_then_highest_id(store: Store) -> None:
    a = insert_job(store, status="SUCCESS", run_end=T0 + 3_000)
    b = insert_job(store, status="SUCCESS", run_end=T0 + 1_000)
    c = insert_job(store, status="TIMEOUT", run_end=T0 + 3_000)
    d = insert_job(store, status="ERRORS_ENCOUNTERED", run_end=T0 + 2_000, created_at=T0 + 10**6)
    assert history_ids(store) == [c, a, d, b]


def test_users_see_their_own_jobs_and_admins_everyones(store: Store) -> None:
    mine = [insert_job(store, status="SUCCESS", created_by=5, run_end=T0 + i) for i in range(3)]
    theirs = [insert_job(store, status="SUCCESS", created_by=6, run_end=T0 + 10 + i) for i in range(2)]
    page = store.history.job_histories(created_by=5, status=None, start=None, end=None, limit=50, offset=0)
    assert page.total == 3 and [j.id for j in page.items] == mine[::-1]
    assert history_ids(store) == (mine + theirs)[::-1]


def test_status_filter(store: Store) -> None:
    ok = insert_job(store, status="SUCCESS", run_end=T0)
    failed = insert_job(store, status="FAILED_TO_RUN", modified_at=T0 + 1)
    assert history_ids(store, status=JobStatus.FAILED_TO_RUN) == [failed]
    assert history_ids(store, status=JobStatus.SUCCESS) == [ok]
    with pytest.raises(ValueError):
        history_ids(store, status=JobStatus.RUNNING)


def test_counts_follow_jobs_through_the_lifecycle(sqlite_store: SqliteStore, clock: ManualClock) -> None:
    store = sqlite_store
    user = store.users.create_user(username="u", password_hash="x", timezone="UTC", is_admin=False, now=clock.now()).id
    new = NewJob(processor="demo", parameters={}, created_by=user)
    done = store.jobs.create_job(new, clock.now()).id
    cancelled = store.jobs.create_job(new, clock.now()).id
    assert counts_rows(store) == 0
    clock.advance(5)
    job = claim_job(store, "w", clock.now())
    assert job is not None and job.id == done
    clock.advance(5)
    assert finish_job(store, done, "w", JobStatus.SUCCESS, clock.now())
    assert store.jobs.transition_job(cancelled, JobStatus.QUEUED, JobStatus.CANCELLED, clock.now())
    check_counts_match_jobs(store)
    page = store.history.job_histories(created_by=user, status=None, start=None, end=None, limit=50, offset=0)
    assert page.total == 2 and [j.id for j in page.items] == [cancelled, done]
    # a finished job whose counted fields change moves between buckets
    execute(store, "UPDATE jobs SET run_end = run_end + 86400000 WHERE id = ?", (done,))
    check_counts_match_jobs(store)
    execute(store, "DELETE FROM jobs")
    assert counts_rows(store) == 0


def test_the_migration_counts_jobs_finished_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER)")
    folder = resources.files("vaultjobs.store.migrations.sqlite")
    for version, name in ((1, "0001_initial.sql"), (2, "0002_lifecycle.sql")):
        conn.executescript(folder.joinpath(name).read_text())
        conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (version,))
    for i in range(20):
        conn.execute(
            "INSERT INTO jobs (processor, parameters, status, created_by, created_at, modified_by, modified_at, "
            "run_end) VALUES ('demo', '{}', ?, ?, ?, 1, ?, ?)",
            ("SUCCESS" if i % 3 else "QUEUED", 1 + i % 2, T0, T0 + i * 5_000, T0 + i * 5_000),
        )
    conn.close()
    store = SqliteStore(path)
    assert 3 in store.migrate()
    check_counts_match_jobs(store)
    page = store.history.job_histories(created_by=None, status=None, start=None, end=None, limit=5, offset=0)
    assert page.total == 13
    store.close()


@pytest.mark.parametrize("who", [None, 4])
@pytest.mark.parametrize("status", [None, JobStatus.SUCCESS])
def test_pages_read_the_history_indexes_without_sorting(
    sqlite_store: SqliteStore, who: int | None, status: JobStatus | None
) -> None:
    store = sqlite_store

    flt = _HistoryFilter(who=0 if who is None else who, statuses=None if status is None else (status,), lo=T0,
                         hi=T0 + 10**6)
    terms, params = flt.job_terms()
    plan = " ".join(
        str(r[3])
        for r in execute(store, 
            f"EXPLAIN QUERY PLAN SELECT id FROM jobs INDEXED BY {flt.index()} WHERE {terms} AND {FINISHED_AT} >= ? "
            f"AND {FINISHED_AT} < ? ORDER BY {FINISHED_AT} DESC, id DESC LIMIT 50 OFFSET 3",
            (*params, T0, T0 + 10**6),
        )
    )
    assert flt.index() in plan and "TEMP B-TREE" not in plan, plan


# -- monitors --------------------------------------------------------------------------------


def monitor_ids(store: Store, **kw: object) -> list[int]:
    kw.setdefault("created_by", None)
    kw.setdefault("statuses", None)
    kw.setdefault("start", None)
    kw.setdefault("end", None)
    kw.setdefault("limit", 200)
    kw.setdefault("offset", 0)
    return [job.id for job in store.history.job_monitors(**kw).items]  # type: ignore[arg-type]


def test_monitors_list_unfinished_jobs_newest_created_first(store: Store) -> None:
    ids = {s: insert_job(store, status=s, created_at=T0 + i * 1_000) for i, s in enumerate(UNFINISHED)}
    insert_job(store, status="SUCCESS", created_at=T0 + 10**6, run_end=T0 + 10**6)
    page = store.history.job_monitors(created_by=None, statuses=None, start=None, end=None, limit=2, offset=1)
    assert page.total == len(UNFINISHED)
    newest_first = [ids[s] for s in UNFINISHED][::-1]
    assert [j.id for j in page.items] == newest_first[1:3]
    assert monitor_ids(store) == newest_first
    queued = monitor_ids(store, statuses=frozenset({JobStatus.QUEUED, JobStatus.QUEUEING}))
    assert set(queued) == {ids[JobStatus.QUEUED], ids[JobStatus.QUEUEING]}
    with pytest.raises(ValueError):
        monitor_ids(store, statuses=frozenset({JobStatus.SUCCESS}))


def test_monitors_filter_on_the_created_date_and_the_owner(store: Store) -> None:
    early = insert_job(store, status="QUEUED", created_at=T0, created_by=1)
    late = insert_job(store, status="SCHEDULED", created_at=T0 + 60_000, created_by=2, scheduled_for=T0 + 10**8)
    assert monitor_ids(store, start=from_ms(T0 + 1)) == [late]
    assert monitor_ids(store, end=from_ms(T0 + 60_000)) == [early]
    assert monitor_ids(store, created_by=1) == [early]
    assert store.history.job_monitors(created_by=3, statuses=None, start=None, end=None, limit=5, offset=0).total == 0


def test_monitors_offset_past_the_end_is_an_empty_page(store: Store) -> None:
    insert_job(store, status="RUNNING")
    page = store.history.job_monitors(created_by=None, statuses=None, start=None, end=None, limit=5, offset=5)
    assert page.total == 1 and page.items == []


# -- retention purge -------------------------------------------------------------------------


def add_children(store: Store, job_id: int, tasks: int = 3, logs: int = 2) -> None:
    for seq in range(1, tasks + 1):
        execute(store, "INSERT INTO tasks (job_id, seq, state, payload) VALUES (?, ?, 'SUCCESS', '[]')", (job_id, seq))
    for n in range(logs):
        execute(store, "INSERT INTO job_log (job_id, at, message) VALUES (?, ?, ?)", (job_id, T0, f"line {n}"))
    execute(store, "INSERT INTO status_polls (job_id, polled_at) VALUES (?, ?)", (job_id, T0))


def rows_of(store: Store, job_id: int) -> tuple[int, int, int, int, int]:
    return (
        int(execute(store, "SELECT count(*) FROM jobs WHERE id = ?", (job_id,))[0][0]),
        int(execute(store, "SELECT count(*) FROM tasks WHERE job_id = ?", (job_id,))[0][0]),
        int(execute(store, "SELECT count(*) FROM job_log WHERE job_id = ?", (job_id,))[0][0]),
        int(execute(store, "SELECT count(*) FROM status_polls WHERE job_id = ?", (job_id,))[0][0]),
        int(execute(store, "SELECT count(*) FROM job_transitions WHERE job_id = ?", (job_id,))[0][0]),
    )


def purge_all(store: Store, before: datetime, **kw: int) -> int:
    calls = 0
    while store.history.purge_finished_jobs(before, **kw):
        calls += 1
        assert calls < 1000
    return calls


def test_purge_removes_old_finished_jobs_with_their_rows_and_nothing_else(store: Store) -> None:
    day = 86_400_000
    old = [insert_job(store, status=s, created_at=T0 - 40 * day, modified_at=T0 - 35 * day,
                      run_end=T0 - 35 * day if s == "SUCCESS" else None)
           for s in ("SUCCESS", "CANCELLED", "MISSED_SCHEDULE", "FAILED_TO_RUN")]
    recent = insert_job(store, status="SUCCESS", created_at=T0 - 40 * day, run_end=T0 - day)
    # unfinished jobs, however old, are never touched
    running = insert_job(store, status="RUNNING", created_at=T0 - 90 * day, modified_at=T0 - 90 * day)
    scheduled = insert_job(store, status="SCHEDULED", created_at=T0 - 90 * day, scheduled_for=T0 - 89 * day)
    cancelling = insert_job(store, status="CANCELLING", created_at=T0 - 90 * day)
    for job_id in (*old, recent, running, scheduled, cancelling):
        add_children(store, job_id)
    purge_all(store, from_ms(T0 - 30 * day))
    for job_id in old:
        assert rows_of(store, job_id) == (0, 0, 0, 0, 0)
    for job_id in (recent, running, scheduled, cancelling):
        assert rows_of(store, job_id) == (1, 3, 2, 1, 1)  # the transition: the job's creation
    check_counts_match_jobs(store)
    assert history_ids(store) == [recent]


def test_purge_works_in_bounded_batches_oldest_first(store: Store) -> None:
    jobs = [insert_job(store, status="SUCCESS", run_end=T0 + i) for i in range(10)]
    for job_id in jobs:
        add_children(store, job_id, tasks=4, logs=1)
    # at most 3 jobs per call: the oldest three go first
    assert store.history.purge_finished_jobs(from_ms(T0 + 100), max_jobs=3, max_rows=1_000) == 3 * (1 + 4 + 1 + 1 + 1)
    assert [rows_of(store, j)[0] for j in jobs] == [0, 0, 0] + [1] * 7
    # a row budget smaller than one job's tasks: the tasks go over several calls, then the job
    big = insert_job(store, status="ERRORS_ENCOUNTERED", run_end=T0 - 1)
    add_children(store, big, tasks=25, logs=0)
    assert store.history.purge_finished_jobs(from_ms(T0 + 100), max_jobs=1, max_rows=10) == 10
    assert rows_of(store, big) == (1, 15, 0, 1, 1)
    calls = purge_all(store, from_ms(T0 + 100), max_jobs=2, max_rows=10)
    assert calls >= 7
    assert execute(store, "SELECT count(*) FROM jobs")[0][0] == 0
    assert execute(store, "SELECT count(*) FROM tasks")[0][0] == 0
    check_counts_match_jobs(store)


def test_purge_with_nothing_to_do_returns_zero(store: Store) -> None:
    insert_job(store, status="QUEUED", created_at=T0 - 10**10)
    assert store.history.purge_finished_jobs(from_ms(T0)) == 0


def test_history_dates_are_aware(store: Store) -> None:
    insert_job(store, status="SUCCESS", run_end=T0)
    with pytest.raises(ValueError):
        store.history.job_histories(created_by=None, status=None, start=datetime(2026, 1, 1), end=None, limit=1,
                                    offset=0)
    assert timedelta(0) == from_ms(T0).utcoffset()


# -- the retention loop ----------------------------------------------------------------------


def test_retention_purges_what_is_past_the_period_in_batches(store: Store, clock: ManualClock) -> None:
    from vaultjobs.engine import retention
    from vaultjobs.engine.retention import Retention
    from vaultjobs.settings import Settings

    now = to_ms(clock.now())
    day = 86_400_000
    old = [insert_job(store, status="SUCCESS", run_end=now - 31 * day + i) for i in range(7)]
    kept = insert_job(store, status="SUCCESS", run_end=now - 29 * day)
    queued = insert_job(store, status="QUEUED", created_at=now - 400 * day)
    for job_id in old:
        add_children(store, job_id, tasks=2, logs=1)
    ret = Retention(store=store, settings=Settings(retention_days=30), clock=clock)
    batches: list[int] = []
    real = store.history.purge_finished_jobs

    def counting(before: datetime, **kw: int) -> int:
        assert before == clock.now() - timedelta(days=30)
        kw["max_jobs"] = 3
        rows = real(before, **kw)
        batches.append(rows)
        return rows

    store.history.purge_finished_jobs = counting  # type: ignore[method-assign]
    assert ret.purge() == 7 * (1 + 2 + 1 + 1 + 1)  # job, tasks, log, status window, transition
    assert batches == [18, 18, 6, 0]
    assert history_ids(store) == [kept] and monitor_ids(store) == [queued]
    assert ret.interval == retention.INTERVAL
    assert Retention(store=store, settings=Settings(retention_days=1 / 86_400), clock=clock).interval == 0.1


def test_retention_zero_keeps_everything(store: Store, clock: ManualClock) -> None:
    import threading

    from vaultjobs.engine.retention import Retention
    from vaultjobs.settings import Settings

    insert_job(store, status="SUCCESS", run_end=to_ms(clock.now()) - 10**12)
    ret = Retention(store=store, settings=Settings(retention_days=0), clock=clock)
    assert not ret.enabled and ret.purge() == 0
    ret.run(threading.Event())  # returns at once
    assert store.history.job_histories(created_by=None, status=None, start=None, end=None, limit=1, offset=0).total == 1


def test_queries_spell_the_conditions_of_the_partial_indexes(sqlite_store: SqliteStore) -> None:
    from vaultjobs.store.history import FINISHED, UNFINISHED

    schema = dict(execute(sqlite_store, "SELECT name, sql FROM sqlite_schema WHERE name LIKE 'jobs_%'"))
    for name in ("jobs_history", "jobs_history_status", "jobs_history_user", "jobs_history_user_status"):
        assert schema[name].endswith(f"WHERE {FINISHED}")
    assert schema["jobs_monitor"].endswith(f"WHERE {UNFINISHED}")
    for name in ("jobs_history_counts_insert", "jobs_history_counts_enter", "jobs_history_counts_delete"):
        assert " IN (" not in schema[name]  # IN lists build a temporary b-tree on every write


# -- keyset pages and capped counts (the Job Status page's History tab) ----------------------------


def window_pages(store: Store, limit: int, **kw: Any) -> list[list[int]]:
    """Every page of History read by key, following each page's last row."""
    pages: list[list[int]] = []
    after = None
    while True:
        window = store.history.history_window(created_by=None, statuses=None, start=None, end=None, limit=limit,
                                              after=after, **kw)
        pages.append([job.id for job in window.items])
        assert window.newer is (after is not None)
        if not window.older:
            return pages
        after = HistoryKey.of(window.items[-1])


def test_pages_by_key_follow_the_offset_order_and_go_back_the_same_way(store: Store) -> None:
    # ties on the finish time (several jobs in one millisecond) are broken by id, as offsets do
    jobs = [insert_job(store, status="SUCCESS" if i % 3 else "ERRORS_ENCOUNTERED", run_end=T0 + i // 2)
            for i in range(23)]
    insert_job(store, status="RUNNING", created_at=T0 + 50)  # unfinished: never in History
    by_offset = history_ids(store, limit=100)
    assert sorted(by_offset) == sorted(jobs)
    pages = window_pages(store, 5)
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert [i for page in pages for i in page] == by_offset
    # back from the last page by the key of its first row: the page before it, newer rows first
    first_of_last = store.jobs.get_job(pages[-1][0])
    assert first_of_last is not None
    back = store.history.history_window(created_by=None, statuses=None, start=None, end=None, limit=5,
                                        before=HistoryKey.of(first_of_last))
    assert [job.id for job in back.items] == pages[-2] and back.older and back.newer
    second = store.jobs.get_job(pages[1][0])
    assert second is not None
    top = store.history.history_window(created_by=None, statuses=None, start=None, end=None, limit=5,
                                       before=HistoryKey.of(second))
    assert [job.id for job in top.items] == pages[0] and not top.newer
    # filters apply as for offsets: statuses, owner
    only = store.history.history_window(created_by=None, statuses={JobStatus.ERRORS_ENCOUNTERED}, start=None,
                                        end=None, limit=100)
    assert [job.id for job in only.items] == history_ids(store, status=JobStatus.ERRORS_ENCOUNTERED)


def test_counts_are_capped_where_counting_is_not_free(store: Store) -> None:
    for i in range(12):
        insert_job(store, status="SUCCESS", run_end=T0 + i)
    count = store.history.history_count(created_by=None, statuses=None, start=None, end=None, cap=5)
    if store.history.seeks_offsets:
        assert count == (12, True)  # the bucket counts are exact at no cost
    else:
        assert count == (5, False)
    assert store.history.history_count(created_by=None, statuses=None, start=None, end=None, cap=20) == (12, True)
    assert store.history.history_count(created_by=2, statuses=None, start=None, end=None, cap=20) == (0, True)


def test_history_keys_read_back_as_written() -> None:
    key = HistoryKey(1_700_000_000_123, 42)
    assert HistoryKey.parse(str(key)) == key
    for bad in ("", "12", "a.b", "1.2.3", "-1.2", "1." + "9" * 30):
        assert HistoryKey.parse(bad) is None


def test_finished_jobs_per_hour_of_the_last_day(store: Store) -> None:
    hour = 3_600_000
    since = T0
    insert_job(store, status="SUCCESS", run_end=since - 1)  # before the day: not counted
    insert_job(store, status="SUCCESS", run_end=since)
    insert_job(store, status="SUCCESS", run_end=since + hour - 1)
    insert_job(store, status="ERRORS_ENCOUNTERED", run_end=since + hour)
    insert_job(store, status="CANCELLED", created_at=since, modified_at=since + 23 * hour + 5)  # never ran
    insert_job(store, status="SUCCESS", run_end=since + 2 * hour, created_by=2)
    insert_job(store, status="RUNNING", created_at=since + hour)  # unfinished: not counted
    S = JobStatus
    assert store.overview.finished_per_hour(None, from_ms(since)) == {
        0: {S.SUCCESS: 2}, 1: {S.ERRORS_ENCOUNTERED: 1}, 2: {S.SUCCESS: 1}, 23: {S.CANCELLED: 1}}
    assert store.overview.finished_per_hour(2, from_ms(since)) == {2: {S.SUCCESS: 1}}
