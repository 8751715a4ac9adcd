"""Huey on SQLite, 4 worker threads, as its users run it: N no-op tasks enqueued by calling the task,
then drained by a consumer in this process. Prints ``enqueue <jobs/s>`` and ``drain <jobs/s>``.

Runs in the peers' throwaway virtualenv (bench/peers/run.py): ``python huey_sqlite.py DB JOBS``.
"""

from __future__ import annotations

import sys
import threading
import time

from huey import SqliteHuey

path, jobs = sys.argv[1], int(sys.argv[2])
huey = SqliteHuey(filename=path)
done = 0
lock = threading.Lock()


@huey.task()
def noop() -> None:
    global done
    with lock:
        done += 1


started = time.perf_counter()
for _ in range(jobs):
    noop()
enqueued = time.perf_counter()
print(f"enqueue {jobs / (enqueued - started):.1f}", flush=True)

consumer = huey.create_consumer(workers=4, worker_type="thread", periodic=False, check_worker_health=False)
drain_started = time.perf_counter()
consumer.start()
while done < jobs:
    time.sleep(0.01)
drained = time.perf_counter()
consumer.stop(graceful=True)
print(f"drain {jobs / (drained - drain_started):.1f}", flush=True)
