"""The Job Status page: History tab server time at page 1 and page 20,000, and the CPU of live pages.

1. Fills a fresh SQLite store with N finished jobs (default 1,000,000; ``bench/histories.py``'s
   filler: triggers and indexes do their real work), plus running jobs (default 1,000, RUNNING rows
   with tasks, so live pages have work in progress to render).
2. Starts a real ``vaultjobs serve`` on it (no workers: the jobs stand still, only the page works),
   signs in through the page's form, and times ``GET /ui/?tab=history&page=1`` against
   ``page=20000`` (and a two-status filter at both depths), interleaved, median and p95, with the
   ratio. Target: page 20,000 within 2x of page 1.
3. Opens K live event streams on the Running tab (default 100, what K open browsers would hold) for
   a while and reports the server process's CPU (from ``/proc``) per second, against the same
   process with no stream open measured in the same run. Target: 100 pages cost less than one core.

    python bench/ui.py [--jobs 1000000] [--page 20000] [--running 1000] [--streams 100] [--repeat 50]
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from vaultjobs.store import SqliteStore
from vaultjobs.testing import LiveServer, execute
from vaultjobs.timeutil import to_ms

sys.path.insert(0, str(Path(__file__).parent))
histories: Any = importlib.import_module("histories")


def add_running(store: SqliteStore, count: int) -> None:
    """``count`` RUNNING jobs with 10 tasks each, some done."""
    rng = random.Random(3)
    now = to_ms(datetime.now(UTC))
    conn = store.dialect.connection()
    conn.execute("BEGIN")
    for n in range(count):
        job_id = conn.execute(
            "INSERT INTO jobs (processor, parameters, status, created_by, created_at, modified_by, modified_at, "
            "run_start, phase) VALUES ('demo', '{}', 'RUNNING', ?, ?, 1, ?, ?, 'process') RETURNING id",
            (rng.choice((1, 2, 3)), now - 60_000 + n, now - 60_000 + n, now - 50_000 + n),
        ).fetchone()[0]
        done = rng.randrange(10)
        conn.executemany(
            "INSERT INTO tasks (job_id, seq, state, payload) VALUES (?, ?, ?, '[]')",
            [(job_id, seq, "SUCCESS" if seq <= done else "QUEUED") for seq in range(1, 11)],
        )
    conn.execute("COMMIT")


def cpu_seconds(pid: int) -> float:
    """User and system CPU of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_second(pid: int, seconds: float) -> float:
    before, started = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.monotonic() - started)


def hold_streams(url: str, cookie: str, count: int, stop: threading.Event) -> list[threading.Thread]:
    """``count`` open event streams of the Running tab, each read to the end by a thread."""

    def one() -> None:
        with httpx.Client(base_url=url, cookies={"vaultjobs_ui_session": cookie}, timeout=None) as http:
            with http.stream("GET", "/ui/live?tab=running&view=list") as response:
                for _ in response.iter_bytes():
                    if stop.is_set():
                        return

    threads = [threading.Thread(target=one, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=20_000)
    parser.add_argument("--running", type=int, default=1_000)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each CPU measurement lasts")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the data here (default: a temp dir)")
    args = parser.parse_args()
    if args.page * 50 > args.jobs:
        raise SystemExit(f"--page {args.page} is past the end of {args.jobs:,} jobs (50 a page)")
    folder = args.data_dir or Path(tempfile.mkdtemp(prefix="vaultjobs-bench-ui-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "vaultjobs.db"
    store = SqliteStore(db)
    store.migrate()
    existing = int(execute(store, "SELECT count(*) FROM jobs")[0][0])
    if existing == 0:
        print(f"inserting {args.jobs:,} finished jobs and {args.running:,} running ones into {db} …",
              file=sys.stderr)
        histories.fill(store, args.jobs)
        add_running(store, args.running)
    store.close()

    server = LiveServer(folder, extra_env={"VAULTJOBS_LOG_LEVEL": "warning"}, workers=0, retention_days=36_500,
                        database_url=f"sqlite:///{db}")
    with server, httpx.Client(base_url=server.url, timeout=60) as http:
        signed = http.post("/ui/login", data={"username": "admin", "password": server.admin_password})
        assert signed.status_code == 303, signed.text
        cookie = signed.cookies["vaultjobs_ui_session"]
        http.cookies.set("vaultjobs_ui_session", cookie)

        def page(query: str) -> Any:
            def get() -> None:
                response = http.get(f"/ui/?{query}")
                assert response.status_code == 200 and response.text.count('<tr id="job-') == 50, query
            return get

        deep = args.page
        two = "status=success&status=cancelled"
        ratio = histories.report(
            f"\nGET /ui/?tab=history over {args.jobs:,} finished jobs, 50 a page, {args.repeat} rounds",
            histories.measure(
                {
                    "page 1": page("tab=history"),
                    f"page {deep:,}": page(f"tab=history&page={deep}"),
                    "two statuses, page 1": page(f"tab=history&{two}"),
                    f"two statuses, page {deep // 2:,}": page(f"tab=history&{two}&page={deep // 2}"),
                },
                args.repeat,
            ),
            ("page 1", f"page {deep:,}"),
        )

        assert server.process is not None
        pid = server.process.pid
        idle = cpu_per_second(pid, args.seconds)
        stop = threading.Event()
        threads = hold_streams(server.url, cookie, args.streams, stop)
        time.sleep(3)  # every stream connected and sent its first page
        busy = cpu_per_second(pid, args.seconds)
        stop.set()
        print(f"\nserver CPU with {args.running:,} running jobs on the Running tab, {args.seconds:g} s each")
        print(f"  no page open           {idle:6.3f} cores")
        print(f"  {args.streams:>3} live pages open   {busy:6.3f} cores   "
              f"({(busy - idle) / max(args.streams, 1) * 1000:.1f} millicores a page)")
        del threads
    print(f"\nhistory page {deep:,} / page 1: {ratio:.2f}x (target within 2x); "
          f"{args.streams} live pages: {busy - idle:.2f} cores above idle (target under 1)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
