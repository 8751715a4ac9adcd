"""The records of the content repository: documents, their versions and renditions, binder nodes.

Frozen, keyword-only dataclasses like :mod:`vaultjobs.models`, so a record read from the store can
be handed to a job or a handler without anyone changing it underneath.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: The parent id of top-level binder nodes, as Vault names it.
ROOT_NODE = "rootNode"

#: Roles whose members may read a document (Vault's document roles; any role grants View).
READ_ROLES: tuple[str, ...] = ("owner__v", "editor__v", "viewer__v", "reviewer__v", "approver__v", "consumer__v")


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredFile:
    """A file of the repository: bytes under ``files/`` named by their SHA-256, plus its given name."""

    sha256: str
    size: int
    filename: str
    mime: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Document:
    """A document or binder, without its versions."""

    id: int
    binder: bool
    created_by: int
    created_at: datetime
    #: Role name → user ids (``viewer__v`` …); the creator and admins may read regardless.
    roles: dict[str, list[int]] = field(default_factory=dict)

    def readable_by(self, user_id: int, is_admin: bool) -> bool:
        """Vault's rule reduced to what the service models: admins, the creator and role members."""
        if is_admin or user_id == self.created_by:
            return True
        return any(user_id in self.roles.get(role, ()) for role in READ_ROLES)


@dataclass(frozen=True, kw_only=True, slots=True)
class Version:
    """One version of a document: its field values and its source file (None for a placeholder)."""

    document_id: int
    major: int
    minor: int
    fields: dict[str, Any]
    file: StoredFile | None
    created_by: int
    created_at: datetime

    @property
    def number(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def name(self) -> str:
        return str(self.fields.get("name__v") or f"Document {self.document_id}")


@dataclass(frozen=True, kw_only=True, slots=True)
class Rendition:
    rendition_type: str
    file: StoredFile


@dataclass(frozen=True, kw_only=True, slots=True)
class BinderNode:
    """A section or a document reference in one binder version."""

    node_id: str
    parent_id: str
    kind: str
    name: str
    order: int
    section_number: str | None = None
    document_id: int | None = None
    #: ``default`` / ``current`` / ``steady-state`` (latest version) or ``specific`` (doc_major.doc_minor).
    binding_rule: str | None = None
    doc_major: int | None = None
    doc_minor: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Submission:
    """A submission imported into a binder: the section of the binder that holds its files."""

    id: str
    created_by: int
    binder_id: int | None = None
    section_id: str | None = None
    job_id: int | None = None
