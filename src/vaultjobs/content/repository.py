"""The embedded content repository: what the API's document endpoints and the document jobs share.

Rows live in the store (documents, versions, renditions, binder nodes); bytes live in the
content-addressed :class:`~vaultjobs.content.files.FileStore`. The repository puts the two together
and holds the rules both callers must apply the same way: who may read a document, which version a
binder node is bound to, what a binder's tree looks like.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from vaultjobs.content.files import FileStaging, FileStore, UserStaging, safe_filename
from vaultjobs.content.models import ROOT_NODE, BinderNode, Document, Rendition, StoredFile, Submission, Version
from vaultjobs.models import User
from vaultjobs.timeutil import Clock, SystemClock


@runtime_checkable
class ContentStore(Protocol):
    """The store methods the repository uses (:class:`~vaultjobs.store.sqlite_content.SqliteContentQueries`).

    Kept apart from the engine's ``Store`` protocol so that a store without content (a PostgreSQL
    store before it mixes these queries in) still serves jobs; the content endpoints then say so.
    """

    def get_user(self, user_id: int) -> User | None: ...
    def content_add_file(self, sha256: str, size: int, now: datetime) -> None: ...
    def content_create_document(
        self, *, binder: bool, fields: dict[str, Any], file: StoredFile | None, major: int, minor: int,
        roles: dict[str, list[int]], created_by: int, now: datetime,
    ) -> int: ...
    def content_add_version(
        self, document_id: int, *, updates: dict[str, Any], file: StoredFile | None, keep_file: bool,
        number: tuple[int, int] | None, created_by: int, now: datetime,
    ) -> Version | None: ...
    def content_get_document(self, document_id: int) -> Document | None: ...
    def content_set_roles(self, document_id: int, roles: dict[str, list[int]]) -> None: ...
    def content_versions(self, document_id: int) -> list[Version]: ...
    def content_version(self, document_id: int, major: int, minor: int) -> Version | None: ...
    def content_latest_version(self, document_id: int) -> Version | None: ...
    def content_put_rendition(
        self, document_id: int, major: int, minor: int, rendition: Rendition, now: datetime
    ) -> bool: ...
    def content_renditions(self, document_id: int, major: int, minor: int) -> list[Rendition]: ...
    def content_add_node(
        self, binder_id: int, major: int, minor: int, *, parent_id: str, kind: str, name: str,
        order: int | None, now: datetime, section_number: str | None = None, document_id: int | None = None,
        binding_rule: str | None = None, doc_major: int | None = None, doc_minor: int | None = None,
    ) -> BinderNode | None: ...
    def content_nodes(self, binder_id: int, major: int, minor: int) -> list[BinderNode]: ...
    def content_get_submission(self, submission_id: str) -> Submission | None: ...
    def content_claim_submission(self, submission_id: str, created_by: int, now: datetime) -> bool: ...
    def content_release_submission(self, submission_id: str) -> None: ...
    def content_set_submission(
        self, submission_id: str, *, job_id: int | None = None, binder_id: int | None = None,
        section_id: str | None = None,
    ) -> None: ...
    def content_save_request(self, created_by: int, body: Any, now: datetime) -> int: ...
    def content_request(self, request_id: int) -> Any: ...
    def content_put_results(self, job_id: int, rows: Sequence[tuple[int, int, dict[str, Any]]]) -> None: ...
    def content_results(self, job_id: int) -> list[dict[str, Any]]: ...


class ContentUnavailable(Exception):
    """The store in use has no content repository tables and queries."""


#: Store classes already checked against :class:`ContentStore` (the check is slow-ish, the answer fixed).
_CONTENT_STORE_TYPES: set[type] = set()


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
    def __init__(self, store: object, data_dir: Path, clock: Clock | None = None) -> None:
        if type(store) not in _CONTENT_STORE_TYPES:
            if not isinstance(store, ContentStore):
                raise ContentUnavailable(f"{type(store).__name__} does not hold a content repository")
            _CONTENT_STORE_TYPES.add(type(store))
        self.store: ContentStore = store  # type: ignore[assignment]
        self.files = FileStore(data_dir)
        self.staging = FileStaging(data_dir)
        self.clock = clock or SystemClock()

    # -- files -----------------------------------------------------------------------------

    def save_file(self, source: IO[bytes], filename: str, mime: str | None, limit: int | None = None) -> StoredFile:
        """Store uploaded bytes (content-addressed, durable) and record them."""
        sha256, size = self.files.put(source, limit)
        self.store.content_add_file(sha256, size, self.clock.now())
        return StoredFile(sha256=sha256, size=size, filename=safe_filename(filename), mime=mime)

    def file_path(self, stored: StoredFile) -> Path:
        return self.files.path(stored.sha256)

    def user_staging(self, user_id: int) -> UserStaging:
        return self.staging.user_area(user_id)

    # -- reading with permissions ----------------------------------------------------------

    def document(self, document_id: int, user_id: int, is_admin: bool, *, binder: bool | None = False) -> Document:
        """The document (``binder=False``), binder (``True``) or either (``None``) the caller may read."""
        doc = self.store.content_get_document(document_id)
        kind = "binder" if binder else "document"
        if doc is None or (binder is not None and doc.binder != binder):
            raise NotFound(f"The {kind} [{document_id}] does not exist")
        if not doc.readable_by(user_id, is_admin):
            raise NoAccess(f"You do not have permission to view {kind} [{document_id}]")
        return doc

    def version(self, document_id: int, major: int | None, minor: int | None) -> Version:
        """A version, or the latest when ``major`` is None."""
        if major is None or minor is None:
            found = self.store.content_latest_version(document_id)
        else:
            found = self.store.content_version(document_id, major, minor)
        if found is None:
            raise NotFound(f"Version [{major}.{minor}] of [{document_id}] does not exist")
        return found

    # -- binders ---------------------------------------------------------------------------

    def tree(self, binder_id: int, major: int, minor: int) -> list[TreeNode]:
        """The binder version's nodes as a tree, siblings in order."""
        wrapped = {n.node_id: TreeNode(n) for n in self.store.content_nodes(binder_id, major, minor)}
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
            return self.store.content_version(node.document_id, node.doc_major, node.doc_minor)
        if node.binding_rule == "steady-state":
            majors = [v for v in self.store.content_versions(node.document_id) if v.minor == 0 and v.major > 0]
            if majors:
                return majors[-1]
        return self.store.content_latest_version(node.document_id)


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
