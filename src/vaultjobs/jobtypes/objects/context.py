"""What the object job processors share: the store and clock of the node, the catalog, and the way a
job refuses to go on with its reason in the job log."""

from __future__ import annotations

import threading
import weakref

from vaultjobs.jobtypes.objects.catalogs import CatalogService
from vaultjobs.jobtypes.objects.records import Records
from vaultjobs.sdk import JobContext, ProcessorError, Task

#: Aim for about this many tasks, so that progress moves and every worker thread has work, while
#: each task's fixed cost (its claim and its end, a transaction each) stays small beside its rows.
TARGET_TASKS = 10
#: At most this many plan rows in one task.
MAX_SPAN = 1000


class JobRefused(ProcessorError):
    """The job cannot do its work (a tree too large, a ``block`` reference): the engine ends it
    ERRORS_ENCOUNTERED with this message in its log, and nothing was changed."""


_catalogs: weakref.WeakKeyDictionary[object, CatalogService] = weakref.WeakKeyDictionary()
_catalogs_lock = threading.Lock()


def records_of(ctx: JobContext) -> Records:
    """The records service on the node's store and clock, with one catalog cache per store (parsing
    the catalog for every task would cost more than many a task's work)."""
    if ctx.content is None:
        raise RuntimeError("this node's store has no content repository")
    store, clock = ctx.content.store, ctx.content.clock
    with _catalogs_lock:
        catalogs = _catalogs.get(store)
        if catalogs is None:
            catalogs = _catalogs[store] = CatalogService(store, clock)
    return Records(store, catalogs, clock)


def plan_spans(ctx: JobContext, count: int) -> list[dict[str, int]]:
    """The tasks of a job over plan rows ``0``…``count - 1``: one item each, naming a span of rows
    (``first``, ``last``), so that a task reads its rows with one range query."""
    size = min(MAX_SPAN, max(1, -(-count // TARGET_TASKS)))
    ctx.chunk_size = 1
    return [{"first": first, "last": min(first + size, count) - 1} for first in range(0, count, size)]


def span_of(task: Task) -> tuple[int, int]:
    """The plan rows a task works on (tasks made before spans carry one ``n`` per row)."""
    if len(task.items) == 1 and "first" in task.items[0]:
        return int(task.items[0]["first"]), int(task.items[0]["last"])
    ns = [int(item["n"]) for item in task.items]
    return min(ns), max(ns)
