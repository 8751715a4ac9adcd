"""The records a deep copy or a cascade delete works on: the root and what hangs below it.

Breadth first from the root (the root is node 0, each level after the one above it), one index
lookup per level (:meth:`object_referrers` over ``object_references``). Deep copy follows parent
fields whose ``hierarchical_copy`` is on; cascade delete follows every parent field and every
reference whose ``relationship_deletion`` is ``cascade``. A tree of more than ``limit`` records
besides the root is refused before anything is written (Vault's limit is 10,000).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from vaultjobs.objects import Catalog, FieldDefinition, ObjectDefinition, RelationshipDeletion
from vaultjobs.store import Store
from vaultjobs.store.objects import Referrer


class TreeTooLarge(Exception):
    """The tree holds more related records than one job may touch."""


class Node(NamedTuple):
    """One record of a tree (a tuple: a tree has up to 10,001)."""

    n: int
    object: str
    id: str
    #: The node this one hangs from (None for the root), and through which field.
    parent_n: int | None = None
    field: str | None = None


Follow = Callable[[ObjectDefinition, FieldDefinition], bool]


@dataclass(frozen=True, slots=True)
class Tree:
    """The records of a tree, root first, and the references into it from records outside it."""

    nodes: list[Node]
    #: Every record outside the tree whose Object field points at a record inside it.
    outside: list[Referrer]


def _walk(store: Store, catalog: Catalog, object_name: str, record_id: str, limit: int, follow: Follow) -> Tree:
    nodes = [Node(n=0, object=object_name, id=record_id)]
    where = {record_id: 0}
    frontier = [record_id]
    followed: dict[tuple[str, str], bool] = {}  # per (object, field): thousands of referrers share a few
    unfollowed: list[Referrer] = []
    while frontier:
        following: list[str] = []
        for referrer in store.objects.referrers(frontier):
            key = (referrer.object, referrer.field)
            if key not in followed:
                source = catalog.object(referrer.object)
                field = source.field(referrer.field) if source else None
                followed[key] = source is not None and field is not None and follow(source, field)
            if referrer.record_id in where:
                continue
            if not followed[key]:
                unfollowed.append(referrer)
                continue
            where[referrer.record_id] = len(nodes)
            nodes.append(Node(n=len(nodes), object=referrer.object, id=referrer.record_id,
                              parent_n=where[referrer.target_id], field=referrer.field))
            following.append(referrer.record_id)
            if len(nodes) - 1 > limit:
                raise TreeTooLarge(
                    f"Record [{record_id}] has more than {limit} related records; at most {limit} may be processed"
                )
        frontier = following
    return Tree(nodes, [r for r in unfollowed if r.record_id not in where])


def copy_tree(store: Store, catalog: Catalog, object_name: str, record_id: str, limit: int) -> Tree:
    """The records a deep copy of ``record_id`` copies, root first."""
    return _walk(store, catalog, object_name, record_id, limit,
                 lambda _source, field: field.is_parent and field.hierarchical_copy)


def cascade_tree(store: Store, catalog: Catalog, object_name: str, record_id: str, limit: int) -> Tree:
    """The records a cascade delete of ``record_id`` deletes, root first, and who points in from outside."""
    return _walk(store, catalog, object_name, record_id, limit,
                 lambda _source, field: field.is_parent or field.relationship_deletion is RelationshipDeletion.CASCADE)
