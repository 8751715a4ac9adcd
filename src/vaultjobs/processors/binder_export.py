"""Vault's Binder Export (and Export Submission) job: a zip of a binder's structure and its files.

``init`` walks the binder version's tree (all of it, the nodes a request named, or the section of
one imported submission) and makes one item per document node. Tasks check each document (it
exists, the caller may read it, its bound version or the versions ``docversion`` asks for, the
rendition ``renditiontype`` asks for) and record what goes into the zip under which name. ``complete``
writes the zip in one pass into the caller's file staging, atomically, at Vault's path
``/{job_id}/{binder_id}/{major}_{minor}/{binder name}.zip``.

Zip layout: one folder per section (``{section_number} {name}``, or the name alone), each document's
source file under its own name, a rendition as ``{source file stem}.{rendition_type}{ext}``, several versions of
a document as ``{stem}_v{major}_{minor}{ext}``, and ``metadata.csv`` (the documents' fields) at the
top unless ``docfield=false``. Files are stored, not deflated: documents are mostly compressed
formats already, and a stored zip is written at disk speed.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from pathlib import PurePosixPath
from typing import Any

from vaultjobs.content.files import safe_filename
from vaultjobs.content.models import BinderNode, Version
from vaultjobs.content.repository import ContentError, ContentRepository, TreeNode, section_folder, walk
from vaultjobs.sdk import JobContext, JobResult, Task, processor

TARGET_TASKS = 100
METADATA_FIELDS = ("name__v", "type__v", "subtype__v", "lifecycle__v", "status__v", "title__v")


def _repo(ctx: JobContext) -> ContentRepository:
    if ctx.content is None or ctx.files is None:
        raise RuntimeError("this node's store has no content repository")
    return ctx.content


def _select(tree: list[TreeNode], wanted: set[str]) -> list[TreeNode]:
    """The named nodes with everything under named sections, keeping the sections above them."""
    out: list[TreeNode] = []
    for item in tree:
        if item.node.node_id in wanted:
            out.append(item)
        elif item.children:
            kept = _select(item.children, wanted)
            if kept:
                out.append(TreeNode(item.node, kept))
    return out


def _find(tree: list[TreeNode], node_id: str) -> TreeNode | None:
    for item in tree:
        if item.node.node_id == node_id:
            return item
        found = _find(item.children, node_id)
        if found is not None:
            return found
    return None


def _with_suffix(name: str, suffix: str) -> str:
    path = PurePosixPath(name)
    return f"{path.stem}{suffix}{path.suffix}"


@processor("binder_export", chunk_size=10, idempotent=True, timeout="4h", admin_cancellable=True)
class BinderExport:
    """Binder Export: zips a binder's sections and documents' files into file staging."""

    def _tree(self, ctx: JobContext) -> list[TreeNode]:
        repo = _repo(ctx)
        p = ctx.parameters
        tree = repo.tree(int(p["binder_id"]), int(p["major"]), int(p["minor"]))
        if p.get("submission"):
            submission = repo.store.content.get_submission(str(p["submission"]))
            found = None if submission is None or submission.section_id is None else _find(tree, submission.section_id)
            if found is None:
                raise RuntimeError(f"submission [{p['submission']}] is no longer in binder [{p['binder_id']}]")
            tree = [found]
        if p.get("nodes") is not None:
            wanted = repo.store.content.request(int(p["nodes"])) or []
            tree = _select(tree, {str(n) for n in wanted})
        return tree

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        p = ctx.parameters
        nodes = walk(self._tree(ctx))
        documents = [(path, node) for path, node in nodes if node.kind == "document"]
        sections = sum(1 for _, node in nodes if node.kind == "section")
        what = f"submission {p['submission']} of " if p.get("submission") else ""
        ctx.log(
            f"export of {what}binder {p['binder_id']} version {p['major']}.{p['minor']}: {sections} sections, "
            f"{len(documents)} documents (source={p['source']}, renditiontype={p['renditiontype']}, "
            f"docversion={p['docversion'] or 'binding rule'}, docfield={p['docfield']})"
        )
        ctx.chunk_size = min(500, max(1, math.ceil(len(documents) / TARGET_TASKS)))
        return [
            {"n": n, "path": list(path), "node": node.node_id, "document_id": node.document_id,
             "rule": node.binding_rule, "major": node.doc_major, "minor": node.doc_minor, "name": node.name}
            for n, (path, node) in enumerate(documents, start=1)
        ]

    def process(self, ctx: JobContext, task: Task) -> None:
        repo = _repo(ctx)
        user = repo.store.users.get_user(ctx.created_by)
        is_admin = user is not None and user.is_admin
        rows: list[tuple[int, int, dict[str, Any]]] = []
        failed: list[str] = []
        for item in task.items:
            if ctx.cancelled:
                return
            row = self._document(ctx, repo, item, is_admin)
            rows.append((item["n"], 0, row))
            if row["responseStatus"] != "SUCCESS":
                failed.append(f"{item['document_id']}: {row['errors'][0]['message']}")
                ctx.log(f"document {item['document_id']} left out of the zip: {row['errors'][0]['message']}")
        repo.store.content.put_results(ctx.job_id, rows)
        if failed:
            task.fail(f"{len(failed)} of {len(task.items)} documents failed: " + "; ".join(failed)[:2000])

    def _document(self, ctx: JobContext, repo: ContentRepository, item: dict[str, Any], is_admin: bool
                  ) -> dict[str, Any]:
        p = ctx.parameters
        doc_id = int(item["document_id"])
        row: dict[str, Any] = {"kind": "document", "responseStatus": "SUCCESS", "id": doc_id, "path": item["path"]}
        try:
            repo.document(doc_id, ctx.created_by, is_admin, binder=False)
            node = BinderNode(node_id=item["node"], parent_id="", kind="document", name=item["name"], order=0,
                              document_id=doc_id, binding_rule=item["rule"], doc_major=item["major"],
                              doc_minor=item["minor"])
            versions = self._versions(repo, node, p["docversion"])
        except ContentError as exc:
            return {**row, "responseStatus": "FAILURE", "errors": [{"type": exc.type, "message": str(exc)}]}
        files: list[dict[str, Any]] = []
        problems: list[str] = []
        several = len(versions) > 1 or p["docversion"] is not None
        for version in versions:
            suffix = f"_v{version.major}_{version.minor}" if several else ""
            if p["source"] and version.file is not None:
                files.append({"name": _with_suffix(version.file.filename, suffix), "sha256": version.file.sha256,
                              "size": version.file.size, "version": version.number, "fields": version.fields})
            if p["renditiontype"]:
                found = [r for r in repo.store.content.renditions(doc_id, version.major, version.minor)
                         if r.rendition_type == p["renditiontype"]]
                if not found:
                    problems.append(f"version {version.number} has no rendition {p['renditiontype']}")
                for r in found:
                    # named after the document's own file, so the two sit side by side in the zip
                    stem = PurePosixPath(version.file.filename if version.file else r.file.filename).stem
                    name = f"{stem}{suffix}.{r.rendition_type}{PurePosixPath(r.file.filename).suffix}"
                    files.append({"name": name, "sha256": r.file.sha256, "size": r.file.size,
                                  "version": version.number, "fields": version.fields})
        row["files"] = files
        if problems:
            row["responseStatus"] = "FAILURE"
            row["errors"] = [{"type": "INVALID_DATA", "message": f"document {doc_id}: " + "; ".join(problems)}]
        return row

    @staticmethod
    def _versions(repo: ContentRepository, node: BinderNode, docversion: str | None) -> list[Version]:
        assert node.document_id is not None
        if docversion == "major_minor":
            return repo.store.content.versions(node.document_id)
        if docversion == "major":
            majors = [v for v in repo.store.content.versions(node.document_id) if v.minor == 0 and v.major > 0]
            if not majors:
                raise ContentError(f"document {node.document_id} has no major version")
            return majors
        bound = repo.bound_version(node)
        if bound is None:
            raise ContentError(f"the version document {node.document_id} is bound to does not exist")
        return [bound]

    def complete(self, ctx: JobContext, result: JobResult) -> None:
        repo = _repo(ctx)
        p = ctx.parameters
        rows = [r for r in repo.store.content.results(ctx.job_id) if r.get("kind") == "document"]
        relative = f"/{ctx.job_id}/{p['binder_id']}/{p['major']}_{p['minor']}/{p['zip']}"
        assert ctx.files is not None
        folders = {(*path, section_folder(node)) for path, node in walk(self._tree(ctx)) if node.kind == "section"}
        used: set[str] = set()
        metadata: list[dict[str, Any]] = []
        written = 0
        with ctx.files.writer(relative) as out, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
            for folder in sorted(folders):
                archive.writestr(zipfile.ZipInfo("/".join(folder) + "/"), b"")
            for row in rows:
                for f in row.get("files", []):
                    arcname = self._unique("/".join([*row["path"], safe_filename(f["name"])]), row["id"], used)
                    with repo.files.open(f["sha256"]) as src, archive.open(arcname, "w", force_zip64=True) as dst:
                        while chunk := src.read(1024 * 1024):
                            dst.write(chunk)
                    written += f["size"]
                    metadata.append({"file": arcname, "id": row["id"], "version": f["version"],
                                     **{k: f["fields"].get(k, "") for k in METADATA_FIELDS}})
                    ctx.heartbeat()
            if p["docfield"]:
                text = io.StringIO()
                writer = csv.DictWriter(text, fieldnames=["file", "id", "version", *METADATA_FIELDS])
                writer.writeheader()
                writer.writerows(metadata)
                archive.writestr(self._unique("metadata.csv", 0, used), text.getvalue().encode("utf-8"))
        failed = sum(1 for r in rows if r["responseStatus"] != "SUCCESS")
        repo.store.content.put_results(ctx.job_id, [(0, 0, {
            "kind": "binder",
            "responseStatus": "SUCCESS",
            "job_id": ctx.job_id,
            "id": int(p["binder_id"]),
            "major_version_number__v": int(p["major"]),
            "minor_version_number__v": int(p["minor"]),
            "file": relative,
            "user_id__v": ctx.created_by,
        })])
        ctx.log(f"zip written to /u{ctx.created_by}{relative}: {len(metadata)} files, {written} bytes; "
                f"{len(rows) - failed} documents exported, {failed} left out")

    @staticmethod
    def _unique(arcname: str, doc_id: int, used: set[str]) -> str:
        """``arcname``, or ``name (doc_id).ext`` / ``name (doc_id-2).ext`` … when a file of that name is there."""
        candidate, n = arcname, 1
        while candidate in used:
            tag = f" ({doc_id})" if n == 1 else f" ({doc_id}-{n})"
            candidate = str(PurePosixPath(arcname).with_name(_with_suffix(PurePosixPath(arcname).name, tag)))
            n += 1
        used.add(candidate)
        return candidate
