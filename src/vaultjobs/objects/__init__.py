"""Vault objects: metadata (fields, picklists, relationships), the catalog that holds them, Vault's
MDL to change it, and record-value rules. Pure Python: no store, no HTTP."""

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
