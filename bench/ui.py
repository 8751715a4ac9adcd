"""The Job Status page: History tab server time at page 1 and page 20,000, and the CPU of live pages.

1. Fills a fresh store (``--backend sqlite``, ``postgres`` on a throwaway server, or ``both`` one
   after the other) with N finished jobs (default 1,000,000; ``bench/histories.py``'s finish times:
   triggers and indexes do their real work), plus running jobs (default 1,000, RUNNING rows with
   tasks, so live pages have work in progress to render).
2. Starts a real ``vaultjobs serve`` on it (no workers: the jobs stand still, only the page works),
   signs in through the page's form, and times the History tab at page 1 against page 20,000 (and a
   two-status filter at both depths), interleaved, median and p95, with the ratio. Deep pages are
   reached as a browser reaches them, by the key in their Next link (``after=<finish ms>.<id>``: the
   row before the page, found once with SQL before timing); on SQLite also by bare page number
   (``page=20000``, found by offset in the bucket counts). Target: page 20,000 within 2x of page 1.
3. Opens K live event streams on the Running tab (default 100, what K open browsers would hold,
   each signed in with a session of its own) for a while and reports the server process's CPU (from
   ``/proc``) per second, against the same process with no stream open measured in the same run.
   Target: 100 pages cost less than one core. (All are admins on one time zone, so they share their
   renderings, as admins watching the same tab do; each still checks its own session every second.)

    python bench/ui.py [--backend sqlite|postgres|both] [--jobs 1000000] [--page 20000] [--running 1000]
        [--streams 100] [--repeat 50]
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

from vaultjobs.store import SqliteStore, Store, open_store
from vaultjobs.store.history import FINISHED, FINISHED_AT
from vaultjobs.testing import LiveServer, PostgresServer, execute
from vaultjobs.timeutil import to_ms

PAGE = 50

sys.path.insert(0, str(Path(__file__).parent))
histories: Any = importlib.import_module("histories")


def fill(store: Store, count: int, batch: int = 100_000) -> None:
    """``count`` finished jobs (histories.py's finish times and statuses) into either database."""
    if isinstance(store, SqliteStore):
        histories.fill(store, count, batch)
        return
    rng = random.Random(1)
    times = histories.finish_times(count, rng)
    started = time.perf_counter()
    for first in range(0, count, batch):
        rows = []
        for at in times[first : first + batch]:
            status = rng.choice(histories.STATUSES)
            ran = status != "CANCELLED"
            rows.append((status, rng.choice((1, 1, 2, 3)), at - 5_000, at, at - 3_000 if ran else None,
                         at if ran else None))
        with store.dialect.write() as conn:
            conn.executemany(
                "INSERT INTO jobs (processor, title, parameters, status, created_by, created_at, modified_by, "
                "modified_at, run_start, run_end) VALUES ('demo', NULL, '{\"items\":1}', ?, ?, ?, 1, ?, ?, ?)",
                rows,
            )
        print(f"  {first + len(rows):>10,} jobs  {time.perf_counter() - started:6.1f} s", file=sys.stderr)
    store.dialect.connection().execute("ANALYZE jobs")


def add_running(store: Store, count: int) -> None:
    """``count`` RUNNING jobs with 10 tasks each, some done."""
    rng = random.Random(3)
    now = to_ms(datetime.now(UTC))
    with store.dialect.write() as conn:
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


def key_before_page(store: Store, page: int, statuses: tuple[str, ...] = ()) -> str:
    """The History key in page ``page``'s Next-link trail: the last row of the page before it."""
    where = FINISHED + (f" AND status IN ({','.join('?' * len(statuses))})" if statuses else "")
    row = execute(store, f"SELECT {FINISHED_AT}, id FROM jobs WHERE {where} "
                         f"ORDER BY {FINISHED_AT} DESC, id DESC LIMIT 1 OFFSET ?",
                  (*statuses, (page - 1) * PAGE - 1))[0]
    return f"{int(row[0])}.{int(row[1])}"


def cpu_seconds(pid: int) -> float:
    """User and system CPU of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_second(pid: int, seconds: float) -> float:
    before, started = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.monotonic() - started)


def hold_streams(url: str, cookies: list[str], stop: threading.Event) -> list[threading.Thread]:
    """One open event stream of the Running tab per session cookie, each read to the end by a thread."""

    def one(cookie: str) -> None:
        with httpx.Client(base_url=url, cookies={"vaultjobs_ui_session": cookie}, timeout=None) as http:
            with http.stream("GET", "/ui/live?tab=running&view=list") as response:
                for _ in response.iter_bytes():
                    if stop.is_set():
                        return

    threads = [threading.Thread(target=one, args=(cookie,), daemon=True) for cookie in cookies]
    for thread in threads:
        thread.start()
    return threads


def run(backend: str, args: argparse.Namespace) -> tuple[float | None, float]:
    """One backend's figures: the deep/first page ratio and the cores the live pages cost."""
    folder = args.data_dir / backend if args.data_dir else Path(tempfile.mkdtemp(prefix=f"vaultjobs-ui-{backend}-"))
    folder.mkdir(parents=True, exist_ok=True)
    pg = None
    if backend == "postgres":
        # Not under the data folder: as root, the server runs as ``postgres``, who cannot enter it.
        pg = PostgresServer(Path(tempfile.mkdtemp(prefix="vaultjobs-bench-ui-pg-"))).start()
        url = pg.url
    else:
        url = f"sqlite:///{folder / 'vaultjobs.db'}"
    try:
        store = open_store(url)
        store.migrate()
        if int(execute(store, "SELECT count(*) FROM jobs")[0][0]) == 0:
            print(f"inserting {args.jobs:,} finished jobs and {args.running:,} running ones ({backend}) …",
                  file=sys.stderr)
            fill(store, args.jobs)
            add_running(store, args.running)
        deep = args.page
        two = ("CANCELLED", "SUCCESS")
        after_deep = key_before_page(store, deep)
        after_two = key_before_page(store, deep // 2, two)
        store.close()
        return measure(backend, folder, url, args, after_deep, after_two)
    finally:
        if pg is not None:
            pg.stop()


def measure(backend: str, folder: Path, url: str, args: argparse.Namespace, after_deep: str,
            after_two: str) -> tuple[float | None, float]:
    server = LiveServer(folder, extra_env={"VAULTJOBS_LOG_LEVEL": "warning"}, workers=0, retention_days=36_500,
                        database_url=url, auth_attempts_per_minute=args.streams + 10)
    with server, httpx.Client(base_url=server.url, timeout=60) as http:

        def sign_in() -> str:
            signed = http.post("/ui/login", data={"username": "admin", "password": server.admin_password})
            assert signed.status_code == 303, signed.text
            return str(signed.cookies["vaultjobs_ui_session"])

        cookie = sign_in()
        http.cookies.set("vaultjobs_ui_session", cookie)

        def page(query: str) -> Any:
            def get() -> None:
                response = http.get(f"/ui/?{query}")
                assert response.status_code == 200 and response.text.count('<tr id="job-') == PAGE, query
                assert "problem" not in response.text, query
            return get

        deep = args.page
        two = "status=success&status=cancelled"
        calls = {
            "page 1": page("tab=history"),
            f"page {deep:,} (Next link)": page(f"tab=history&page={deep}&after={after_deep}"),
            "two statuses, page 1": page(f"tab=history&{two}"),
            f"two statuses, page {deep // 2:,} (Next link)": page(f"tab=history&{two}&page={deep // 2}"
                                                                  f"&after={after_two}"),
        }
        if backend == "sqlite":
            calls[f"page {deep:,} (page number)"] = page(f"tab=history&page={deep}")
        ratio = histories.report(
            f"\n[{backend}] GET /ui/?tab=history over {args.jobs:,} finished jobs, {PAGE} a page, "
            f"{args.repeat} rounds",
            histories.measure(calls, args.repeat),
            ("page 1", f"page {deep:,} (Next link)"),
        )

        assert server.process is not None
        pid = server.process.pid
        # a page per browser: each signs in on its own, as an admin does on their own machine
        cookies = [cookie, *(sign_in() for _ in range(args.streams - 1))]
        idle = cpu_per_second(pid, args.seconds)
        stop = threading.Event()
        threads = hold_streams(server.url, cookies, stop)
        time.sleep(3)  # every stream connected and sent its first page
        busy = cpu_per_second(pid, args.seconds)
        stop.set()
        print(f"\n[{backend}] server CPU with {args.running:,} running jobs on the Running tab, "
              f"{args.seconds:g} s each")
        print(f"  no page open           {idle:6.3f} cores")
        print(f"  {args.streams:>3} live pages open   {busy:6.3f} cores   "
              f"({(busy - idle) / max(args.streams, 1) * 1000:.1f} millicores a page)")
        del threads
    return ratio, busy - idle


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=20_000)
    parser.add_argument("--running", type=int, default=1_000)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each CPU measurement lasts")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the data here (default: a temp dir)")
    args = parser.parse_args()
    if args.page * PAGE > args.jobs:
        raise SystemExit(f"--page {args.page} is past the end of {args.jobs:,} jobs ({PAGE} a page)")
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    results = {backend: run(backend, args) for backend in backends}
    print()
    for backend, (ratio, cores) in results.items():
        shown = "n/a" if ratio is None else f"{ratio:.2f}x"
        print(f"[{backend}] history page {args.page:,} / page 1: {shown} (target within 2x); "
              f"{args.streams} live pages: {cores:.2f} cores above idle (target under 1)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
