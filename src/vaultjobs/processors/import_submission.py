"""Vault's Import Submission job: unpack an eCTD-style submission into a new binder.

The submission (a ``.zip`` or a folder in file staging) becomes a binder named after its submission
folder, with that folder as the binder's top section, one section per sub-folder and one document
per file, siblings in name order, so that exporting the submission gives back the same tree and
bytes. ``init`` reads the listing and builds the binder's sections (in one place, so the structure
exists before any file arrives); tasks store the files and add their documents. Entries that are
unsafe (absolute paths, ``..``), too large or unreadable (bad CRC) fail on their own: the job ends
ERRORS_ENCOUNTERED and the results endpoint lists them in ``importMessages``.

Not idempotent: a document created twice would be two documents, so a job whose worker died ends
COMPLETED_DUE_TO_INACTIVITY rather than import again.
"""

from __future__ import annotations

import contextlib
import math
import mimetypes
import os
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from vaultjobs.content.files import FileTooLarge, safe_filename
from vaultjobs.content.models import ROOT_NODE
from vaultjobs.content.repository import ContentRepository
from vaultjobs.sdk import JobContext, JobResult, Task, processor

TARGET_TASKS = 100
MAX_FILE_BYTES = 4 * 1024**3
SKIPPED_PREFIXES = ("__MACOSX/",)


def _repo(ctx: JobContext) -> ContentRepository:
    if ctx.content is None:
        raise RuntimeError("this node's store has no content repository")
    return ctx.content


def _source(repo: ContentRepository, ctx: JobContext) -> Path:
    return repo.staging.root.joinpath(*repo.staging.segments(str(ctx.parameters["source"])))


def _unsafe(name: str) -> str | None:
    """Why an archive entry name cannot be imported, or None."""
    if name.startswith("/") or "\\" in name or "\x00" in name or (len(name) > 1 and name[1] == ":"):
        return "an absolute or malformed path"
    parts = [p for p in name.split("/") if p]
    if any(p in (".", "..") for p in parts) or not parts:
        return "a path that leaves the submission folder"
    if any(safe_filename(p, "") != p for p in parts):
        return "a name with control characters"
    return None


