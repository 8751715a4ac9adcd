"""Who may do what with objects: the minimum that keeps a vault safe to share, in DESIGN's spirit
(admins everything, users what is theirs to change).

* Metadata and records: every signed-in user reads every object and record.
* Records of custom objects (``__c``): every user creates, updates and deletes them, and runs Deep
  Copy and Cascade Delete on them (every object the job touches must be writable).
* Records of standard objects (``__v``, ``__sys``: studies, EDLs, packages): admins only.
* Execute MDL (changing the catalog): admins only.
"""

from __future__ import annotations

from collections.abc import Iterable

from vaultjobs import errors
from vaultjobs.models import User
from vaultjobs.objects import ObjectDefinition, Source


def may_write(user: User, definition: ObjectDefinition) -> bool:
    return user.is_admin or definition.source is Source.CUSTOM


def require_write(user: User, definitions: Iterable[ObjectDefinition]) -> None:
    """INSUFFICIENT_ACCESS naming the first object of ``definitions`` ``user`` may not write."""
    for definition in definitions:
        if not may_write(user, definition):
            raise errors.InsufficientAccess(
                f"User [{user.id}] does not have permission to change records of object [{definition.name}]"
            )


def require_admin(user: User, action: str) -> None:
    if not user.is_admin:
        raise errors.InsufficientAccess(f"Only a vault admin may {action}")
