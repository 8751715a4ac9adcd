"""The standard objects vaultjobs ships: what Create EDL and the package jobs read and write.

Vault documents the prefixes (``0ST`` study, ``0EL`` EDL, ``0EI`` EDL item, ``0PI`` package, ``0IS``
package step, ``0PT`` package data, ``0CD`` vault component) but not most field names; the choices
below are marked [U]/[I] in the spec and recorded here:

* ``study__v.template_edl__v`` points at the ``edl__v`` record whose ``edl_item__v`` tree Create EDL
  copies to the study [U: the spec suggests this name]; an EDL with ``template__v = true`` is a template.
* ``edl__v`` is a child of ``study__v`` (field ``study__v``, parent, cascade), so a cascade delete of a
  study removes its EDLs and items, as Vault's cascade-delete example (``… edl__v, edl_item__v``) shows;
  ``edl_item__v`` is a child of ``edl__v`` [D: "edl_item__v is a child object of edl__v"].
* ``study_country__v`` (prefix ``0SC``) and ``site__v`` (``0SI``) [U: prefixes not documented] carry
  the level-specific EDLs through plain references from ``edl__v``.
* A template set [U: Vault documents study-, country- and site-level templates linked by a parent
  template, not their fields]: the study-level template is the ``edl__v`` the study's
  ``template_edl__v`` names; a country- or site-level template is an ``edl__v`` with
  ``template__v = true``, ``template_level__v`` ``country__v`` or ``site__v`` and
  ``parent_template__v`` naming the study-level template.
* Standard fields added in a later release reach a vault whose catalog MDL saved before through
  :func:`with_standard_additions`.
* Package steps are children of ``vault_package__v``; package data and components are children of
  their step [I]. ``record_count__sys`` is a String because Vault renders it as one [D].
  ``package_type__v`` (the manifest's ``packagetype``), and a step's ``deployment_action__v`` and
  ``deployment_message__v`` (what validation or deployment said of it) are vaultjobs' own [U].
"""

from __future__ import annotations

from vaultjobs.objects.metadata import (
    DEFAULT_STATUS_PICKLIST,
    FieldDefinition,
    FieldRelationship,
    FieldType,
    ObjectDefinition,
    Picklist,
    PicklistEntry,
    RelationshipDeletion,
    Source,
    outbound_relationship_name,
    standard_fields,
)

#: ``package_status__v`` / ``deployment_status__v`` values, singular forms as TBXJ and TS use them.
PACKAGE_STATUSES = (
    ("imported__v", "Imported"),
    ("verified__v", "Verified"),
    ("not_verified__v", "Not Verified"),
    ("blocked__v", "Blocked"),
    ("queued__v", "Queued"),
    ("in_deploy__v", "In Deploy"),
    ("deployed__v", "Deployed"),
    ("deployed_with_warning__v", "Deployed with Warnings"),
    ("deployed_with_failures__v", "Deployed with Failures"),
    ("deployed_with_error__v", "Deployed with Errors"),
    ("failed_with_partial_commit__v", "Failed with Partial Commit"),
    ("error__v", "Error"),
    ("skipped__v", "Skipped"),
    ("not_supported__v", "Not Supported"),
)

PACKAGE_STATUS_PICKLIST = Picklist(
    name="package_status__v",
    label="Package Status",
    source=Source.STANDARD,
    entries=tuple(
        PicklistEntry(name=name, label=label, order=i) for i, (name, label) in enumerate(PACKAGE_STATUSES, 1)
    ),
)


EDL_TEMPLATE_LEVEL_PICKLIST = Picklist(
    name="edl_template_level__v",
    label="EDL Template Level",
    source=Source.STANDARD,
    entries=(
        PicklistEntry(name="study__v", label="Study", order=1),
        PicklistEntry(name="country__v", label="Country", order=2),
        PicklistEntry(name="site__v", label="Site", order=3),
    ),
)


