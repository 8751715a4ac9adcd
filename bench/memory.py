"""The server's memory with a big store and many running jobs (DESIGN.md: under 150 MB RSS).

1. Loads ``--jobs`` finished jobs (default 1,000,000) into a fresh SQLite store with
   status_api.py's loader (imported, not copied).
2. Starts a real ``vaultjobs serve`` on it with its default 4 worker threads and measures the
   server process's RSS once it answers (the baseline of this run: the same server, idle).
   Before it starts, ``--running`` demo jobs (default 1,000) are put in the store RUNNING, each
   with 10 queued one-second tasks that the 4 threads work through (the engine runs an older job's
   tasks before a newer job's, so a few threads never have many jobs RUNNING of their own accord).
3. Starts 100 more demo jobs through the API.
4. Under that load, reads every running job's status, the Job Monitors and 20 pages of Job
   Histories through the API (the caches, the thread pool and the connections all in use), and
   measures again: RSS now and the process's peak (``VmHWM``).

Reported: the three RSS figures in MB, the peak against the 150 MB target, and the growth over
the idle baseline. The peak includes the logins' password hash (argon2id, 64 MiB of memory by
design, freed once the hash is checked): one login at a time is part of any running server.

    .venv/bin/python bench/memory.py [--jobs 1000000] [--running 1000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from vaultjobs.store import SqliteStore
from vaultjobs.testing import LiveServer, V

sys.path.insert(0, str(Path(__file__).resolve().parent))
from status_api import load_store  # noqa: E402 - the loader of 1 million finished jobs

TARGET_MB = 150.0


def memory_mb(pid: int) -> tuple[float, float]:
    """The process's resident set now and at its peak, in MB (Linux ``/proc``)."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def add_running(data_dir: Path, count: int) -> None:
    """``count`` demo jobs RUNNING in their process phase, each with 10 queued one-second tasks: the
    store of a busy service (the engine runs a job's tasks before the next job's, so that a few
    threads never have many jobs RUNNING at once of their own accord)."""
    store = SqliteStore(data_dir / "vaultjobs.db")
    try:
        now = int(datetime.now(UTC).timestamp() * 1000)
        parameters = '{"items":10,"chunk_size":1,"item_seconds":1,"fail_items":[]}'
        with store.dialect.write() as conn:
            for n in range(count):
                job_id = conn.execute(
                    "INSERT INTO jobs (processor, parameters, status, method, scheduled, created_by, created_at, "
                    "modified_by, modified_at, run_start, phase, idempotent, timeout_ms, inactivity_timeout_ms, "
                    "progress_at) VALUES ('demo', ?, 'RUNNING', 'POST', 0, 1, ?, 1, ?, ?, 'process', 1, 14400000, "
                    "3600000, ?) RETURNING id",
                    (parameters, now + n, now + n, now + n, now + n),
                ).fetchone()[0]
                conn.executemany(
                    "INSERT INTO tasks (job_id, seq, state, payload) VALUES (?, ?, 'QUEUED', ?)",
                    [(job_id, seq, f'[{{"n":{seq}}}]') for seq in range(1, 11)],
                )
    finally:
        store.close()


def start_jobs(http: httpx.Client, count: int) -> None:
    """``count`` more demo jobs through the API (they queue behind the running ones)."""
    for _ in range(count):
        answer = http.post(f"/api/{V}/services/jobs/processors/demo/actions/run",
                           json={"parameters": {"items": 10, "item_seconds": 1}}).json()
        if answer.get("responseStatus") != "SUCCESS":
            raise SystemExit(f"starting a job failed: {answer}")


def wait_running(http: httpx.Client, count: int, timeout: float) -> int:
    """Until ``count`` jobs are RUNNING (or ``timeout``); the number that are (Job Monitors' total)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = http.get(f"/api/{V}/services/jobs/monitors", params={"status": "running", "limit": 1}).json()
        running = int(answer["responseDetails"]["total"])
        if running >= count or time.monotonic() >= deadline:
            return running
        time.sleep(1.0)


def running_ids(http: httpx.Client) -> list[int]:
    ids: list[int] = []
    while True:
        answer = http.get(f"/api/{V}/services/jobs/monitors",
                          params={"status": "running", "limit": 200, "offset": len(ids)}).json()
        page = [int(job["job_id"]) for job in answer["jobs"]]
        ids += page
        if len(page) < 200:
            return ids


def exercise(http: httpx.Client, ids: list[int]) -> None:
    """Every kind of read a polling client does, under load: each running job's status once (the
    status window allows no second read in 10 s), their monitors, 20 pages of histories."""
    for job_id in ids:
        http.get(f"/api/{V}/services/jobs/{job_id}")
    for offset in range(0, len(ids), 200):
        http.get(f"/api/{V}/services/jobs/monitors", params={"limit": 200, "offset": offset})
    for page in range(20):
        http.get(f"/api/{V}/services/jobs/histories", params={"limit": 200, "offset": page * 200})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000, help="finished jobs in the store")
    parser.add_argument("--running", type=int, default=1_000, help="jobs running at once")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="vaultjobs-bench-memory-"))
    try:
        print(f"loading {args.jobs:,} finished jobs …", flush=True)
        print(f"  {load_store(root / 'data', args.jobs):.1f} s", flush=True)
        add_running(root / "data", args.running)
        # Retrieve Job Status once per job and then not again: the window must not refuse the reads.
        server = LiveServer(root / "data", extra_env={"VAULTJOBS_LOG_LEVEL": "warning"})
        server.start()
        try:
            assert server.process is not None
            pid = server.process.pid
            idle, _ = memory_mb(pid)
            headers = {"Authorization": server.login()}
            with httpx.Client(base_url=server.url, headers=headers, timeout=60.0) as http:
                start_jobs(http, 100)
                running = wait_running(http, args.running, 0.0)
                ids = running_ids(http)
                exercise(http, ids)
                now, peak = memory_mb(pid)
                running_after = wait_running(http, args.running, 0.0)
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(f"SQLite, {args.jobs:,} stored jobs, {running:,} of {args.running:,} jobs RUNNING "
          f"({running_after:,} still at the end), 4 worker threads:")
    print(f"  server RSS idle after start      {idle:7.1f} MB   (the baseline)")
    print(f"  server RSS under load            {now:7.1f} MB   ({now / idle:.2f}× the baseline)")
    print(f"  server peak RSS (VmHWM)          {peak:7.1f} MB   (target < {TARGET_MB:.0f} MB: "
          f"{'met' if peak < TARGET_MB else 'NOT met'})")
    print(f"  ratio peak RSS / {TARGET_MB:.0f} MB: {peak / TARGET_MB:.2f}  (target < 1.0)")


if __name__ == "__main__":
    main()
