"""Procrastinate on PostgreSQL, concurrency 10, as its users run it: N no-op tasks deferred one by
one, then drained by one worker that stops when the queue is empty. Prints ``enqueue <jobs/s>`` and
``drain <jobs/s>``.

Runs in the peers' throwaway virtualenv (bench/peers/run.py): ``python procrastinate_postgres.py URL JOBS``.
"""

from __future__ import annotations

import sys
import time

import procrastinate

url, jobs = sys.argv[1], int(sys.argv[2])
app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))


@app.task(name="noop")
async def noop() -> None:
    return None


with app.open():
    app.schema_manager.apply_schema()
    started = time.perf_counter()
    for _ in range(jobs):
        noop.defer()
    enqueued = time.perf_counter()
    print(f"enqueue {jobs / (enqueued - started):.1f}", flush=True)
    app.run_worker(concurrency=10, wait=False, install_signal_handlers=False, listen_notify=False)
    drained = time.perf_counter()
print(f"drain {jobs / (drained - enqueued):.1f}", flush=True)
