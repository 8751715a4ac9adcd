"""Vault's Execute MDL Script Asynchronously: the same script as Execute MDL, applied by a job.

The start request checks the syntax at once (a script that does not parse starts nothing) and keeps
the script in ``object_requests`` (scripts outgrow the 8 KB of job parameters); the job applies it
through the same :class:`~vaultjobs.jobtypes.objects.catalogs.CatalogService` and keeps Execute MDL's
answer as its result, which ``GET /api/mdl/execute_async/{job_id}/results`` returns. A statement
that fails makes the job end ERRORS_ENCOUNTERED. Only one asynchronous MDL job may be queued or
running at a time, as in Vault. Not idempotent: a statement applied twice would not mean the same, so
a job whose worker died ends COMPLETED_DUE_TO_INACTIVITY and its log says so.

The objects the script changes (named in its parameters) are in deployment until the job ends:
their ``configuration_state`` is ``IN_DEPLOYMENT`` and their records cannot be written
(:meth:`~vaultjobs.jobtypes.objects.records.Records.require_writable`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vaultjobs.api.routes import result_links
from vaultjobs.jobtypes.objects.context import records_of
from vaultjobs.jobtypes.objects.records import MDL_ASYNC_PROCESSOR
from vaultjobs.models import Job
from vaultjobs.objects.mdl import Statement, render_execution
from vaultjobs.sdk import JobContext, Task, processor

PROCESSOR = MDL_ASYNC_PROCESSOR
RESULT = "mdl"


def changed_objects(statements: Sequence[Statement]) -> list[str]:
    """The objects a script changes, a renamed one under both its names."""
    names = [name for s in statements if s.component.type == "Object" for name in (s.component.name, s.new_name)
             if name]
    return list(dict.fromkeys(names))


def _links(job: Job, version: str) -> list[dict[str, str]]:
    return [result_links.link("artifacts", f"/api/mdl/execute_async/{job.id}/results")]


result_links.register(PROCESSOR, _links)


@processor(PROCESSOR, chunk_size=1, idempotent=False, timeout="1h", admin_cancellable=True)
class ExecuteMdlAsync:
    """Execute MDL Script Asynchronously: applies an MDL script to the object catalog."""

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        ctx.log(f"MDL script {ctx.parameters['request']} requested by user {ctx.created_by}")
        return [{"request": ctx.parameters["request"]}]

    def process(self, ctx: JobContext, task: Task) -> None:
        records = records_of(ctx)
        script = records.store.objects.request(int(task.items[0]["request"]))
        if script is None:
            task.fail(f"the MDL script [{task.items[0]['request']}] is missing")
            return
        execution = records.catalogs.execute(script, ctx.created_by)
        body = render_execution(execution.results, vault=str(ctx.parameters.get("vault", "localhost")),
                                execution_time=execution.seconds)
        records.store.objects.results_put(ctx.job_id, RESULT, [(0, body)])
        for result in execution.results:
            ctx.log(result.message)
        failed = [r for r in execution.results if not r.success]
        if failed:
            task.fail(f"{len(failed)} of {len(execution.results)} statements failed")