def _text(name: str, label: str, order: int, max_length: int = 255) -> FieldDefinition:
    return FieldDefinition(
        name=name, type=FieldType.STRING, label=label, source=Source.STANDARD, max_length=max_length, order=order
    )


def _ref(
    name: str,
    label: str,
    order: int,
    target: str,
    *,
    parent: bool,
    deletion: RelationshipDeletion,
    inbound: str,
    inbound_label: str,
    required: bool = False,
) -> FieldDefinition:
    return FieldDefinition(
        name=name,
        type=FieldType.OBJECT,
        label=label,
        source=Source.STANDARD,
        order=order,
        required=required,
        object=target,
        relationship_type=FieldRelationship.PARENT if parent else FieldRelationship.REFERENCE,
        relationship_outbound_name=outbound_relationship_name(name),
        relationship_inbound_name=inbound,
        relationship_inbound_label=inbound_label,
        relationship_deletion=deletion,
    )


def _object(name: str, label: str, plural: str, prefix: str, *fields: FieldDefinition) -> ObjectDefinition:
    return ObjectDefinition(
        name=name,
        label=label,
        label_plural=plural,
        prefix=prefix,
        source=Source.STANDARD,
        fields=(*standard_fields(), *fields),
    )


def _status(order: int) -> FieldDefinition:
    return FieldDefinition(
        name="deployment_status__v",
        type=FieldType.PICKLIST,
        label="Deployment Status",
        source=Source.STANDARD,
        picklist=PACKAGE_STATUS_PICKLIST.name,
        order=order,
    )


CASCADE = RelationshipDeletion.CASCADE
SETNULL = RelationshipDeletion.SETNULL

