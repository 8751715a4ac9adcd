"""Vault objects: metadata (fields, picklists, relationships), the catalog that holds them, Vault's
MDL to change it, and record-value rules. Pure Python: no store, no HTTP.

Modules: :mod:`.metadata` (definitions), :mod:`.standard` (the objects vaultjobs ships),
:mod:`.catalog` (the whole, its relationships and rules), :mod:`.codec` (JSON for the store),
:mod:`.payloads` (the metadata endpoints' bodies), :mod:`.values` (record values and ids) and
:mod:`.mdl` (parser, applier, renderer, Execute MDL results). Where Vault's documentation is silent
(marked [U]/[I] in the spec), each module's docstring records the choice made, for ``docs/objects.md``.
"""

from __future__ import annotations

from vaultjobs.objects.catalog import Catalog, CatalogError, Relationship
from vaultjobs.objects.metadata import (
    FieldDefinition,
    FieldRelationship,
    FieldType,
    ObjectDefinition,
    Picklist,
    PicklistEntry,
    RelationshipDeletion,
    RelationshipType,
    Source,
)

__all__ = [
    "Catalog",
    "CatalogError",
    "FieldDefinition",
    "FieldRelationship",
    "FieldType",
    "ObjectDefinition",
    "Picklist",
    "PicklistEntry",
    "Relationship",
    "RelationshipDeletion",
    "RelationshipType",
    "Source",
]
