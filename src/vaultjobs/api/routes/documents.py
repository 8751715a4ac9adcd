"""Vault's document endpoints on the embedded repository, and the Export Documents job.

Documents: create with a file (multipart), create a version, retrieve a document, its versions or
one version, download a version's file, upload and download renditions, assign users to roles.
Export Documents: ``…/batch/actions/fileextract`` (latest or all versions of documents) and
``…/versions/batch/actions/fileextract`` (named versions) start the ``export_documents`` job; its
start response carries ``job_id`` **as a string**, as Vault's does; the results endpoint lists one
entry per exported version with its ``file`` path in the caller's file staging.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO
from urllib.parse import quote

import orjson
from starlette.responses import FileResponse, Response, StreamingResponse

from vaultjobs import errors
from vaultjobs.api.endpoint import Call
from vaultjobs.api.routes import result_links
from vaultjobs.api.routes.content_api import (
    FIELD_NAME,
    MAX_DOCUMENT_BYTES,
    ContentRoutes,
    FieldValues,
    field_values,
    parse_bool,
    parse_document_id,
    parse_number,
    read_upload,
)
from vaultjobs.api.routes.content_api import content_error as to_vault_error
from vaultjobs.content.files import CHUNK, FileTooLarge
from vaultjobs.content.models import Document, Rendition, StoredFile, Version
from vaultjobs.content.repository import ContentError
from vaultjobs.models import Job, User
from vaultjobs.timeutil import render_datetime

EXPORT_DOCUMENTS = "export_documents"
MAX_EXPORT_ITEMS = 10_000
REQUIRED_FIELDS = ("name__v", "type__v", "lifecycle__v")
WRITE_ROLES = ("owner__v", "editor__v")


def _export_links(job: Job, version: str) -> list[dict[str, str]]:
    return [
        result_links.link(
            "artifacts", f"/api/{version}/objects/documents/batch/actions/fileextract/{job.id}/results"
        )
    ]


result_links.register(EXPORT_DOCUMENTS, _export_links)


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    """The stream's bytes a chunk at a time (Starlette runs this iterator in a thread), then closed."""
    with stream:
        while chunk := stream.read(CHUNK):
            yield chunk


def content_disposition(filename: str) -> str:
    """``attachment`` with the file name, as Starlette's FileResponse writes it."""
    quoted = quote(filename)
    if quoted != filename:
        return f"attachment; filename*=utf-8''{quoted}"
    return f'attachment; filename="{filename}"'


def document_payload(doc: Document, version: Version, latest: bool) -> dict[str, Any]:
    """Vault's ``document`` object: the version's field values plus the system fields."""
    data: dict[str, Any] = {"id": doc.id, **version.fields}
    data.update(
        {
            "binder__v": doc.binder,
            "major_version_number__v": version.major,
            "minor_version_number__v": version.minor,
            "latest_version__v": latest,
            "created_by__v": doc.created_by,
            "document_creation_date__v": render_datetime(doc.created_at),
            "version_created_by__v": version.created_by,
            "version_creation_date__v": render_datetime(version.created_at),
        }
    )
    if version.file is not None:
        data["filename__v"] = version.file.filename
    for role, users in sorted(doc.roles.items()):
        data[role] = {"groups": [], "users": users}
    data.setdefault("owner__v", {"groups": [], "users": [doc.created_by]})
    return data


def writable_by(doc: Document, user: User) -> bool:
    if user.is_admin or user.id == doc.created_by:
        return True
    return any(user.id in doc.roles.get(role, ()) for role in WRITE_ROLES)