STANDARD_OBJECTS: tuple[ObjectDefinition, ...] = (
    _object(
        "study__v",
        "Study",
        "Studies",
        "0ST",
        _ref(
            "template_edl__v",
            "Template EDL",
            10,
            "edl__v",
            parent=False,
            deletion=SETNULL,
            inbound="template_studies__vr",
            inbound_label="Studies using this template",
        ),
    ),
    _object(
        "study_country__v",
        "Study Country",
        "Study Countries",
        "0SC",
        _ref(
            "study__v",
            "Study",
            10,
            "study__v",
            parent=True,
            deletion=CASCADE,
            inbound="study_countries__vr",
            inbound_label="Study Countries",
            required=True,
        ),
    ),
    _object(
        "site__v",
        "Study Site",
        "Study Sites",
        "0SI",
        _ref(
            "study_country__v",
            "Study Country",
            10,
            "study_country__v",
            parent=True,
            deletion=CASCADE,
            inbound="sites__vr",
            inbound_label="Study Sites",
        ),
    ),
    _object(
        "edl__v",
        "Expected Document List",
        "Expected Document Lists",
        "0EL",
        _ref(
            "study__v",
            "Study",
            10,
            "study__v",
            parent=True,
            deletion=CASCADE,
            inbound="edls__vr",
            inbound_label="Expected Document Lists",
        ),
        _ref(
            "study_country__v",
            "Study Country",
            11,
            "study_country__v",
            parent=False,
            deletion=SETNULL,
            inbound="country_edls__vr",
            inbound_label="Expected Document Lists",
        ),
        _ref(
            "site__v",
            "Study Site",
            12,
            "site__v",
            parent=False,
            deletion=SETNULL,
            inbound="site_edls__vr",
            inbound_label="Expected Document Lists",
        ),
        FieldDefinition(name="template__v", type=FieldType.BOOLEAN, label="Template", source=Source.STANDARD, order=13),
        FieldDefinition(name="template_level__v", type=FieldType.PICKLIST, label="Template Level",
                        source=Source.STANDARD, picklist=EDL_TEMPLATE_LEVEL_PICKLIST.name, order=14),
        _ref(
            "parent_template__v",
            "Parent Template",
            15,
            "edl__v",
            parent=False,
            deletion=SETNULL,
            inbound="level_templates__vr",
            inbound_label="Level Templates",
        ),
    ),
    _object(
        "edl_item__v",
        "Expected Document",
        "Expected Documents",
        "0EI",
        _ref(
            "edl__v",
            "Expected Document List",
            10,
            "edl__v",
            parent=True,
            deletion=CASCADE,
            inbound="edl_items__vr",
            inbound_label="Expected Documents",
            required=True,
        ),
        _text("document_type__v", "Document Type", 11, 128),
        FieldDefinition(
            name="expected_steady_state_count__v",
            type=FieldType.NUMBER,
            label="Expected Steady State Count",
            source=Source.STANDARD,
            scale=0,
            order=12,
        ),
        FieldDefinition(name="required__v", type=FieldType.BOOLEAN, label="Required", source=Source.STANDARD, order=13),
    ),
    _object(
        "vault_package__v",
        "Inbound Package",
        "Inbound Packages",
        "0PI",
        _text("summary__v", "Summary", 10),
        FieldDefinition(
            name="description__v",
            type=FieldType.LONG_TEXT,
            label="Description",
            source=Source.STANDARD,
            max_length=32000,
            order=11,
        ),
        _status(12),
        _text("source_vault__v", "Source Vault", 13, 128),
        _text("author__v", "Author", 14, 255),
        _text("package_type__v", "Package Type", 15, 64),
    ),
    _object(
        "package_step__v",
        "Package Step",
        "Package Steps",
        "0IS",
        _ref(
            "vault_package__v",
            "Package",
            10,
            "vault_package__v",
            parent=True,
            deletion=CASCADE,
            inbound="package_steps__vr",
            inbound_label="Package Steps",
            required=True,
        ),
        _text("step_type__v", "Step Type", 11, 64),
        _text("step_name__v", "Step Name", 12),
        _text("step_label__v", "Step Label", 13),
        _text("type__v", "Type", 14, 64),
        _status(15),
        _text("deployment_action__v", "Deployment Action", 16, 64),
        FieldDefinition(
            name="deployment_message__v",
            type=FieldType.LONG_TEXT,
            label="Deployment Message",
            source=Source.STANDARD,
            max_length=32000,
            order=17,
        ),
    ),
    _object(
        "package_data__v",
        "Package Data",
        "Package Data",
        "0PT",
        _ref(
            "package_step__v",
            "Package Step",
            10,
            "package_step__v",
            parent=True,
            deletion=CASCADE,
            inbound="package_data__vr",
            inbound_label="Package Data",
            required=True,
        ),
        _text("object__v", "Object", 11, 128),
        _text("data_type__v", "Data Type", 12, 64),
        _text("data_action__v", "Data Action", 13, 64),
        FieldDefinition(
            name="record_migration_mode__sys",
            type=FieldType.BOOLEAN,
            label="Record Migration Mode",
            source=Source.STANDARD,
            order=14,
        ),
        _text("record_count__sys", "Record Count", 15, 32),
        _text("checksum__v", "Checksum", 16, 64),
    ),
    _object(
        "vault_component__v",
        "Vault Component",
        "Vault Components",
        "0CD",
        _ref(
            "package_step__v",
            "Package Step",
            10,
            "package_step__v",
            parent=True,
            deletion=CASCADE,
            inbound="package_components__vr",
            inbound_label="Package Components",
        ),
        _text("component_name__v", "Component Name", 11),
        _text("component_type__v", "Component Type", 12, 64),
        _text("checksum__v", "Checksum", 13, 64),
        _status(14),
    ),
)

STANDARD_PICKLISTS: tuple[Picklist, ...] = (DEFAULT_STATUS_PICKLIST, PACKAGE_STATUS_PICKLIST,
                                             EDL_TEMPLATE_LEVEL_PICKLIST)
