"""What the object job processors share: the store and clock of the node, the catalog, and the way a
job refuses to go on with its reason in the job log."""

from __future__ import annotations

from vaultjobs.jobtypes.objects.catalogs import CatalogService
from vaultjobs.jobtypes.objects.records import Records
from vaultjobs.sdk import JobContext, ProcessorError

#: Aim for about this many tasks, so that progress moves and every worker thread has work.
TARGET_TASKS = 20


class JobRefused(ProcessorError):
    """The job cannot do its work (a tree too large, a ``block`` reference): the engine ends it
    ERRORS_ENCOUNTERED with this message in its log, and nothing was changed."""


def records_of(ctx: JobContext) -> Records:
    """The records service on the node's store and clock."""
    if ctx.content is None:
        raise RuntimeError("this node's store has no content repository")
    store = ctx.content.store
    return Records(store, CatalogService(store, ctx.content.clock), ctx.content.clock)


def chunk_size_for(count: int) -> int:
    return min(500, max(1, -(-count // TARGET_TASKS)))
