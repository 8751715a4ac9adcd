"""Vault's Import Package job: the package records made from the file the request checked and kept.

Idempotent: the package id was allocated by the request, so a job run again after its worker died
finds the package made (in one transaction, with its Validation.log) and changes nothing. A package
``blocked__v`` is a successful import, as in Vault; one that no longer checks against this vault
(its catalog changed since the request) ends ``error__v`` and the job ERRORS_ENCOUNTERED.
"""

from __future__ import annotations

from typing import Any

from vaultjobs.api.routes import result_links
from vaultjobs.jobtypes.packages.service import service_of
from vaultjobs.models import Job
from vaultjobs.sdk import JobContext, Task, processor

PROCESSOR = "import_package"


def _links(job: Job, version: str) -> list[dict[str, str]]:
    package_id = job.parameters.get("package")
    href = f"/api/{version}/vobject/vault_package__v/{package_id}/actions/import/results"
    return [result_links.link("artifacts", href)]


result_links.register(PROCESSOR, _links)


@processor(PROCESSOR, chunk_size=1, idempotent=True, timeout="1h", admin_cancellable=True)
class ImportPackage:
    """Import Package: creates an inbound package (vault_package__v) from a .vpk."""

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        ctx.log(f"import of package file {ctx.parameters.get('filename')} as package {ctx.parameters['package']} "
                f"requested by user {ctx.created_by}")
        return [{"package": ctx.parameters["package"]}]

    def process(self, ctx: JobContext, task: Task) -> None:
        imported = service_of(ctx).import_kept(str(task.items[0]["package"]), ctx.created_by)
        package = imported.package
        if imported.problem is not None:
            ctx.log(f"package {package.name} ({package.id}) could not be imported: {imported.problem}")
            task.fail(imported.problem)
            return
        ctx.log(f"package {package.name} ({package.id}) imported with {len(package.steps)} steps: {package.status}")
