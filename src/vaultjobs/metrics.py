"""Prometheus metrics, through the official client library.

Two kinds, kept apart because they are measured differently:

* **Events**, counted where they happen: HTTP requests by route and outcome with latency
  histograms (one middleware, :mod:`vaultjobs.api.access`, sees every answer, and derives from it the
  status-window refusals and the authentication failures), task durations per processor, units
  claimed and handed back by workers.
* **State**, read from the store when Prometheus scrapes (:class:`StoreCollector`): jobs by status
  and processor, queue depth and the age of the oldest queued unit, and the database pool's use. A
  scrape of any node shows the whole cluster's queue, with no counter to keep in step.

Multi-process safe: when ``PROMETHEUS_MULTIPROC_DIR`` names a folder (set it before the processes
start, one folder per host, emptied at boot), every process of the host — ``serve`` and any
``worker`` — writes its events there and ``/_vaultjobs/metrics`` adds them up, as the client
library documents; without it each process reports its own.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from vaultjobs.store import Store
from vaultjobs.timeutil import Clock, from_ms

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_TASK = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0)

HTTP_REQUESTS = Counter("vaultjobs_http_requests", "HTTP requests answered, by route and outcome.",
                        ["method", "route", "outcome"])
HTTP_SECONDS = Histogram("vaultjobs_http_request_seconds", "Time to answer an HTTP request, by route.",
                         ["method", "route"], buckets=_LATENCY)
STATUS_WINDOW_REFUSALS = Counter("vaultjobs_status_window_refusals",
                                 "Retrieve Job Status calls refused inside the job's status window.")
AUTH_FAILURES = Counter("vaultjobs_auth_failures", "Authentication requests that failed.")
TASK_SECONDS = Histogram("vaultjobs_task_seconds", "Time a task's process() took, by processor.", ["processor"],
                         buckets=_TASK)
CLAIMED = Counter("vaultjobs_units_claimed", "Units of work claimed by workers (jobs to init or complete, tasks).",
                  ["kind"])
HANDED_BACK = Counter("vaultjobs_units_handed_back", "Claimed units handed back unstarted for others to take.")

_STATUS_ROUTE = "/api/{version}/services/jobs/{job_id}"


def observe_request(method: str, route: str, outcome: str, error_types: str, seconds: float) -> None:
    """One answer: ``outcome`` is its ``responseStatus`` (the HTTP status code for answers without one, such as
    the Job Status page's), ``error_types`` its errors' types, ``route`` its route's template."""
    label = error_types.split(",", 1)[0] if outcome == "FAILURE" and error_types else outcome
    _requests(method, route, label).inc()
    _seconds(method, route).observe(seconds)
    if route == _STATUS_ROUTE and "API_LIMIT_EXCEEDED" in error_types:
        STATUS_WINDOW_REFUSALS.inc()
    elif route.endswith("/auth") and outcome == "FAILURE":
        AUTH_FAILURES.inc()


# A labelled child is looked up once: ``labels()`` validates and hashes its labels on every call.
@functools.cache
def _requests(method: str, route: str, outcome: str) -> Any:
    return HTTP_REQUESTS.labels(method, route, outcome)


@functools.cache
def _seconds(method: str, route: str) -> Any:
    return HTTP_SECONDS.labels(method, route)


class StoreCollector(Collector):
    """The cluster's state, read from the store at each scrape."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def collect(self) -> Iterator[Any]:
        conn = self.store.dialect.connection()
        jobs = GaugeMetricFamily("vaultjobs_jobs", "Jobs in the store, by status and processor.",
                                 labels=["status", "processor"])
        for status, processor, count in conn.execute(
            "SELECT status, processor, count(*) FROM jobs GROUP BY status, processor"
        ).fetchall():
            jobs.add_metric([str(status), str(processor)], float(count))
        yield jobs
        depth = GaugeMetricFamily("vaultjobs_queue_depth", "Units waiting for a worker.", labels=["kind"])
        oldest = GaugeMetricFamily("vaultjobs_queue_oldest_seconds", "Age of the oldest unit waiting for a worker.",
                                   labels=["kind"])
        now = self.clock.now()
        for kind, sql in (
            ("job", "SELECT count(*), min(created_at) FROM jobs WHERE status = 'QUEUED'"),
            ("task", "SELECT count(*), min(jobs.created_at) FROM tasks JOIN jobs ON jobs.id = tasks.job_id "
                     "WHERE tasks.state = 'QUEUED'"),
        ):
            count, first = conn.execute(sql).fetchone()
            depth.add_metric([kind], float(count or 0))
            oldest.add_metric([kind], max(0.0, (now - from_ms(int(first))).total_seconds()) if first else 0.0)
        yield depth
        yield oldest
        pool = getattr(self.store.dialect, "pool", None)
        if pool is not None and hasattr(pool, "get_stats"):
            stats = pool.get_stats()
            use = GaugeMetricFamily("vaultjobs_db_pool", "The database connection pool.", labels=["state"])
            use.add_metric(["size"], float(stats.get("pool_size", 0)))
            use.add_metric(["available"], float(stats.get("pool_available", 0)))
            use.add_metric(["waiting"], float(stats.get("requests_waiting", 0)))
            yield use


def exposition(store: Store, clock: Clock) -> bytes:
    """The text a scrape gets: this process's (or, multi-process, this host's) events, and the store's state."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for metric in (HTTP_REQUESTS, HTTP_SECONDS, STATUS_WINDOW_REFUSALS, AUTH_FAILURES, TASK_SECONDS,
                       CLAIMED, HANDED_BACK):
            registry.register(_Forward(metric))
    registry.register(StoreCollector(store, clock))
    return bytes(generate_latest(registry))


class _Forward(Collector):
    """One metric of the default registry, shown in another."""

    def __init__(self, metric: Any) -> None:
        self.metric = metric

    def collect(self) -> Iterator[Any]:
        return iter(self.metric.collect())
