"""The package endpoints (Configuration Migration) and the record attachments that serve their logs.

Paths mix ``vobjects`` and ``vobject`` and ``services/vobject`` exactly as Vault's do; the inbound
validate path also answers under ``vault_package_v`` (one underscore), which older Vault API
libraries call. Choices where Vault is silent [U], documented in docs/packages.md: every package
endpoint is for vault admins; Import Package answers synchronously (Vault's old ``vaultPackage``
reply) below API v21.1 and with a job from v21.1; deploying a package that is blocked, deployed or
being deployed is ``OPERATION_NOT_ALLOWED``; an unknown package is ``INVALID_DATA``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio.from_thread
from starlette.responses import Response
from starlette.routing import Route

from vaultjobs import errors
from vaultjobs.api.endpoint import Call, read_body
from vaultjobs.api.params import parse_id
from vaultjobs.api.routes import jobs_of
from vaultjobs.api.routes.content_api import read_upload
from vaultjobs.api.services import Services
from vaultjobs.api.versions import VERSION_PATTERN
from vaultjobs.jobs import JobRequest
from vaultjobs.jobtypes.objects.access import require_admin
from vaultjobs.jobtypes.packages import deploy, import_job, payloads
from vaultjobs.jobtypes.packages.checks import LABELS
from vaultjobs.jobtypes.packages.inbound import PACKAGE
from vaultjobs.jobtypes.packages.service import MAX_PACKAGE_BYTES, PackageService
from vaultjobs.objects.mdl import render_object, render_picklist
from vaultjobs.store.object_files import ATTACHMENT, DATA_LOG, StoredFile

RouteFactory = Callable[..., Route]
#: The first API version whose Import Package answers with a job [U: the switch is undocumented].
ASYNC_IMPORT_VERSION = (21, 1)


def read_package_file(call: Call) -> tuple[bytes, str]:
    """The .vpk of a request: multipart field ``file``, or the whole body (as older tools send it)."""
    content_type = call.request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    filename = "package.vpk"
    if content_type == "multipart/form-data":
        upload = read_upload(call, MAX_PACKAGE_BYTES + 1024 * 1024)
        try:
            if upload.file is None:
                raise errors.ParameterRequired.named("file")
            data = upload.file.file.read(MAX_PACKAGE_BYTES + 1)
            filename = upload.file.filename or filename
        finally:
            upload.close()
    else:
        data = anyio.from_thread.run(read_body, call.request, MAX_PACKAGE_BYTES)
    if len(data) > MAX_PACKAGE_BYTES:
        raise errors.InvalidData(f"Packages up to {MAX_PACKAGE_BYTES} bytes can be imported")
    if not data:
        raise errors.ParameterRequired.named("file")
    return data, filename.rsplit("/", 1)[-1][:200]


def _base(call: Call) -> str:
    return str(call.request.base_url).rstrip("/")


def _version_tuple(version: str) -> tuple[int, int]:
    match = VERSION_PATTERN.match(version)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


class PackageRoutes:
    def __init__(self, services: Services) -> None:
        self.s = services
        self.service = PackageService(services.store, services.clock)
        self.jobs = jobs_of(services)

    def import_package(self, call: Call) -> dict[str, Any]:
        user = call.require_user()
        require_admin(user, "import packages")
        data, filename = read_package_file(call)
        package_id, check = self.service.start(data, filename, user.id)
        if _version_tuple(call.version) < ASYNC_IMPORT_VERSION:
            imported = self.service.import_kept(package_id, user.id)
            if imported.problem is not None:
                raise errors.InvalidData(imported.problem)
            package = imported.package
            return {"vaultPackage": {
                "id": package.id, "name": package.name, "status": package.status,
                "components": [{"name": s.record.values.get("step_name__v"), "type": s.record.values.get("type__v"),
                                "step": s.number, "status": s.status} for s in package.steps],
                "renamed": package.name != check.package.manifest.name, "oldName": check.package.manifest.name,
            }}
        job = self.jobs.enqueue(user, JobRequest(
            processor=import_job.PROCESSOR, parameters={"package": package_id, "filename": filename},
            title=f"Import package {check.package.manifest.name}"[:255], method="PUT",
        ))
        return {"url": f"/api/{call.version}/services/jobs/{job.id}", "job_id": job.id}

    def validate(self, call: Call) -> dict[str, Any]:
        user = call.require_user()
        require_admin(user, "validate packages")
        data, _ = read_package_file(call)
        started = self.s.clock.now()
        check = self.service.check(data)
        name = self.service.inbound.unused_name(check.package.manifest.name)
        return payloads.validate_response(check, name=name, started=started, ended=self.s.clock.now())

    def validate_inbound(self, call: Call) -> dict[str, Any]:
        user = call.require_user()
        require_admin(user, "validate packages")
        started = self.s.clock.now()
        package, check = self.service.check_inbound(call.path_params["package_id"])
        return payloads.validate_response(check, name=package.name, package_id=package.id, started=started,
                                          ended=self.s.clock.now(),
                                          step_ids={s.number: s.record.id for s in package.steps})

    def deploy(self, call: Call) -> dict[str, Any]:
        user = call.require_user()
        require_admin(user, "deploy packages")
        package = self.service.require(call.path_params["package_id"])
        if package.status not in deploy.DEPLOYABLE:
            raise errors.OperationNotAllowed(
                f"Package [{package.id}] is {LABELS.get(package.status, package.status)} and cannot be deployed"
            )
        for job_id in self.s.store.objects.active_jobs(deploy.PROCESSOR):
            active = self.s.store.jobs.get_job(job_id)
            if active is not None and active.parameters.get("package") == package.id:
                raise errors.OperationNotAllowed(f"Package [{package.id}] is being deployed by job [{job_id}]")
        job = self.jobs.enqueue(user, JobRequest(
            processor=deploy.PROCESSOR, parameters={"package": package.id},
            title=f"Deploy package {package.name}"[:255],
        ))
        now = self.s.clock.now()
        queued = self.service.inbound.changed(package.record, {"deployment_status__v": ("queued__v",)}, user.id, now)
        self.s.store.object_files.commit(replaces=[queued], by=user.id, now=now)
        return {"url": f"/api/{call.version}/services/jobs/{job.id}", "job_id": job.id}

    def import_results(self, call: Call) -> dict[str, Any]:
        require_admin(call.require_user(), "read package results")
        package = self.service.require(call.path_params["package_id"])
        return payloads.import_results(package, self.service.inbound.logs(package.id), base=_base(call),
                                       version=call.version)

    def deploy_results(self, call: Call) -> dict[str, Any]:
        require_admin(call.require_user(), "read package results")
        package = self.service.require(call.path_params["package_id"])
        base, version = _base(call), call.version

        def data_log_url(f: StoredFile) -> str:
            return f"{base}/api/{version}/services/package/actions/deploy/data_results/{f.id}/{f.filename}"

        files = self.s.store.object_files
        return payloads.deploy_results(package, files.list(package.id, ATTACHMENT), files.list(package.id, DATA_LOG),
                                       base=base, version=version, data_log_url=data_log_url)

    def data_results(self, call: Call) -> Response:
        require_admin(call.require_user(), "read package results")
        found = self._file(call.path_params["file_id"], DATA_LOG)
        if found.filename != call.path_params["filename"]:
            raise errors.InvalidData(f"The file [{call.path_params['filename'][:200]}] does not exist")
        return self._download(found)

    # -- record attachments ---------------------------------------------------------------------

    def attachments(self, call: Call) -> dict[str, Any]:
        call.require_user()
        record_id = self._record(call)
        base = _base(call)
        return {"data": [{
            "id": f.id, "filename__v": f.filename, "format__v": f.media_type, "size__v": f.size,
            "md5checksum__v": f.md5, "version__v": 1, "created_by__v": f.created_by,
            "created_date__v": payloads.log_date(f.created_at),
            "versions": [{"version__v": 1, "url": f"{base}/api/{call.version}/vobjects/"
                          f"{call.path_params['object_name']}/{record_id}/attachments/{f.id}/versions/1"}],
        } for f in self.s.store.object_files.list(record_id, ATTACHMENT)]}

    def attachment_file(self, call: Call) -> Response:
        call.require_user()
        record_id = self._record(call)
        found = self._file(call.path_params["attachment_id"], ATTACHMENT)
        if found.record_id != record_id or call.path_params.get("attachment_version", "1") != "1":
            raise errors.InvalidData(f"The attachment [{call.path_params['attachment_id'][:40]}] does not exist")
        return self._download(found)

    def _record(self, call: Call) -> str:
        object_name, record_id = str(call.path_params["object_name"]), str(call.path_params["record_id"])
        catalog = self.service.catalogs.current()
        if catalog.object(object_name) is None:
            raise errors.InvalidData(f"Object [{object_name[:100]}] not found")
        found = self.service.records.load(catalog, [record_id]).get(record_id) if len(record_id) == 15 else None
        if found is None or found.object != object_name:
            raise errors.InvalidData(f"The resource [{record_id[:40]}] does not exist")
        return record_id

    def _file(self, raw_id: str, kind: str) -> StoredFile:
        file_id = parse_id(raw_id)
        found = self.s.store.object_files.get(file_id)
        if found is None or found.kind != kind:
            raise errors.InvalidData(f"The file [{raw_id[:40]}] does not exist")
        return found

    def _download(self, found: StoredFile) -> Response:
        body = self.s.store.object_files.body(found.id) or b""
        return Response(body, media_type=found.media_type,
                        headers={"Content-Disposition": f'attachment;filename="{found.filename}"'})

    # -- MDL components -----------------------------------------------------------------------------

    def mdl_component(self, call: Call) -> Response:
        """Retrieve Component Record (MDL): the ``RECREATE`` statement of an object or picklist."""
        call.require_user()
        kind, _, name = call.path_params["component"].partition(".")
        catalog = self.service.catalogs.current()
        if kind == "Object" and (definition := catalog.object(name)) is not None:
            text = render_object(definition)
        elif kind == "Picklist" and (picklist := catalog.picklist(name)) is not None:
            text = render_picklist(picklist)
        else:
            raise errors.InvalidData(f"Component [{call.path_params['component'][:200]}] not found")
        return Response(text, media_type="text/plain;charset=UTF-8")


def package_routes(route: RouteFactory, v: str, services: Services) -> list[Route]:
    """Routes made with the application's ``route``: ``v`` is ``/api/{version:api_version}``."""
    r = PackageRoutes(services)
    p = f"{v}/vobject/{PACKAGE}/{{package_id}}/actions"
    attachment = f"{v}/vobjects/{{object_name}}/{{record_id}}/attachments"
    table: list[tuple[str, str, Any, str | None]] = [
        (f"{v}/services/package", "PUT", r.import_package, None),
        (f"{v}/services/package/actions/validate", "POST", r.validate, None),
        (f"{v}/services/package/actions/deploy/data_results/{{file_id}}/{{filename}}", "GET", r.data_results, None),
        (f"{v}/services/vobject/{PACKAGE}/{{package_id}}/actions/validate", "POST", r.validate_inbound, None),
        (f"{v}/services/vobject/vault_package_v/{{package_id}}/actions/validate", "POST", r.validate_inbound, None),
        (f"{p}/deploy", "POST", r.deploy, None),
        (f"{p}/import/results", "GET", r.import_results, None),
        (f"{p}/deploy/results", "GET", r.deploy_results, None),
        (attachment, "GET", r.attachments, None),
        (f"{attachment}/{{attachment_id}}/versions/{{attachment_version}}/file", "GET", r.attachment_file, None),
        ("/api/mdl/components/{component}", "GET", r.mdl_component, None),
    ]
    return [route(path, method, handler, body=body) for path, method, handler, body in table]