@processor("import_submission", chunk_size=10, idempotent=False, timeout="4h", admin_cancellable=True)
class ImportSubmission:
    """Import Submission: unpacks an eCTD-style submission into a binder, one document per file."""

    def _entries(self, source: Path, kind: str, folder: str) -> list[tuple[str, list[str] | None, int, str | None]]:
        """(entry name, path parts inside the submission folder or None, size, why it is refused)."""
        out: list[tuple[str, list[str] | None, int, str | None]] = []
        if kind == "zip":
            with zipfile.ZipFile(source) as archive:
                infos = [i for i in archive.infolist()
                         if not i.is_dir() and not i.filename.startswith(SKIPPED_PREFIXES)]
            names = [i.filename for i in infos]
            strip = bool(names) and all(n.startswith(folder + "/") for n in names)
            for info in infos:
                why = _unsafe(info.filename)
                if why is None and info.file_size > MAX_FILE_BYTES:
                    why = f"larger than {MAX_FILE_BYTES} bytes"
                parts = [p for p in info.filename.split("/") if p]
                if strip:
                    parts = parts[1:]
                out.append((info.filename, None if why else parts, info.file_size, why))
        else:
            for root, dirs, files in os.walk(source):
                dirs.sort()
                for name in sorted(files):
                    path = Path(root) / name
                    rel = path.relative_to(source).as_posix()
                    why = None if path.is_file() and not path.is_symlink() else "not a regular file"
                    out.append((rel, None if why else rel.split("/"), path.stat().st_size if not why else 0, why))
        return out

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        repo = _repo(ctx)
        p = ctx.parameters
        sid, folder = str(p["submission_id"]), str(p["folder"])
        entries = self._entries(_source(repo, ctx), str(p["kind"]), folder)
        now = repo.clock.now()
        binder_id = repo.store.content.create_document(
            binder=True,
            fields={"name__v": folder[:100], "type__v": "Submission", "lifecycle__v": "Submission Lifecycle",
                    "status__v": "Imported", "submission__v": sid},
            file=None, major=0, minor=1, roles={}, created_by=ctx.created_by, now=now,
        )
        root = repo.store.content.add_node(binder_id, 0, 1, parent_id=ROOT_NODE, kind="section", name=folder,
                                           order=0, now=now)
        assert root is not None
        # Siblings (sub-folders and files together) in name order, as the folder tree lists them.
        children: dict[tuple[str, ...], set[str]] = {}
        for _, parts, _, _ in entries:
            if parts:
                for depth in range(len(parts)):
                    children.setdefault(tuple(parts[:depth]), set()).add(parts[depth])
        order = {(parent, name): i * 100 for parent, names in children.items()
                 for i, name in enumerate(sorted(names))}
        sections: dict[tuple[str, ...], str] = {(): root.node_id}
        for parent, name in sorted((k for k in order if (*k[0], k[1]) in children), key=lambda k: (len(k[0]), k)):
            node = repo.store.content.add_node(binder_id, 0, 1, parent_id=sections[parent], kind="section",
                                               name=name, order=order[(parent, name)], now=now)
            assert node is not None
            sections[(*parent, name)] = node.node_id
        repo.store.content.set_submission(sid, binder_id=binder_id, section_id=root.node_id)
        items: list[dict[str, Any]] = []
        for n, (entry, parts, size, why) in enumerate(entries, start=1):
            item: dict[str, Any] = {"n": n, "entry": entry, "size": size}
            if parts is None:
                item["refused"] = why
            else:
                parent = tuple(parts[:-1])
                item.update({"section": sections[parent], "order": order[(parent, parts[-1])], "filename": parts[-1]})
            items.append(item)
        ctx.log(f"submission {sid}: binder {binder_id} with {len(sections)} sections; {len(items)} files to import "
                f"from {p['kind']} /{p['source']}")
        ctx.chunk_size = min(500, max(1, math.ceil(len(items) / TARGET_TASKS)))
        return items

    @contextlib.contextmanager
    def _opener(self, ctx: JobContext) -> Iterator[Any]:
        repo = _repo(ctx)
        source = _source(repo, ctx)
        if ctx.parameters["kind"] == "zip":
            with zipfile.ZipFile(source) as archive:
                yield lambda entry: archive.open(entry)
        else:
            yield lambda entry: open(source.joinpath(*entry.split("/")), "rb")

    def process(self, ctx: JobContext, task: Task) -> None:
        repo = _repo(ctx)
        submission = repo.store.content.get_submission(str(ctx.parameters["submission_id"]))
        assert submission is not None and submission.binder_id is not None
        rows: list[tuple[int, int, dict[str, Any]]] = []
        failed: list[str] = []
        with self._opener(ctx) as open_entry:
            for item in task.items:
                if ctx.cancelled:
                    return
                row = self._import(ctx, repo, submission.binder_id, item, open_entry)
                rows.append((item["n"], 0, row))
                if row["responseStatus"] != "SUCCESS":
                    failed.append(f"{item['entry']}: {row['errors'][0]['message']}")
                    ctx.log(f"{item['entry']} not imported: {row['errors'][0]['message']}")
        repo.store.content.put_results(ctx.job_id, rows)
        if failed:
            task.fail(f"{len(failed)} of {len(task.items)} files failed: " + "; ".join(failed)[:2000])

    def _import(self, ctx: JobContext, repo: ContentRepository, binder_id: int, item: dict[str, Any],
                open_entry: Any) -> dict[str, Any]:
        row: dict[str, Any] = {"kind": "file", "responseStatus": "SUCCESS", "path": item["entry"]}
        if "refused" in item:
            return {**row, "responseStatus": "FAILURE",
                    "errors": [{"type": "INVALID_DATA", "message": f"refused: {item['refused']}"}]}
        filename = str(item["filename"])
        try:
            stream: IO[bytes]
            with open_entry(item["entry"]) as stream:
                stored = repo.save_file(stream, filename, mimetypes.guess_type(filename)[0], MAX_FILE_BYTES)
        except (zipfile.BadZipFile, zlib.error, FileTooLarge, OSError, EOFError) as exc:
            return {**row, "responseStatus": "FAILURE",
                    "errors": [{"type": "INVALID_DATA", "message": f"cannot be read: {exc}"}]}
        now = repo.clock.now()
        doc_id = repo.store.content.create_document(
            binder=False,
            fields={"name__v": filename[:100], "type__v": "Submission Document",
                    "lifecycle__v": "Submission Lifecycle", "status__v": "Imported",
                    "submission__v": str(ctx.parameters["submission_id"])},
            file=stored, major=0, minor=1, roles={}, created_by=ctx.created_by, now=now,
        )
        repo.store.content.add_node(binder_id, 0, 1, parent_id=item["section"], kind="document",
                                    name=filename[:100], order=int(item["order"]), now=now, document_id=doc_id,
                                    binding_rule="default")
        return {**row, "document_id": doc_id}

    def complete(self, ctx: JobContext, result: JobResult) -> None:
        repo = _repo(ctx)
        submission = repo.store.content.get_submission(str(ctx.parameters["submission_id"]))
        assert submission is not None and submission.binder_id is not None
        version = repo.version(submission.binder_id, None, None)
        # Vault's quirk, kept: the binder's version numbers are strings here.
        repo.store.content.put_results(ctx.job_id, [(0, 0, {
            "kind": "binder", "responseStatus": "SUCCESS", "id": submission.binder_id,
            "major_version_number__v": str(version.major), "minor_version_number__v": str(version.minor),
        })])
        rows = [r for r in repo.store.content.results(ctx.job_id) if r.get("kind") == "file"]
        ok = sum(1 for r in rows if r["responseStatus"] == "SUCCESS")
        ctx.log(f"submission {ctx.parameters['submission_id']} imported into binder {submission.binder_id}: "
                f"{ok} of {len(rows)} files, {len(rows) - ok} failed")
