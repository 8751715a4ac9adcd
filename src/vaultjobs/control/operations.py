"""A stable name for every Vault route: what fault rules match on and the request journal shows.

Route templates change shape with refactoring (converters, mounts); operation names do not. Each
name follows the Vault API reference's name for the endpoint, in snake case. :func:`resolve` finds
the route a request goes to, through mounts, the way the router will.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import Scope

V = "/api/{version}"

#: (method, route template) → operation name, for every Vault route vaultjobs answers.
OPERATIONS: dict[tuple[str, str], str] = {
    ("GET", "/api/"): "retrieve_api_versions",
    ("GET", "/api"): "retrieve_api_versions",
    ("POST", f"{V}/auth"): "authenticate",
    ("POST", f"{V}/keep-alive"): "keep_alive",
    ("DELETE", f"{V}/session"): "end_session",
    ("GET", f"{V}/objects/users/me"): "retrieve_my_user",
    # Jobs
    ("GET", f"{V}/services/jobs/processors"): "retrieve_job_processors",
    ("POST", f"{V}/services/jobs/processors/{{name}}/actions/run"): "run_processor",
    ("POST", f"{V}/services/jobs/start_now/{{job_id}}"): "start_job",
    ("POST", f"{V}/services/jobs/actions/cancel"): "cancel_jobs",
    ("GET", f"{V}/services/jobs/histories"): "retrieve_job_histories",
    ("GET", f"{V}/services/jobs/monitors"): "retrieve_job_monitors",
    ("GET", f"{V}/services/jobs/{{job_id}}"): "retrieve_job_status",
    ("GET", f"{V}/services/jobs/{{job_id}}/tasks"): "retrieve_job_tasks",
    ("GET", f"{V}/services/jobs/{{job_id}}/log"): "retrieve_job_log",
    # Documents and binders
    ("POST", f"{V}/objects/documents/batch/actions/fileextract"): "export_documents",
    ("POST", f"{V}/objects/documents/versions/batch/actions/fileextract"): "export_document_versions",
    ("GET", f"{V}/objects/documents/batch/actions/fileextract/{{job_id}}/results"): "retrieve_document_export_results",
    ("POST", f"{V}/objects/documents"): "create_document",
    ("GET", f"{V}/objects/documents/{{doc_id}}"): "retrieve_document",
    ("POST", f"{V}/objects/documents/{{doc_id}}"): "update_document",
    ("GET", f"{V}/objects/documents/{{doc_id}}/versions"): "retrieve_document_versions",
    ("GET", f"{V}/objects/documents/{{doc_id}}/versions/{{major}}/{{minor}}"): "retrieve_document_version",
    ("GET", f"{V}/objects/documents/{{doc_id}}/file"): "download_document_file",
    ("GET", f"{V}/objects/documents/{{doc_id}}/versions/{{major}}/{{minor}}/file"): "download_document_version_file",
    ("POST", f"{V}/objects/documents/{{doc_id}}/renditions/{{rendition_type}}"): "add_document_rendition",
    ("GET", f"{V}/objects/documents/{{doc_id}}/renditions/{{rendition_type}}"): "download_document_rendition",
    ("POST", f"{V}/objects/documents/{{doc_id}}/versions/{{major}}/{{minor}}/renditions/{{rendition_type}}"):
        "add_document_version_rendition",
    ("GET", f"{V}/objects/documents/{{doc_id}}/versions/{{major}}/{{minor}}/renditions/{{rendition_type}}"):
        "download_document_version_rendition",
    ("POST", f"{V}/objects/documents/{{doc_id}}/roles"): "assign_document_roles",
    ("GET", f"{V}/objects/binders/actions/export/{{job_id}}/results"): "retrieve_binder_export_results",
    ("POST", f"{V}/objects/binders/{{binder_id}}/actions/export"): "export_binder",
    ("POST", f"{V}/objects/binders/{{binder_id}}/versions/{{major}}/{{minor}}/actions/export"):
        "export_binder_version",
    ("POST", f"{V}/objects/binders"): "create_binder",
    ("GET", f"{V}/objects/binders/{{binder_id}}"): "retrieve_binder",
    ("POST", f"{V}/objects/binders/{{binder_id}}"): "update_binder",
    ("GET", f"{V}/objects/binders/{{binder_id}}/versions"): "retrieve_binder_versions",
    ("GET", f"{V}/objects/binders/{{binder_id}}/versions/{{major}}/{{minor}}"): "retrieve_binder_version",
    ("POST", f"{V}/objects/binders/{{binder_id}}/sections"): "create_binder_section",
    ("POST", f"{V}/objects/binders/{{binder_id}}/documents"): "add_document_to_binder",
    ("GET", f"{V}/services/file_staging/items"): "list_file_staging_items",
    ("POST", f"{V}/services/file_staging/items"): "create_file_staging_item",
    ("GET", f"{V}/services/file_staging/items/content/{{item}}"): "download_file_staging_item_content",
    ("GET", f"{V}/services/file_staging/items/{{item}}"): "retrieve_file_staging_item",
    # Packages and submissions
    ("GET", f"{V}/vobjects/submission__v/{{submission_id}}/actions/import/{{job_id}}/results"):
        "retrieve_submission_import_results",
    ("POST", f"{V}/vobjects/submission__v/{{submission_id}}/actions/import"): "import_submission",
    ("PUT", f"{V}/services/package"): "import_package",
    ("POST", f"{V}/services/package/actions/validate"): "validate_package",
    ("GET", f"{V}/services/package/actions/deploy/data_results/{{file_id}}/{{filename}}"):
        "retrieve_package_deploy_data_results",
    ("POST", f"{V}/services/vobject/vault_package__v/{{package_id}}/actions/validate"): "validate_imported_package",
    ("POST", f"{V}/services/vobject/vault_package_v/{{package_id}}/actions/validate"): "validate_imported_package",
    ("POST", f"{V}/vobject/vault_package__v/{{package_id}}/actions/deploy"): "deploy_package",
    ("GET", f"{V}/vobject/vault_package__v/{{package_id}}/actions/import/results"): "retrieve_package_import_results",
    ("GET", f"{V}/vobject/vault_package__v/{{package_id}}/actions/deploy/results"): "retrieve_package_deploy_results",
    # Objects and MDL
    ("GET", f"{V}/vobjects/{{object_name}}/{{record_id}}/attachments"): "retrieve_object_record_attachments",
    ("GET", f"{V}/vobjects/{{object_name}}/{{record_id}}/attachments/{{attachment_id}}/versions/"
            "{attachment_version}/file"): "download_object_record_attachment_file",
    ("GET", "/api/mdl/components/{component}"): "retrieve_component_record",
    ("GET", f"{V}/metadata/vobjects"): "retrieve_object_collection",
    ("GET", f"{V}/metadata/vobjects/{{object_name}}"): "retrieve_object_metadata",
    ("GET", f"{V}/metadata/vobjects/{{object_name}}/fields/{{field_name}}"): "retrieve_object_field_metadata",
    ("POST", "/api/mdl/execute"): "execute_mdl_script",
    ("POST", "/api/mdl/execute_async"): "execute_mdl_script_async",
    ("GET", "/api/mdl/execute_async/{job_id}/results"): "retrieve_async_mdl_script_results",
    ("GET", f"{V}/vobjects/deepcopy/results/{{object_name}}/{{job_status}}/{{job_id}}"): "retrieve_deep_copy_results",
    ("GET", f"{V}/vobjects/cascadedelete/results/{{object_name}}/{{job_status}}/{{job_id}}"):
        "retrieve_cascade_delete_results",
    ("POST", f"{V}/vobjects/study__v/{{record_id}}/actions/etmfcreateedl"): "create_edls",
    ("POST", f"{V}/vobjects/{{object_name}}/{{record_id}}/actions/deepcopy"): "deep_copy_object_record",
    ("POST", f"{V}/vobjects/{{object_name}}/{{record_id}}/actions/cascadedelete"): "cascade_delete_object_record",
    ("GET", f"{V}/vobjects/{{object_name}}"): "retrieve_object_records",
    ("POST", f"{V}/vobjects/{{object_name}}"): "create_object_records",
    ("PUT", f"{V}/vobjects/{{object_name}}"): "update_object_records",
    ("DELETE", f"{V}/vobjects/{{object_name}}"): "delete_object_records",
    ("GET", f"{V}/vobjects/{{object_name}}/{{record_id}}"): "retrieve_object_record",
    ("GET", f"{V}/objects/deletions/vobjects/{{object_name}}"): "retrieve_deleted_object_record_ids",
}

#: Every operation name, for validating fault rules.
OPERATION_NAMES = frozenset(OPERATIONS.values())

_CONVERTER = re.compile(r"\{(\w+):\w+\}")


def template_of(path: str) -> str:
    """A route path as its template: ``{version:api_version}`` → ``{version}``, ``{item:path}`` → ``{item}``."""
    return _CONVERTER.sub(r"{\1}", path)


def operation_of(method: str, template: str) -> str | None:
    return OPERATIONS.get(("GET" if method == "HEAD" else method, template))


@dataclass(frozen=True)
class ResolvedRoute:
    """The route a request goes to: its template, operation name and path parameters."""

    template: str
    operation: str | None
    path_params: dict[str, Any]


def resolve(routes: Sequence[BaseRoute], scope: Scope) -> ResolvedRoute | None:
    """The route (through mounts) whose path and method match ``scope``; None for an unknown path
    or a method no route at that path takes."""
    return _resolve(routes, scope, "")


def _resolve(routes: Sequence[BaseRoute], scope: Scope, prefix: str) -> ResolvedRoute | None:
    for route in routes:
        match, child = route.matches(scope)
        if match == Match.FULL and isinstance(route, Route):
            template = template_of(prefix + route.path)
            params = {**scope.get("path_params", {}), **child.get("path_params", {})}
            return ResolvedRoute(template, operation_of(scope["method"], template), params)
        if match != Match.NONE and isinstance(route, Mount):
            found = _resolve(route.routes, {**scope, **child}, prefix + route.path)
            if found is not None:
                return found
    return None
