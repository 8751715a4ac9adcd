"""Vault's Import Submission and Retrieve Submission Import Results.

``POST /api/{v}/vobjects/submission__v/{submission_id}/actions/import`` with form field ``file``: the
file staging path of an eCTD-style submission, a ``.zip`` or a folder (Vault takes folders from
user folders and zips from the root; this server takes either from wherever the caller may read).
The ``import_submission`` job unpacks it into a new binder, one section per folder and one document
per file. The start response keeps Vault's shape: ``warnings`` (here ``SUBMISSION_MISMATCH`` when
the submission folder is not named like the submission), ``job_id`` a number, ``url`` relative.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from vaultjobs import errors
from vaultjobs.api.endpoint import Call
from vaultjobs.api.routes import result_links
from vaultjobs.api.routes.binders import SUBMISSION_ID
from vaultjobs.api.routes.content_api import ContentRoutes
from vaultjobs.content.files import BadPath
from vaultjobs.models import Job
from vaultjobs.store.dialect import Connection

IMPORT_SUBMISSION = "import_submission"


def _import_links(job: Job, version: str) -> list[dict[str, str]]:
    sid = job.parameters["submission_id"]
    href = f"/api/{version}/vobjects/submission__v/{sid}/actions/import/{job.id}/results"
    return [result_links.link("artifacts", href)]


result_links.register(IMPORT_SUBMISSION, _import_links)


def submission_folder_name(source: Path) -> str:
    """The submission folder's name: a zip's single top-level folder, else the zip's or folder's own name."""
    if source.is_dir():
        return source.name
    with zipfile.ZipFile(source) as archive:
        names = [n for n in archive.namelist() if n.strip("/")]
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names):
        return tops.pop()
    return PurePosixPath(source.name).stem


class SubmissionRoutes(ContentRoutes):
    def _submission_id(self, call: Call) -> str:
        sid = str(call.path_params["submission_id"])
        if not SUBMISSION_ID.match(sid):
            raise errors.InvalidData(f"Invalid value for [submission_id]: [{sid[:100]}]")
        return sid

    def start_import(self, call: Call) -> dict[str, Any]:
        user = call.require_user()
        sid = self._submission_id(call)
        path = call.form.get("file")
        if not path:
            raise errors.ParameterRequired.named("file")
        try:
            disk = self.repo.staging.resolve(user.id, user.is_admin, path)
        except BadPath as exc:
            raise errors.InvalidData(str(exc)) from exc
        if disk.is_file():
            if not zipfile.is_zipfile(disk):
                raise errors.InvalidData(f"Invalid value for [file]: [{path[:200]}] is not a ZIP file or a folder")
            kind = "zip"
        elif disk.is_dir():
            kind = "folder"
        else:
            raise errors.InvalidData(f"Invalid value for [file]: [{path[:200]}] does not exist in file staging")
        try:
            folder_name = submission_folder_name(disk)
        except (zipfile.BadZipFile, OSError) as exc:
            raise errors.InvalidData(f"Invalid value for [file]: [{path[:200]}] cannot be read: {exc}") from exc
        now = self.s.clock.now()

        def reserve(conn: Connection, job: Job) -> None:
            if not self.repo.store.content.reserve_submission(conn, sid, user.id, now, job.id):
                raise errors.OperationNotAllowed(
                    f"Submission [{sid}] was imported already or its import is still running"
                )

        job = self.start_job(
            call, user, IMPORT_SUBMISSION, "Import Submission",
            {
                "submission_id": sid, "kind": kind, "folder": folder_name,
                "source": disk.relative_to(self.repo.staging.root).as_posix(),
            },
            within=reserve,
        )
        payload: dict[str, Any] = {}
        if folder_name != sid:
            payload["warnings"] = [
                {"type": "SUBMISSION_MISMATCH",
                 "message": "Submission folder name does not match the Submission record name."}
            ]
        payload["job_id"] = job.id
        payload["url"] = f"/api/{call.version}/services/jobs/{job.id}"
        return payload

    def import_results(self, call: Call) -> dict[str, Any]:
        """Retrieve Submission Import Results: ``data`` with the submission binder (its version numbers as
        strings, as Vault sends them) and ``importMessages`` for files that could not be imported."""
        sid = self._submission_id(call)
        job, _ = self.finished_job(call, frozenset({IMPORT_SUBMISSION}), "an Import Submission")
        if job.parameters.get("submission_id") != sid:
            raise errors.InvalidData(f"Job [{job.id}] did not import submission [{sid}]")
        rows = self.repo.store.content.results(job.id)
        binder = [{k: v for k, v in r.items() if k != "kind"} for r in rows if r.get("kind") == "binder"]
        failed = [r for r in rows if r.get("kind") == "file" and r["responseStatus"] != "SUCCESS"]
        payload: dict[str, Any] = {"data": binder}
        if failed:
            payload["importMessages"] = {
                "validationError": [
                    ["The following files could not be imported:", "Error"],
                    {"validationFileData": [f"\"{r['path']}\": {r['errors'][0]['message']}" for r in failed]},
                ]
            }
        return payload
