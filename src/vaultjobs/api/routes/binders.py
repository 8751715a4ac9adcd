"""Vault's binder endpoints on the embedded repository, and the Binder Export job.

Binders are documents with ``binder__v = true``: create one, add sections and documents to its
latest version, create a new version (which starts as a copy of the structure), retrieve it with
its nodes. Binder Export (and Export Submission, the same request with ``?submission=``) starts the
``binder_export`` job; its start response has Vault's quirks: an upper-case ``URL`` key holding an
absolute URL, ``job_id`` a number, and ``responseMessage``.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import orjson

from vaultjobs import errors
from vaultjobs.api.endpoint import Call
from vaultjobs.api.routes import result_links
from vaultjobs.api.routes.content_api import (
    ContentRoutes,
    field_values,
    parse_bool,
    parse_document_id,
    parse_number,
)
from vaultjobs.api.routes.content_api import content_error as to_vault_error
from vaultjobs.api.routes.documents import REQUIRED_FIELDS, document_payload, writable_by
from vaultjobs.content.files import safe_filename
from vaultjobs.content.models import ROOT_NODE, Document, Version
from vaultjobs.content.repository import ContentError, TreeNode
from vaultjobs.models import Job, User

BINDER_EXPORT = "binder_export"
BINDING_RULES = ("default", "steady-state", "current", "specific")
DOCVERSIONS = ("major", "major_minor")
RENDITION_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,60}__[a-z]{1,4}$")
SUBMISSION_ID = re.compile(r"^[A-Za-z0-9_]{1,40}$")
MAX_NODES = 50_000


def zip_relative_path(job_id: int, binder_id: int, major: int, minor: int, zip_name: str) -> str:
    """Where a binder export's zip goes in its creator's file staging (Vault's layout)."""
    return f"/{job_id}/{binder_id}/{major}_{minor}/{zip_name}"


def _export_links(job: Job, version: str) -> list[dict[str, str]]:
    p = job.parameters
    path = f"/u{job.created_by}" + zip_relative_path(job.id, p["binder_id"], p["major"], p["minor"], p["zip"])
    return [
        result_links.link("artifacts", f"/api/{version}/objects/binders/actions/export/{job.id}/results"),
        *result_links.staged_file_links(version, path),
    ]


result_links.register(BINDER_EXPORT, _export_links)


def node_payload(item: TreeNode, deep: bool) -> dict[str, Any]:
    """Vault's ``{"properties": {…}, "nodes": [...]}`` for one binder node."""
    n = item.node
    props: dict[str, Any]
    if n.kind == "section":
        props = {"section_number__v": n.section_number, "name__v": n.name, "order__v": n.order,
                 "type__v": "section", "id": n.node_id, "parent_id__v": n.parent_id}
    else:
        props = {"document_id__v": n.document_id, "name__v": n.name, "order__v": n.order, "type__v": "document",
                 "id": n.node_id, "parent_id__v": n.parent_id}
        if n.binding_rule == "specific":
            props["major_version_number__v"] = n.doc_major
            props["minor_version_number__v"] = n.doc_minor
    out: dict[str, Any] = {"properties": props}
    if deep and item.children:
        out["nodes"] = [node_payload(child, deep) for child in item.children]
    return out


class BinderRoutes(ContentRoutes):
    def _binder(self, call: Call) -> tuple[Document, User]:
        user = call.require_user()
        binder_id = parse_document_id(call.path_params["binder_id"], "binder_id")
        try:
            return self.repo.document(binder_id, user.id, user.is_admin, binder=True), user
        except ContentError as exc:
            raise to_vault_error(exc) from exc

    def _version(self, call: Call, binder: Document) -> Version:
        major = call.path_params.get("major")
        minor = call.path_params.get("minor")
        try:
            if major is None or minor is None:
                return self.repo.version(binder.id, None, None)
            return self.repo.version(
                binder.id, parse_number(major, "major_version"), parse_number(minor, "minor_version")
            )
        except ContentError as exc:
            raise to_vault_error(exc) from exc

    def _writable(self, call: Call) -> tuple[Document, User, Version]:
        binder, user = self._binder(call)
        if not writable_by(binder, user):
            raise errors.InsufficientAccess(f"You do not have permission to edit binder [{binder.id}]")
        return binder, user, self.repo.version(binder.id, None, None)

    # -- create, version, retrieve ---------------------------------------------------------

    def create(self, call: Call) -> dict[str, Any]:
        """Create Binder (form fields; no file)."""
        user = call.require_user()
        if "fromTemplate" in call.form:
            raise errors.InvalidData("Invalid value for [fromTemplate]: this server has no binder templates")
        values = field_values(call.form)
        for name in REQUIRED_FIELDS:
            if not str(values.fields.get(name, "")).strip():
                raise errors.ParameterRequired.named(name)
        values.fields.setdefault("status__v", "Draft")
        major, minor = values.number or (0, 1)
        binder_id = self.repo.store.content.create_document(
            binder=True, fields=values.fields, file=None, major=major, minor=minor, roles=values.roles,
            created_by=user.id, now=self.s.clock.now(),
        )
        return {"responseMessage": "Successfully created binder.", "id": binder_id}

    def create_version(self, call: Call) -> dict[str, Any]:
        """Create Binder Version: a new draft whose structure starts as a copy of the latest's."""
        binder, user, _ = self._writable(call)
        created = self.repo.store.content.add_version(
            binder.id, updates={}, file=None, keep_file=False, number=None, created_by=user.id,
            now=self.s.clock.now(),
        )
        assert created is not None
        return {
            "responseMessage": "New draft successfully created",
            "major_version_number__v": created.major,
            "minor_version_number__v": created.minor,
        }

    def _versions_list(self, call: Call, binder: Document) -> list[dict[str, str]]:
        base = str(call.request.base_url).rstrip("/") + f"/api/{call.version}/objects/binders/{binder.id}"
        return [
            {"number": v.number, "value": f"{base}/versions/{v.major}/{v.minor}"}
            for v in self.repo.store.content.versions(binder.id)
        ]

    def retrieve(self, call: Call) -> dict[str, Any]:
        """Retrieve Binder / Binder Version; ``depth=all`` for every level of nodes."""
        binder, _ = self._binder(call)
        version = self._version(call, binder)
        depth = call.query.get("depth")
        if depth not in (None, "", "all"):
            raise errors.InvalidData("Invalid value for parameter [depth]: all")
        latest = self.repo.version(binder.id, None, None)
        tree = self.repo.tree(binder.id, version.major, version.minor)
        return {
            "document": document_payload(binder, version, latest=(latest.major, latest.minor) ==
                                         (version.major, version.minor)),
            "versions": self._versions_list(call, binder),
            "binder": {"nodes": [node_payload(item, depth == "all") for item in tree]},
        }

    def versions(self, call: Call) -> dict[str, Any]:
        binder, _ = self._binder(call)
        return {"versions": self._versions_list(call, binder)}

    # -- structure -------------------------------------------------------------------------

    def _parent(self, form: dict[str, str]) -> str:
        parent = (form.get("parent_id__v") or "").strip()
        return parent or ROOT_NODE

    def _order(self, form: dict[str, str]) -> int | None:
        raw = form.get("order__v")
        return None if raw in (None, "") else parse_number(raw, "order__v")

    def _check_size(self, binder_id: int, version: Version) -> None:
        if len(self.repo.store.content.nodes(binder_id, version.major, version.minor)) >= MAX_NODES:
            raise errors.OperationNotAllowed(f"Binder [{binder_id}] has reached its limit of {MAX_NODES} nodes")

    def add_section(self, call: Call) -> dict[str, Any]:
        """Create Binder Section in the latest version: ``name__v``, ``section_number__v``, ``parent_id__v``,
        ``order__v``."""
        binder, _, version = self._writable(call)
        known = {"name__v", "section_number__v", "parent_id__v", "order__v"}
        unknown = sorted(set(call.form) - known)
        if unknown:
            raise errors.InvalidData(f"Unknown field [{unknown[0][:100]}]")
        name = (call.form.get("name__v") or "").strip()
        if not name:
            raise errors.ParameterRequired.named("name__v")
        if len(name) > 255 or safe_filename(name, "") != name:
            raise errors.InvalidData("Invalid value for [name__v]: up to 255 characters, no slashes")
        number = (call.form.get("section_number__v") or "").strip() or None
        self._check_size(binder.id, version)
        node = self.repo.store.content.add_node(
            binder.id, version.major, version.minor, parent_id=self._parent(call.form), kind="section", name=name,
            order=self._order(call.form), now=self.s.clock.now(), section_number=number,
        )
        if node is None:
            raise errors.InvalidData(f"Invalid value for [parent_id__v]: no section [{self._parent(call.form)}]")
        return {"id": node.node_id}

    def add_document(self, call: Call) -> dict[str, Any]:
        """Add Document to Binder: ``document_id__v``, ``parent_id__v``, ``order__v``, ``binding_rule__v``
        (with ``major_version_number__v``/``minor_version_number__v`` for ``specific``)."""
        binder, user, version = self._writable(call)
        form = call.form
        known = {"document_id__v", "parent_id__v", "order__v", "binding_rule__v", "section_id__v",
                 "major_version_number__v", "minor_version_number__v"}
        unknown = sorted(set(form) - known)
        if unknown:
            raise errors.InvalidData(f"Unknown field [{unknown[0][:100]}]")
        if not form.get("document_id__v"):
            raise errors.ParameterRequired.named("document_id__v")
        doc_id = parse_document_id(form["document_id__v"], "document_id__v")
        try:
            self.repo.document(doc_id, user.id, user.is_admin, binder=False)
        except ContentError as exc:
            raise to_vault_error(exc) from exc
        rule = form.get("binding_rule__v") or "default"
        if rule not in BINDING_RULES:
            raise errors.InvalidData(f"Invalid value for [binding_rule__v]: one of {', '.join(BINDING_RULES)}")
        doc_major = doc_minor = None
        if rule == "specific":
            for key in ("major_version_number__v", "minor_version_number__v"):
                if not form.get(key):
                    raise errors.ParameterRequired.named(key)
            doc_major = parse_number(form["major_version_number__v"], "major_version_number__v")
            doc_minor = parse_number(form["minor_version_number__v"], "minor_version_number__v")
            if self.repo.store.content.version(doc_id, doc_major, doc_minor) is None:
                raise errors.InvalidData(f"Version [{doc_major}.{doc_minor}] of document [{doc_id}] does not exist")
        latest = self.repo.version(doc_id, None, None)
        self._check_size(binder.id, version)
        node = self.repo.store.content.add_node(
            binder.id, version.major, version.minor, parent_id=self._parent(form), kind="document",
            name=latest.name, order=self._order(form), now=self.s.clock.now(), document_id=doc_id,
            binding_rule=rule, doc_major=doc_major, doc_minor=doc_minor,
        )
        if node is None:
            raise errors.InvalidData(f"Invalid value for [parent_id__v]: no section [{self._parent(form)}]")
        return {"id": node.node_id}

    # -- Binder Export / Export Submission -------------------------------------------------

    @staticmethod
    def _node_subset(call: Call) -> list[str] | None:
        """Node ids of an Export Binder Sections body (JSON ``[{"id": …}]`` or CSV with ``id``), if any."""
        body = call.body
        if not body.strip():
            return None
        content_type = call.request.headers.get("content-type", "").lower()
        ids: list[str] = []
        if "csv" in content_type:
            try:
                rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
            except (UnicodeDecodeError, csv.Error) as exc:
                raise errors.InvalidData(f"The request body is not valid CSV: {exc}") from exc
            if rows and "id" not in rows[0]:
                raise errors.InvalidData("The CSV body needs an [id] column")
            ids = [str(r.get("id") or "").strip() for r in rows]
        else:
            try:
                value = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise errors.InvalidData(f"The request body is not valid JSON: {exc}") from exc
            if not isinstance(value, list) or not all(isinstance(v, dict) and "id" in v for v in value):
                raise errors.InvalidData('The request body must be a JSON array such as [{"id": "1415381339215"}]')
            ids = [str(v["id"]).strip() for v in value]
        ids = [i for i in ids if i]
        if not ids:
            raise errors.InvalidData("The request body names no binder nodes")
        if len(ids) > MAX_NODES:
            raise errors.InvalidData(f"At most {MAX_NODES} nodes can be named")
        return ids

    def export(self, call: Call) -> dict[str, Any]:
        """Export Binder (latest or a version), Export Binder Sections (a body of node ids) and Export
        Submission (``?submission=``): a zip of the structure with the documents' files."""
        binder, user = self._binder(call)
        version = self._version(call, binder)
        q = call.query
        source = parse_bool(q, "source", True)
        rendition_type = q.get("renditiontype") or None
        if rendition_type is not None and not RENDITION_TYPE.match(rendition_type):
            raise errors.InvalidData(f"Invalid value for parameter [renditiontype]: [{rendition_type[:100]}]")
        docversion = q.get("docversion") or None
        if docversion is not None and docversion not in DOCVERSIONS:
            raise errors.InvalidData("Invalid value for parameter [docversion]: major or major_minor")
        attachments = q.get("attachments") or None
        if attachments is not None and attachments not in ("all", "latest"):
            raise errors.InvalidData("Invalid value for parameter [attachments]: all or latest")
        submission_id = q.get("submission")
        if submission_id is not None:
            if not SUBMISSION_ID.match(submission_id):
                raise errors.InvalidData(f"Invalid value for parameter [submission]: [{submission_id[:100]}]")
            submission = self.repo.store.content.get_submission(submission_id)
            if submission is None or submission.binder_id != binder.id or submission.section_id is None:
                raise errors.InvalidData(f"Submission [{submission_id}] was not imported into binder [{binder.id}]")
        docfield = parse_bool(q, "docfield", submission_id is None)
        if not source and rendition_type is None and not docfield:
            raise errors.InvalidData("Nothing to export: source=false, no renditiontype and docfield=false")
        nodes = self._node_subset(call)
        request_id = None
        if nodes is not None:
            request_id = self.repo.store.content.save_request(user.id, nodes, self.s.clock.now())
        zip_name = safe_filename(f"{version.name}.zip", default=f"binder-{binder.id}.zip")
        job = self.start_job(
            call, user, BINDER_EXPORT, "Export Submission" if submission_id else "Binder Export",
            {
                "binder_id": binder.id, "major": version.major, "minor": version.minor, "source": source,
                "renditiontype": rendition_type, "docversion": docversion, "docfield": docfield,
                "submission": submission_id, "nodes": request_id, "zip": zip_name,
            },
        )
        absolute = str(call.request.base_url).rstrip("/") + f"/api/{call.version}/services/jobs/{job.id}"
        # Vault's quirks, kept: upper-case URL, absolute, job_id a number.
        return {"responseMessage": "Job for Binder Export Started", "URL": absolute, "job_id": job.id}

    def export_results(self, call: Call) -> dict[str, Any]:
        """Retrieve Binder Export Results: one flat object (no ``data``), as Vault answers."""
        job, _ = self.finished_job(call, frozenset({BINDER_EXPORT}), "a Binder Export")
        rows = self.repo.store.content.results(job.id)
        summary = next((r for r in rows if r.get("kind") == "binder"), None)
        if summary is None:
            raise errors.InvalidData(f"Job [{job.id}] ended {job.status.value} without exporting its binder")
        out = {k: v for k, v in summary.items() if k != "kind"}
        failures = [e for r in rows if r.get("kind") == "document" and r["responseStatus"] != "SUCCESS"
                    for e in r["errors"]]
        if failures:
            # Documents left out of the zip; ``warnings`` as Vault names non-fatal problems of a SUCCESS.
            out["warnings"] = failures
        return out
