"""The embedded content repository: what the API's document endpoints and the document jobs share.

Rows live in the store (documents, versions, renditions, binder nodes); bytes live in a
content-addressed :class:`~vaultjobs.content.blobs.BlobStore` (in PostgreSQL on a cluster). The
repository puts the two together and holds the rules both callers must apply the same way: who may
read a document, which version a binder node is bound to, what a binder's tree looks like.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO

from vaultjobs.content.blobs import BlobStore, blob_store_for, opener
from vaultjobs.content.files import FileStaging, Opener, UserStaging, safe_filename
from vaultjobs.content.models import ROOT_NODE, BinderNode, Document, StoredFile, Version
from vaultjobs.store import Store
from vaultjobs.timeutil import Clock, SystemClock


class ContentUnavailable(Exception):
    """The store in use has no content repository tables and queries."""


class ContentError(Exception):
    """A document, version or node cannot be used; ``type`` is the Vault error type to report."""

    type = "INVALID_DATA"


class NotFound(ContentError):
    """The document, binder or version does not exist."""


class NoAccess(ContentError):
    """The caller may not read this document or binder."""

    type = "INSUFFICIENT_ACCESS"


@dataclass
class TreeNode:
    node: BinderNode
    children: list[TreeNode] = field(default_factory=list)


class ContentRepository:
    def __init__(
        self, store: Store, data_dir: Path, clock: Clock | None = None, *, blobs: str | BlobStore = "auto"
    ) -> None:
        """``blobs``: a blob store, or the ``content_blobs`` setting to pick one by the store."""
        if getattr(store, "content", None) is None:
            raise ContentUnavailable(f"{type(store).__name__} does not hold a content repository")
        self.store = store
        self.files: BlobStore = blob_store_for(store, data_dir, blobs) if isinstance(blobs, str) else blobs
        self.staging = FileStaging(data_dir)
        self.clock = clock or SystemClock()

    # -- files -----------------------------------------------------------------------------

    def save_file(self, source: IO[bytes], filename: str, mime: str | None, limit: int | None = None) -> StoredFile:
        """Store uploaded bytes (content-addressed, durable) and record them."""
        sha256, size = self.files.put(source, limit)
        self.store.content.add_file(sha256, size, self.clock.now())
        return StoredFile(sha256=sha256, size=size, filename=safe_filename(filename), mime=mime)

    def open_file(self, stored: StoredFile) -> BinaryIO:
        """The stored file's bytes as a stream, from whichever node stored them."""
        return self.files.open(stored.sha256)

    def file_opener(self, stored: StoredFile) -> Opener:
        """A function that opens the stored file, for copies made later (see ``copy_batch``)."""
        return opener(self.files, stored.sha256)

    def local_file(self, stored: StoredFile) -> Path | None:
        """The stored file on this node's disk, when blobs are local (for the kernel to send)."""
        return self.files.local_path(stored.sha256)

    def user_staging(self, user_id: int) -> UserStaging:
        return self.staging.user_area(user_id)

    # -- reading with permissions ----------------------------------------------------------

    def document(self, document_id: int, user_id: int, is_admin: bool, *, binder: bool | None = False) -> Document:
        """The document (``binder=False``), binder (``True``) or either (``None``) the caller may read."""
        doc = self.store.content.get_document(document_id)
        kind = "binder" if binder else "document"
        if doc is None or (binder is not None and doc.binder != binder):
            raise NotFound(f"The {kind} [{document_id}] does not exist")
        if not doc.readable_by(user_id, is_admin):
            raise NoAccess(f"You do not have permission to view {kind} [{document_id}]")
        return doc

    def version(self, document_id: int, major: int | None, minor: int | None) -> Version:
        """A version, or the latest when ``major`` is None."""
        if major is None or minor is None:
            found = self.store.content.latest_version(document_id)
        else:
            found = self.store.content.version(document_id, major, minor)
        if found is None:
            raise NotFound(f"Version [{major}.{minor}] of [{document_id}] does not exist")
        return found

    # -- binders ---------------------------------------------------------------------------

    def tree(self, binder_id: int, major: int, minor: int) -> list[TreeNode]:
        """The binder version's nodes as a tree, siblings in order."""
        wrapped = {n.node_id: TreeNode(n) for n in self.store.content.nodes(binder_id, major, minor)}
        roots: list[TreeNode] = []
        for item in wrapped.values():
            parent = wrapped.get(item.node.parent_id)
            (roots if item.node.parent_id == ROOT_NODE or parent is None else parent.children).append(item)
        key = lambda t: (t.node.order, t.node.node_id)  # noqa: E731
        roots.sort(key=key)
        for item in wrapped.values():
            item.children.sort(key=key)
        return roots

    def bound_version(self, node: BinderNode) -> Version | None:
        """The document version a binder node points at, by its binding rule.

        ``specific`` names its version; ``steady-state`` is the latest major version (x.0), or the
        latest when there is none yet; ``default`` and ``current`` are the latest version.
        """
        assert node.document_id is not None
        if node.binding_rule == "specific" and node.doc_major is not None and node.doc_minor is not None:
            return self.store.content.version(node.document_id, node.doc_major, node.doc_minor)
        if node.binding_rule == "steady-state":
            majors = [v for v in self.store.content.versions(node.document_id) if v.minor == 0 and v.major > 0]
            if majors:
                return majors[-1]
        return self.store.content.latest_version(node.document_id)


def walk(nodes: list[TreeNode], path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], BinderNode]]:
    """Every node with the names of the sections above it, depth first in binder order."""
    out: list[tuple[tuple[str, ...], BinderNode]] = []
    for item in nodes:
        out.append((path, item.node))
        if item.children:
            out.extend(walk(item.children, (*path, section_folder(item.node))))
    return out


def section_folder(node: BinderNode) -> str:
    """A section's folder name in an export: its number and name (``1.3 Labeling``) made file-safe."""
    label = f"{node.section_number} {node.name}" if node.section_number else node.name
    return safe_filename(label, default=node.node_id.replace(":", "_"))
