"""The routes of the content repository and the document jobs, in matching order.

Kept apart from :mod:`vaultjobs.api.app`, which mounts them as the content family. Fixed paths come
before the ``{doc_id}``/``{binder_id}`` patterns they would otherwise be taken for, and the file
staging ``content/`` route before the catch-all ``{item:path}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import Route

from vaultjobs.api.routes.binders import BinderRoutes
from vaultjobs.api.routes.documents import DocumentRoutes
from vaultjobs.api.routes.file_staging import FileStagingRoutes
from vaultjobs.api.routes.submissions import SubmissionRoutes
from vaultjobs.api.services import Services

RouteFactory = Callable[..., Route]


def content_routes(route: RouteFactory, v: str, services: Services) -> list[Route]:
    """Routes under ``v`` (the prefix they are given: empty where the family is mounted at
    ``/api/{version:api_version}``), made with the application's ``route``."""
    docs = DocumentRoutes(services)
    binders = BinderRoutes(services)
    staging = FileStagingRoutes(services)
    subs = SubmissionRoutes(services)
    d = f"{v}/objects/documents"
    dv = f"{d}/{{doc_id}}/versions/{{major}}/{{minor}}"
    b = f"{v}/objects/binders"
    bv = f"{b}/{{binder_id}}/versions/{{major}}/{{minor}}"
    f = f"{v}/services/file_staging/items"
    s = f"{v}/vobjects/submission__v/{{submission_id}}/actions/import"
    table: list[tuple[str, str, Any, str | None]] = [
        # Export Documents
        (f"{d}/batch/actions/fileextract", "POST", docs.export, "raw"),
        (f"{d}/versions/batch/actions/fileextract", "POST", docs.export_versions, "raw"),
        (f"{d}/batch/actions/fileextract/{{job_id}}/results", "GET", docs.export_results, None),
        # documents
        (d, "POST", docs.create, None),
        (f"{d}/{{doc_id}}", "GET", docs.retrieve, None),
        (f"{d}/{{doc_id}}", "POST", docs.create_version, None),
        (f"{d}/{{doc_id}}/versions", "GET", docs.versions, None),
        (dv, "GET", docs.retrieve_version, None),
        (f"{d}/{{doc_id}}/file", "GET", docs.download, None),
        (f"{dv}/file", "GET", docs.download, None),
        (f"{d}/{{doc_id}}/renditions/{{rendition_type}}", "POST", docs.upload_rendition, None),
        (f"{d}/{{doc_id}}/renditions/{{rendition_type}}", "GET", docs.download_rendition, None),
        (f"{dv}/renditions/{{rendition_type}}", "POST", docs.upload_rendition, None),
        (f"{dv}/renditions/{{rendition_type}}", "GET", docs.download_rendition, None),
        (f"{d}/{{doc_id}}/roles", "POST", docs.assign_roles, None),
        # Binder Export and Export Submission
        (f"{b}/actions/export/{{job_id}}/results", "GET", binders.export_results, None),
        (f"{b}/{{binder_id}}/actions/export", "POST", binders.export, "raw"),
        (f"{bv}/actions/export", "POST", binders.export, "raw"),
        # binders
        (b, "POST", binders.create, "form"),
        (f"{b}/{{binder_id}}", "GET", binders.retrieve, None),
        (f"{b}/{{binder_id}}", "POST", binders.create_version, None),
        (f"{b}/{{binder_id}}/versions", "GET", binders.versions, None),
        (bv, "GET", binders.retrieve, None),
        (f"{b}/{{binder_id}}/sections", "POST", binders.add_section, "form"),
        (f"{b}/{{binder_id}}/documents", "POST", binders.add_document, "form"),
        # file staging
        (f, "GET", staging.list_items, None),
        (f, "POST", staging.create, None),
        (f"{f}/content/{{item:path}}", "GET", staging.download, None),
        (f"{f}/{{item:path}}", "GET", staging.list_items, None),
        # Import Submission
        (f"{s}/{{job_id}}/results", "GET", subs.import_results, None),
        (s, "POST", subs.start_import, "form"),
    ]
    return [route(path, method, handler, body=body) for path, method, handler, body in table]
