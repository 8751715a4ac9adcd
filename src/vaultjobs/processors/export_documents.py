"""Vault's Export Documents job: copy document versions' files into the caller's file staging.

Started by ``POST /api/{v}/objects/documents/batch/actions/fileextract`` (documents: latest or all
versions) and ``…/versions/batch/actions/fileextract`` (named versions). The requested ids wait in
the store (``content_requests``), not in the job's parameters: ten thousand ids do not fit Vault's
8 KB of parameters. Each requested entry is one job item; tasks copy their items' files and record
one result per exported version, which ``…/fileextract/{job_id}/results`` lists in request order.

Files land in the user's folder as Vault lays them out, ``/{job_id}/{doc_id}/{major}_{minor}/{file
name}``, renditions under ``…/renditions/{rendition_type}/{file name}``. An entry that cannot be
exported (no such document, no access, no such version, no source file, no rendition when
renditions were asked for) is a FAILURE result with Vault's error type; its task fails, so the job
ends ERRORS_ENCOUNTERED while every other entry is still exported.
"""

from __future__ import annotations

import math
from typing import Any

from vaultjobs.content.files import Opener, UserStaging
from vaultjobs.content.models import Version
from vaultjobs.content.repository import ContentError, ContentRepository
from vaultjobs.sdk import JobContext, JobResult, Task, processor

#: Aim for about this many tasks: enough for ``progress`` to move and for every worker thread to
#: have work, few enough that per-task costs (a flush to disk, three transactions) stay small.
TARGET_TASKS = 20


def _needs(ctx: JobContext) -> tuple[ContentRepository, UserStaging]:
    if ctx.content is None or ctx.files is None:
        raise RuntimeError("this node's store has no content repository")
    return ctx.content, ctx.files


@processor("export_documents", chunk_size=10, idempotent=True, timeout="4h", admin_cancellable=True)
class ExportDocuments:
    """Export Documents: copies document versions' source files and renditions into file staging."""

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        repo, _ = _needs(ctx)
        request = repo.store.content.request(int(ctx.parameters["request"]))
        if not isinstance(request, list):
            raise RuntimeError(f"the export request [{ctx.parameters['request']}] is missing")
        p = ctx.parameters
        what = " and ".join(x for x, on in (("source files", p["source"]), ("renditions", p["renditions"])) if on)
        scope = "all versions" if p["allversions"] else "named versions" if request and "major" in request[0] \
            else "latest versions"
        ctx.log(f"export of {len(request)} documents requested ({what}, {scope}) by user {ctx.created_by}")
        ctx.chunk_size = min(500, max(1, math.ceil(len(request) / TARGET_TASKS)))
        return [{"n": n, **entry} for n, entry in enumerate(request)]

    def process(self, ctx: JobContext, task: Task) -> None:
        repo, staging = _needs(ctx)
        user = repo.store.users.get_user(ctx.created_by)
        is_admin = user is not None and user.is_admin
        rows: list[tuple[int, int, dict[str, Any]]] = []
        copies: list[tuple[Opener, str]] = []
        for item in task.items:
            if ctx.cancelled:
                return
            for k, row in enumerate(self._export(ctx, repo, item, is_admin, copies)):
                rows.append((item["n"], k, row))
        try:
            # All of the task's files at once: one flush to disk for the batch, each file whole or absent.
            staging.copy_batch(copies)
        except OSError as exc:
            for _, _, row in rows:
                if "file" in row or "renditions" in row:
                    row.update(responseStatus="FAILURE",
                               errors=[{"type": "INVALID_DATA", "message": f"could not be written: {exc}"}])
        repo.store.content.put_results(ctx.job_id, rows)
        failed = [f"{row['id']}: {row['errors'][0]['message']}" for _, _, row in rows
                  if row["responseStatus"] != "SUCCESS"]
        for line in failed:
            ctx.log(f"document {line.replace(': ', ' not exported: ', 1)}")
        task.set_value("exported", len(copies))
        if failed:
            task.fail(f"{len(failed)} of {len(rows)} versions failed: " + "; ".join(failed)[:2000])

    def _export(
        self, ctx: JobContext, repo: ContentRepository, item: dict[str, Any], is_admin: bool,
        copies: list[tuple[Opener, str]],
    ) -> list[dict[str, Any]]:
        doc_id = int(item["id"])
        base = {"responseStatus": "SUCCESS", "id": doc_id}
        try:
            repo.document(doc_id, ctx.created_by, is_admin, binder=False)
            if "major" in item:
                versions = [repo.version(doc_id, int(item["major"]), int(item["minor"]))]
            elif ctx.parameters["allversions"]:
                versions = repo.store.content.versions(doc_id)
            else:
                versions = [repo.version(doc_id, None, None)]
        except ContentError as exc:
            return [_failed(base, exc.type, str(exc), ctx.created_by)]
        return [self._export_version(ctx, repo, version, copies) for version in versions]

    def _export_version(
        self, ctx: JobContext, repo: ContentRepository, version: Version, copies: list[tuple[Opener, str]]
    ) -> dict[str, Any]:
        """The result row of one version; the files to copy are added to ``copies``."""
        row: dict[str, Any] = {
            "responseStatus": "SUCCESS",
            "id": version.document_id,
            "major_version_number__v": version.major,
            "minor_version_number__v": version.minor,
        }
        folder = f"/{ctx.job_id}/{version.document_id}/{version.major}_{version.minor}"
        problems: list[str] = []
        if ctx.parameters["source"]:
            if version.file is None:
                problems.append(f"version {version.number} of document {version.document_id} has no source file")
            else:
                path = f"{folder}/{version.file.filename}"
                copies.append((repo.file_opener(version.file), path))
                row["file"] = path
        if ctx.parameters["renditions"]:
            renditions = repo.store.content.renditions(version.document_id, version.major, version.minor)
            if not renditions:
                problems.append(f"version {version.number} of document {version.document_id} has no renditions")
            exported = []
            for rendition in renditions:
                path = f"{folder}/renditions/{rendition.rendition_type}/{rendition.file.filename}"
                copies.append((repo.file_opener(rendition.file), path))
                exported.append({"rendition_type": rendition.rendition_type, "file": path})
            if exported:
                row["renditions"] = exported
        row["user_id__v"] = ctx.created_by
        if problems:
            row["responseStatus"] = "FAILURE"
            row["errors"] = [{"type": "INVALID_DATA", "message": "; ".join(problems)}]
        return row

    def complete(self, ctx: JobContext, result: JobResult) -> None:
        repo, _ = _needs(ctx)
        rows = repo.store.content.results(ctx.job_id)
        ok = sum(1 for r in rows if r["responseStatus"] == "SUCCESS")
        ctx.log(
            f"export finished: {ok} of {len(rows)} versions exported to /u{ctx.created_by}/{ctx.job_id}/, "
            f"{len(rows) - ok} failed; results at …/objects/documents/batch/actions/fileextract/{ctx.job_id}/results"
        )


def _failed(base: dict[str, Any], error_type: str, message: str, user_id: int) -> dict[str, Any]:
    return {**base, "responseStatus": "FAILURE", "errors": [{"type": error_type, "message": message}],
            "user_id__v": user_id}