class DocumentRoutes(ContentRoutes):
    # -- helpers ---------------------------------------------------------------------------

    def _base(self, call: Call) -> str:
        return str(call.request.base_url).rstrip("/") + f"/api/{call.version}"

    def _readable(self, call: Call, *, binder: bool | None = False) -> tuple[Document, User]:
        user = call.require_user()
        doc_id = parse_document_id(call.path_params["doc_id"], "doc_id")
        try:
            return self.repo.document(doc_id, user.id, user.is_admin, binder=binder), user
        except ContentError as exc:
            raise to_vault_error(exc) from exc

    def _version(self, call: Call, doc: Document) -> Version:
        major = call.path_params.get("major")
        minor = call.path_params.get("minor")
        try:
            if major is None or minor is None:
                return self.repo.version(doc.id, None, None)
            return self.repo.version(
                doc.id, parse_number(major, "major_version"), parse_number(minor, "minor_version")
            )
        except ContentError as exc:
            raise to_vault_error(exc) from exc

    def _versions_list(self, call: Call, doc: Document, kind: str = "documents") -> list[dict[str, str]]:
        base = self._base(call)
        return [
            {"number": v.number, "value": f"{base}/objects/{kind}/{doc.id}/versions/{v.major}/{v.minor}"}
            for v in self.repo.store.content.versions(doc.id)
        ]

    def _renditions_map(self, call: Call, doc: Document, version: Version, latest: bool) -> dict[str, str]:
        base = f"{self._base(call)}/objects/documents/{doc.id}"
        if not latest:
            base += f"/versions/{version.major}/{version.minor}"
        return {
            r.rendition_type: f"{base}/renditions/{r.rendition_type}"
            for r in self.repo.store.content.renditions(doc.id, version.major, version.minor)
        }

    def _save_upload_file(self, upload_file: Any) -> StoredFile:
        try:
            return self.repo.save_file(
                upload_file.file, upload_file.filename or "file", upload_file.content_type, MAX_DOCUMENT_BYTES
            )
        except FileTooLarge as exc:
            raise errors.InvalidData(f"The file is larger than {MAX_DOCUMENT_BYTES} bytes") from exc

    def _check_roles(self, roles: dict[str, list[int]]) -> None:
        for role, users in roles.items():
            for user_id in users:
                if self.s.store.users.get_user(user_id) is None:
                    raise errors.InvalidData(f"Invalid value for [{role}.users]: user [{user_id}] does not exist")

    # -- create and version ----------------------------------------------------------------

    def create(self, call: Call) -> dict[str, Any]:
        """Create Single Document: fields plus an optional ``file`` (no file makes a placeholder)."""
        user = call.require_user()
        upload = read_upload(call, MAX_DOCUMENT_BYTES + 1024 * 1024)
        try:
            values = field_values(upload.fields)
            for name in REQUIRED_FIELDS:
                if not str(values.fields.get(name, "")).strip():
                    raise errors.ParameterRequired.named(name)
            values.fields.setdefault("status__v", "Draft")
            self._check_roles(values.roles)
            stored = None if upload.file is None else self._save_upload_file(upload.file)
        finally:
            upload.close()
        major, minor = values.number or (0, 1)
        doc_id = self.repo.store.content.create_document(
            binder=False, fields=values.fields, file=stored, major=major, minor=minor, roles=values.roles,
            created_by=user.id, now=self.s.clock.now(),
        )
        return {"responseMessage": "successfully created document", "id": doc_id}

    def create_version(self, call: Call) -> dict[str, Any]:
        """Create Single Document Version: ``createDraft`` = ``uploadedContent`` (with ``file``) or
        ``latestContent`` (the latest version's file); other fields update the new version."""
        doc, user = self._readable(call)
        if not writable_by(doc, user):
            raise errors.InsufficientAccess(f"You do not have permission to edit document [{doc.id}]")
        upload = read_upload(call, MAX_DOCUMENT_BYTES + 1024 * 1024)
        try:
            mode = upload.fields.get("createDraft")
            if mode is None:
                raise errors.ParameterRequired.named("createDraft")
            if mode not in ("uploadedContent", "latestContent"):
                raise errors.InvalidData("Invalid value for [createDraft]: uploadedContent or latestContent")
            if mode == "uploadedContent" and upload.file is None:
                raise errors.ParameterRequired.named("file")
            values: FieldValues = field_values(upload.fields, extra=frozenset({"createDraft"}))
            if values.roles:
                raise errors.InvalidData("Roles are assigned with POST …/objects/documents/{doc_id}/roles")
            stored = self._save_upload_file(upload.file) if mode == "uploadedContent" else None
        finally:
            upload.close()
        created = self.repo.store.content.add_version(
            doc.id, updates=values.fields, file=stored, keep_file=mode == "latestContent", number=values.number,
            created_by=user.id, now=self.s.clock.now(),
        )
        if created is None:
            raise errors.InvalidData(
                "Invalid value for [major_version_number__v]: the version must come after the latest version"
            )
        return {
            "responseMessage": "New draft successfully created",
            "major_version_number__v": created.major,
            "minor_version_number__v": created.minor,
        }

    # -- retrieve --------------------------------------------------------------------------

    def retrieve(self, call: Call) -> dict[str, Any]:
        doc, _ = self._readable(call, binder=None)
        version = self._version(call, doc)
        return {
            "document": document_payload(doc, version, latest=True),
            "versions": self._versions_list(call, doc),
            "renditions": self._renditions_map(call, doc, version, latest=True),
        }

    def versions(self, call: Call) -> dict[str, Any]:
        doc, _ = self._readable(call, binder=None)
        latest = self._version(call, doc)
        return {
            "versions": self._versions_list(call, doc),
            "renditions": self._renditions_map(call, doc, latest, latest=True),
        }

    def retrieve_version(self, call: Call) -> dict[str, Any]:
        doc, _ = self._readable(call, binder=None)
        version = self._version(call, doc)
        latest = self.repo.version(doc.id, None, None)
        is_latest = (latest.major, latest.minor) == (version.major, version.minor)
        return {
            "document": document_payload(doc, version, latest=is_latest),
            "versions": self._versions_list(call, doc),
            "renditions": self._renditions_map(call, doc, version, latest=False),
        }

    # -- files -----------------------------------------------------------------------------

    def _file_response(self, stored: StoredFile) -> Response:
        """The file as an attachment: sent by the kernel from local disk, or streamed from the blob store."""
        media_type = "application/octet-stream;charset=UTF-8"
        if not self.repo.files.exists(stored.sha256):
            # A cluster whose nodes keep document files in their own folders (content_blobs=local).
            raise errors.InvalidData(
                f"The file [{stored.filename}] is not stored on this server; on a cluster, document files must be"
                " kept in PostgreSQL (content_blobs=auto)"
            )
        local = self.repo.local_file(stored)
        if local is not None:
            return FileResponse(local, media_type=media_type, filename=stored.filename,
                                content_disposition_type="attachment")
        return StreamingResponse(
            _chunks(self.repo.open_file(stored)),
            media_type=media_type,
            headers={"Content-Disposition": content_disposition(stored.filename), "Content-Length": str(stored.size)},
        )

    def download(self, call: Call) -> Response:
        """Download Document File (latest) or Download Document Version File."""
        doc, _ = self._readable(call)
        version = self._version(call, doc)
        if version.file is None:
            raise errors.InvalidData(f"Version [{version.number}] of document [{doc.id}] has no source file")
        return self._file_response(version.file)

    def _rendition_type(self, call: Call) -> str:
        name = str(call.path_params["rendition_type"])
        if not FIELD_NAME.match(name):
            raise errors.InvalidData(f"Invalid value for [rendition_type]: [{name[:100]}]")
        return name

    def upload_rendition(self, call: Call) -> dict[str, Any]:
        """Upload Document Rendition (latest version) or Upload Document Version Rendition."""
        doc, user = self._readable(call)
        if not writable_by(doc, user):
            raise errors.InsufficientAccess(f"You do not have permission to edit document [{doc.id}]")
        rendition_type = self._rendition_type(call)
        version = self._version(call, doc)
        upload = read_upload(call, MAX_DOCUMENT_BYTES + 1024 * 1024)
        try:
            if upload.file is None:
                raise errors.ParameterRequired.named("file")
            stored = self._save_upload_file(upload.file)
        finally:
            upload.close()
        self.repo.store.content.put_rendition(
            doc.id, version.major, version.minor, Rendition(rendition_type=rendition_type, file=stored),
            self.s.clock.now(),
        )
        return {}

    def download_rendition(self, call: Call) -> Response:
        doc, _ = self._readable(call)
        rendition_type = self._rendition_type(call)
        version = self._version(call, doc)
        for rendition in self.repo.store.content.renditions(doc.id, version.major, version.minor):
            if rendition.rendition_type == rendition_type:
                return self._file_response(rendition.file)
        raise errors.InvalidData(
            f"Version [{version.number}] of document [{doc.id}] has no rendition [{rendition_type}]"
        )

    def assign_roles(self, call: Call) -> dict[str, Any]:
        """Assign Users to Roles on a Single Document: form fields ``{role}.users`` = comma-separated ids."""
        doc, user = self._readable(call, binder=None)
        if not writable_by(doc, user):
            raise errors.InsufficientAccess(f"You do not have permission to change roles on [{doc.id}]")
        upload = read_upload(call, self.s.settings.max_body_bytes)
        upload.close()
        values = field_values(upload.fields)
        if values.fields or values.number or not values.roles:
            raise errors.InvalidData("Send one or more [{role}.users] fields, e.g. viewer__v.users=12,14")
        self._check_roles(values.roles)
        roles = {k: list(v) for k, v in doc.roles.items()}
        for role, users in values.roles.items():
            roles[role] = sorted(set(roles.get(role, [])) | set(users))
        self.repo.store.content.set_roles(doc.id, roles)
        return {
            "responseMessage": "Document roles updated",
            "updatedRoles": {role: {"users": users} for role, users in sorted(values.roles.items())},
        }

    # -- Export Documents ------------------------------------------------------------------

    def _export_body(self, call: Call, versions: bool) -> list[dict[str, Any]]:
        try:
            body = orjson.loads(call.body) if call.body.strip() else None
        except orjson.JSONDecodeError as exc:
            raise errors.InvalidData(f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(body, list) or not body:
            raise errors.InvalidData('The request body must be a JSON array such as [{"id": "58"}]')
        if len(body) > MAX_EXPORT_ITEMS:
            raise errors.InvalidData(f"At most {MAX_EXPORT_ITEMS} documents can be exported per request")
        items: list[dict[str, Any]] = []
        for entry in body:
            if not isinstance(entry, dict):
                raise errors.InvalidData('Each entry of the request body must be an object such as {"id": "58"}')
            if "id" not in entry:
                raise errors.ParameterRequired.named("id")
            item: dict[str, Any] = {"id": parse_document_id(entry["id"])}
            if versions:
                for key in ("major_version_number__v", "minor_version_number__v"):
                    if key not in entry:
                        raise errors.ParameterRequired.named(key)
                item["major"] = parse_number(entry["major_version_number__v"], "major_version_number__v")
                item["minor"] = parse_number(entry["minor_version_number__v"], "minor_version_number__v")
            items.append(item)
        return items

    def _start_export(self, call: Call, versions: bool) -> dict[str, Any]:
        user = call.require_user()
        source = parse_bool(call.query, "source", True)
        renditions = parse_bool(call.query, "renditions", False)
        allversions = False if versions else parse_bool(call.query, "allversions", False)
        if parse_bool(call.query, "text", False):
            raise errors.InvalidData("Invalid value for parameter [text]: this server does not extract document text")
        if not source and not renditions:
            raise errors.InvalidData("Nothing to export: [source] and [renditions] are both false")
        items = self._export_body(call, versions)
        request_id = self.repo.store.content.save_request(user.id, items, self.s.clock.now())
        job = self.start_job(
            call, user, EXPORT_DOCUMENTS, "Export Documents",
            {
                "request": request_id, "count": len(items), "source": source, "renditions": renditions,
                "allversions": allversions,
            },
        )
        # Vault's quirk, kept: this start response gives job_id as a string.
        return {"url": f"/api/{call.version}/services/jobs/{job.id}", "job_id": str(job.id)}

    def export(self, call: Call) -> dict[str, Any]:
        return self._start_export(call, versions=False)

    def export_versions(self, call: Call) -> dict[str, Any]:
        return self._start_export(call, versions=True)

    def export_results(self, call: Call) -> dict[str, Any]:
        job, _ = self.finished_job(call, frozenset({EXPORT_DOCUMENTS}), "an Export Documents")
        return {"data": self.repo.store.content.results(job.id)}
