"""Retrieve Job Histories: page time at offset 0 and at a deep offset over millions of finished jobs.

1. Bulk-inserts N finished jobs (default 2,000,000) with raw SQL in big transactions into a fresh
   SQLite store (the history triggers and indexes do their work as they would for real jobs). Jobs
   finish about one a second over ~3 weeks, with a burst of 2,000 jobs in 5 seconds every 6 hours,
   among three users, 90 % SUCCESS.
2. Store level: ``job_histories`` pages (limit 50) at offset 0 and at the deep offset (default
   1,000,000), interleaved, median and p95 — and the same through plain ``COUNT``/``OFFSET``
   (``PlainHistory``) for comparison. Also a user's page, a status filter and a date range, and
   monitors over a backlog of unfinished jobs (default 20,000) at offset 0 and near its end.
3. HTTP: a real ``vaultjobs serve`` on that database (retention 100 years, so nothing is purged meanwhile),
   ``GET …/services/jobs/histories?limit=50&offset=…`` as the admin (every job), same measurements.

Target (DESIGN.md): pages constant in the offset — here, the deep page within 2× of the first.

    python bench/histories.py [--jobs 2000000] [--offset 1000000] [--backlog 20000] [--repeat 200] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from vaultjobs.models import Page
from vaultjobs.status import JobStatus
from vaultjobs.store import SqliteStore
from vaultjobs.store.history import PlainHistory
from vaultjobs.testing import LiveServer, V, execute
from vaultjobs.timeutil import from_ms, to_ms

#: The first job finishes 22 days ago: 2 million jobs at this pace end before now.
BASE = to_ms(datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)) - 22 * 86_400_000
STATUSES = ["SUCCESS"] * 18 + ["ERRORS_ENCOUNTERED", "CANCELLED"]


def finish_times(count: int, rng: random.Random) -> list[int]:
    """About one job a second, plus 2,000 jobs within 5 s every 6 hours."""
    times: list[int] = []
    at = BASE
    while len(times) < count:
        at += rng.randrange(200, 1_800)
        times.append(at)
        if at // 21_600_000 != (at - 1_800) // 21_600_000:
            times += [at + rng.randrange(5_000) for _ in range(min(2_000, count - len(times)))]
    times.sort()
    return times[:count]


def fill(store: SqliteStore, count: int, batch: int = 100_000) -> float:
    rng = random.Random(1)
    times = finish_times(count, rng)
    conn = store.dialect.connection()
    started = time.perf_counter()
    for first in range(0, count, batch):
        rows = []
        for at in times[first : first + batch]:
            status = rng.choice(STATUSES)
            ran = status != "CANCELLED"
            rows.append((status, rng.choice((1, 1, 2, 3)), at - 5_000, at, at - 3_000 if ran else None,
                         at if ran else None))
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO jobs (processor, title, parameters, status, created_by, created_at, modified_by, "
            "modified_at, run_start, run_end) VALUES ('demo', NULL, '{\"items\":1}', ?, ?, ?, 1, ?, ?, ?)",
            rows,
        )
        conn.execute("COMMIT")
        print(f"  {first + len(rows):>10,} jobs  {time.perf_counter() - started:6.1f} s", file=sys.stderr)
    conn.execute("ANALYZE")
    return time.perf_counter() - started


def add_backlog(store: SqliteStore, count: int) -> None:
    """Unfinished jobs created over the last hour: mostly QUEUED, some SCHEDULED and RUNNING."""
    rng = random.Random(2)
    now = to_ms(datetime.now(UTC))
    rows = []
    for n in range(count):
        status = rng.choice(["QUEUED"] * 8 + ["SCHEDULED", "RUNNING"])
        created = now - 3_600_000 + n * 3_600_000 // max(count, 1)
        rows.append((status, rng.choice((1, 2, 3)), created, created,
                     created + 86_400_000 if status == "SCHEDULED" else None,
                     created + 1_000 if status == "RUNNING" else None))
    conn = store.dialect.connection()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO jobs (processor, parameters, status, created_by, created_at, modified_by, modified_at, "
        "scheduled_for, run_start) VALUES ('demo', '{}', ?, ?, ?, 1, ?, ?, ?)",
        rows,
    )
    conn.execute("COMMIT")


def measure(calls: dict[str, Callable[[], Any]], repeat: int) -> dict[str, list[float]]:
    """Milliseconds per call, the calls interleaved so that drift hits them alike."""
    for call in calls.values():  # warm up
        for _ in range(3):
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - started) * 1000)
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    return f"median {statistics.median(ordered):7.2f} ms   p95 {ordered[int(0.95 * (len(ordered) - 1))]:7.2f} ms"


def report(title: str, times: dict[str, list[float]], pair: tuple[str, str] | None = None) -> float | None:
    print(title)
    for name, values in times.items():
        print(f"  {name:<34} {summary(values)}")
    if pair is None:
        return None
    ratio = statistics.median(times[pair[1]]) / statistics.median(times[pair[0]])
    print(f"  ratio {pair[1]} / {pair[0]}: {ratio:.2f}x")
    return ratio


def histories(store: Any, **kw: Any) -> Page:
    args: dict[str, Any] = {"created_by": None, "status": None, "start": None, "end": None, "limit": 50}
    args.update(kw)
    page: Page = store.history.job_histories(**args)
    return page


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2_000_000)
    parser.add_argument("--offset", type=int, default=1_000_000)
    parser.add_argument("--backlog", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the data here (default: a temp dir)")
    args = parser.parse_args()
    deep = args.offset
    folder = args.data_dir or Path(tempfile.mkdtemp(prefix="vaultjobs-bench-histories-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "vaultjobs.db"

    store = SqliteStore(db)
    store.migrate()
    existing = int(execute(store, "SELECT count(*) FROM jobs WHERE run_end IS NOT NULL OR status = 'CANCELLED'")[0][0])
    if existing < args.jobs:
        if existing:
            raise SystemExit(f"{db} holds {existing:,} jobs, fewer than --jobs; use another --data-dir")
        print(f"inserting {args.jobs:,} finished jobs into {db} …", file=sys.stderr)
        seconds = fill(store, args.jobs)
        print(f"inserted {args.jobs:,} jobs in {seconds:.0f} s ({args.jobs / seconds:,.0f} jobs/s, triggers and "
              "indexes included)")
    backlog = store.history.job_monitors(created_by=None, statuses=None, start=None, end=None, limit=1, offset=0).total
    if backlog < args.backlog:
        add_backlog(store, args.backlog - backlog)
        backlog = args.backlog
    counts_rows = int(execute(store, "SELECT count(*) FROM job_history_counts")[0][0])
    size = db.stat().st_size / 2**20
    print(f"database {size:,.0f} MiB; {args.jobs:,} finished jobs, {backlog:,} unfinished; "
          f"{counts_rows:,} bucket-count rows")

    total = histories(store, offset=0).total
    assert total >= args.jobs, total
    first, last = histories(store, offset=0), histories(store, offset=deep)
    plain = PlainHistory(store.dialect).job_histories
    assert [j.id for j in plain(created_by=None, status=None, start=None, end=None, limit=50,
                                offset=deep).items] == [j.id for j in last.items]
    print(f"offset {deep:,}: job ids {last.items[0].id}…{last.items[-1].id}; first page {first.items[0].id}…")

    user_total = histories(store, created_by=2, offset=0).total
    failed_total = histories(store, status=JobStatus.ERRORS_ENCOUNTERED, offset=0).total
    week = {"start": from_ms(BASE + 3 * 86_400_000 + 1_234), "end": from_ms(BASE + 10 * 86_400_000 + 567)}
    week_total = histories(store, offset=0, **week).total
    store_ratio = report(
        f"\nstore.history.job_histories, limit 50, {args.repeat} rounds",
        measure(
            {
                "admin offset 0": lambda: histories(store, offset=0),
                f"admin offset {deep:,}": lambda: histories(store, offset=deep),
                "user 2 offset 0": lambda: histories(store, created_by=2, offset=0),
                f"user 2 offset {user_total // 2:,}": lambda: histories(store, created_by=2, offset=user_total // 2),
                f"errors_encountered offset {failed_total // 2:,}": lambda: histories(
                    store, status=JobStatus.ERRORS_ENCOUNTERED, offset=failed_total // 2),
                f"one week (not aligned) offset {week_total // 2:,}": lambda: histories(
                    store, offset=week_total // 2, **week),
            },
            args.repeat,
        ),
        ("admin offset 0", f"admin offset {deep:,}"),
    )
    monitors: dict[str, Callable[[], Any]] = {
        f"monitors offset {off:,}": (lambda off=off: store.history.job_monitors(
            created_by=None, statuses=None, start=None, end=None, limit=50, offset=off))
        for off in (0, max(0, backlog - 100))
    }
    monitors["monitors status=scheduled"] = lambda: store.history.job_monitors(
        created_by=None, statuses=frozenset({JobStatus.SCHEDULED}), start=None, end=None, limit=50, offset=0)
    report(f"\nstore.history.job_monitors over {backlog:,} unfinished jobs, limit 50, {args.repeat} rounds",
           measure(monitors, args.repeat))
    report(
        f"\nplain COUNT + OFFSET (PlainHistory) for comparison, {max(5, args.repeat // 20)} rounds",
        measure(
            {
                "admin offset 0": lambda: plain(store, created_by=None, status=None, start=None, end=None,
                                                limit=50, offset=0),
                f"admin offset {deep:,}": lambda: plain(store, created_by=None, status=None, start=None, end=None,
                                                        limit=50, offset=deep),
            },
            max(5, args.repeat // 20),
        ),
    )
    store.close()

    server = LiveServer(folder, extra_env={"VAULTJOBS_LOG_LEVEL": "warning"}, workers=0, retention_days=36_500,
                        database_url=f"sqlite:///{db}")
    with server:
        token = server.login()
        with httpx.Client(base_url=server.url, headers={"Authorization": token}, timeout=60) as http:
            def page(offset: int) -> Callable[[], None]:
                url = f"/api/{V}/services/jobs/histories?limit=50&offset={offset}"

                def get() -> None:
                    body = http.get(url).json()
                    assert body["responseStatus"] == "SUCCESS" and len(body["jobs"]) == 50, body
                return get

            def trivial() -> None:
                http.get(f"/api/{V}/objects/users/me").json()

            http_ratio = report(
                f"\nHTTP GET …/histories?limit=50 (JSON) as admin, {args.repeat} rounds",
                measure(
                    {"users/me (a trivial endpoint)": trivial, "offset 0": page(0),
                     f"offset {deep:,}": page(deep)},
                    args.repeat,
                ),
                ("offset 0", f"offset {deep:,}"),
            )
    assert store_ratio is not None and http_ratio is not None
    ok = store_ratio <= 2 and http_ratio <= 2
    print(f"\ntarget: offset {deep:,} within 2x of offset 0 — store {store_ratio:.2f}x, HTTP {http_ratio:.2f}x: "
          f"{'met' if ok else 'NOT met'}")
    print(f"(data kept in {folder})" if args.data_dir else "")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
