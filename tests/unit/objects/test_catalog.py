"""The catalog: the standard objects it ships, relationships derived from fields, the rules it
checks, prefix allocation, and its JSON form."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from vaultjobs.objects import (
    Catalog,
    CatalogError,
    FieldDefinition,
    FieldRelationship,
    FieldType,
    ObjectDefinition,
    RelationshipDeletion,
    RelationshipType,
    Source,
)
from vaultjobs.objects.codec import catalog_from_json, catalog_to_json, object_from_json, object_to_json
from vaultjobs.objects.metadata import DEFAULT_STATUS_PICKLIST, standard_fields

Build = Callable[..., Catalog]


def test_the_standard_catalog_is_valid_and_has_what_the_jobs_need() -> None:
    catalog = Catalog.standard()
    assert catalog.problems() == []
    prefixes = {o.name: o.prefix for o in catalog.objects}
    # Prefixes Vault documents in its examples.
    assert prefixes["study__v"] == "0ST"
    assert prefixes["edl__v"] == "0EL"
    assert prefixes["edl_item__v"] == "0EI"
    assert prefixes["vault_package__v"] == "0PI"
    assert prefixes["package_step__v"] == "0IS"
    assert prefixes["package_data__v"] == "0PT"
    assert prefixes["vault_component__v"] == "0CD"
    assert all(o.source is Source.STANDARD for o in catalog.objects)
    template = catalog.object("study__v").field("template_edl__v")  # type: ignore[union-attr]
    assert template is not None and template.object == "edl__v"
    assert catalog.descendants("study__v") == ("study_country__v", "edl__v", "site__v", "edl_item__v")
    assert catalog.descendants("vault_package__v") == ("package_step__v", "package_data__v", "vault_component__v")
    statuses = catalog.picklist("package_status__v")
    assert statuses is not None and {"verified__v", "blocked__v", "deployed_with_warning__v"} <= statuses.entry_names


def test_relationships_are_derived_from_both_ends(tree: Catalog) -> None:
    product = tree.relationships("product__c")
    assert [(r.relationship_type, r.relationship_name, r.field, r.object) for r in product] == [
        (RelationshipType.CHILD, "batchs__cr", "product__c", "batch__c"),
        (RelationshipType.REFERENCE_INBOUND, "fans__cr", "favourite_product__c", "sample__c"),
    ]
    assert product[0].relationship_label == "Batches"
    assert product[1].relationship_deletion is RelationshipDeletion.SETNULL
    sample = tree.relationships("sample__c")
    assert [(r.relationship_type, r.relationship_name, r.object) for r in sample] == [
        (RelationshipType.PARENT, "batch__cr", "batch__c"),
        (RelationshipType.REFERENCE_OUTBOUND, "favourite_product__cr", "product__c"),
    ]
    assert tree.children("product__c")[0][0].name == "batch__c"
    assert tree.parent_of("sample__c")[0].name == "batch__c"  # type: ignore[index]
    assert tree.parent_of("product__c") is None
    assert tree.descendants("product__c") == ("batch__c", "sample__c")
    assert tree.relationships("nope__c") == ()


def test_prefix_allocation_is_deterministic_and_skips_used_and_retired_prefixes() -> None:
    base = Catalog()
    assert base.allocate_prefix() == "A00"
    one = base.with_object(_object("a__c", "A00"))
    assert one.allocate_prefix() == "A01"
    gone = one.without_object("a__c")
    assert gone.retired_prefixes == frozenset({"A00"})
    assert gone.allocate_prefix() == "A01"
    assert Catalog(retired_prefixes={"A00", "A01"}).allocate_prefix() == "A02"
    assert Catalog.standard().allocate_prefix() == "A00"


def _object(name: str, prefix: str, *fields: FieldDefinition) -> ObjectDefinition:
    return ObjectDefinition(
        name=name, label=name, label_plural=name, prefix=prefix, fields=(*standard_fields(), *fields)
    )


def _ref(name: str, target: str, parent: bool = False, **kw: object) -> FieldDefinition:
    return FieldDefinition(
        name=name,
        type=FieldType.OBJECT,
        label=name,
        object=target,
        relationship_type=FieldRelationship.PARENT if parent else FieldRelationship.REFERENCE,
        relationship_deletion=RelationshipDeletion.BLOCK,
        relationship_outbound_name=name + "r",
        relationship_inbound_name=f"{name}_in__cr",
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("objects", "problem"),
    [
        ([_object("a__c", "A0")], "Object [a__c] has an invalid prefix [A0]"),
        ([_object("a__c", "a00")], "invalid prefix [a00]"),
        ([_object("a__c", "A00"), _object("b__c", "A00")], "Objects [a__c] and [b__c] share the prefix [A00]"),
        ([_object("A__c", "A00")], "Object name [A__c] is not a valid component name"),
        (
            [ObjectDefinition(name="a__c", label="a", label_plural="a", prefix="A00")],
            "Object [a__c] lacks the standard field [id]",
        ),
        (
            [
                _object(
                    "a__c",
                    "A00",
                    FieldDefinition(name="x__c", type=FieldType.STRING, label="x", max_length=5),
                    FieldDefinition(name="x__c", type=FieldType.STRING, label="x", max_length=5),
                )
            ],
            "Field [a__c.x__c] is defined twice",
        ),
        (
            [_object("a__c", "A00", FieldDefinition(name="other_id", type=FieldType.ID, label="x"))],
            "Field [a__c.other_id] does not have a valid component name",
        ),
        (
            [_object("a__c", "A00", FieldDefinition(name="x__c", type=FieldType.STRING, label="x"))],
            "Field [a__c.x__c] needs a max_length from 1 to 1500",
        ),
        (
            [_object("a__c", "A00", FieldDefinition(name="x__c", type=FieldType.PICKLIST, label="x"))],
            "Field [a__c.x__c] needs a picklist",
        ),
        ([_object("a__c", "A00", _ref("x__c", "b__c"))], "points at the object [b__c], which does not exist"),
        (
            [_object("a__c", "A00", _ref("x__c", "a__c", parent=True))],
            "Parent relationships loop: a__c -> a__c",
        ),
        (
            [
                _object("a__c", "A00", _ref("b__c", "b__c", parent=True)),
                _object("b__c", "A01", _ref("a__c", "a__c", parent=True)),
            ],
            "Parent relationships loop: a__c -> b__c -> a__c",
        ),
        (
            [
                _object("p__c", "A00"),
                _object("q__c", "A01"),
                _object("c__c", "A02", _ref("p__c", "p__c", parent=True), _ref("q__c", "q__c", parent=True)),
            ],
            "Object [c__c] has more than one parent field: p__c, q__c",
        ),
        (
            [
                _object("p__c", "A00"),
                _object(
                    "c__c",
                    "A01",
                    _ref("p__c", "p__c", parent=True, required=True).evolve(
                        relationship_deletion=RelationshipDeletion.SETNULL
                    ),
                ),
            ],
            "is a required parent field and cannot be cleared by setnull",
        ),
    ],
)
def test_rules_a_catalog_checks(objects: list[ObjectDefinition], problem: str) -> None:
    catalog = Catalog(objects)
    assert any(problem in p for p in catalog.problems()), catalog.problems()
    with pytest.raises(CatalogError):
        catalog.check()


def test_an_object_using_a_retired_prefix_is_a_problem() -> None:
    catalog = Catalog([_object("a__c", "A00")], [DEFAULT_STATUS_PICKLIST], retired_prefixes={"A00"})
    assert catalog.problems() == ["Object [a__c] uses the retired prefix [A00]"]


def test_a_valid_catalog_checks_to_itself(tree: Catalog) -> None:
    assert tree.check() is tree


def test_json_round_trip_is_exact_and_plain(tree: Catalog, build: Build) -> None:
    changed = build("DROP Object sample__c;", tree)
    data = catalog_to_json(changed)
    text = json.dumps(data)  # plain JSON: no Decimals, enums or tuples left
    again = catalog_from_json(json.loads(text))
    assert again == changed
    assert again.retired_prefixes == frozenset({"A02"})
    product = changed.object("product__c")
    assert product is not None
    stored = object_to_json(product)
    price = next(f for f in stored["fields"] if f["name"] == "price__c")
    assert price == {
        "name": "price__c",
        "type": "Number",
        "label": "Price",
        "scale": 2,
        "min_value": {"decimal": "0"},
        "max_value": {"decimal": "1000"},
    }
    assert object_from_json(json.loads(json.dumps(stored))) == product


def test_json_of_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown catalog format"):
        catalog_from_json({"format": 99})


def test_catalog_changes_leave_the_original_untouched(tree: Catalog) -> None:
    before = catalog_to_json(tree)
    tree.without_object("sample__c")
    tree.renamed_object("product__c", "x__c")
    tree.renamed_picklist("color__c", "y__c")
    assert catalog_to_json(tree) == before


def test_deep_copy_follows_parent_fields_with_hierarchical_copy_on(tree: Catalog, build: Build) -> None:
    assert [o.name for o, _ in tree.copy_children("product__c")] == ["batch__c"]
    assert tree.copy_children("sample__c") == ()  # references are never followed
    off = build("ALTER Object batch__c (MODIFY Field product__c (hierarchical_copy(false)));", tree)
    assert off.copy_children("product__c") == ()
    assert [o.name for o, _ in off.children("product__c")] == ["batch__c"]


def test_a_catalog_saved_before_standard_fields_were_added_gains_them_and_keeps_its_own() -> None:
    """A vault whose catalog MDL saved before a release that added standard fields (the EDL
    template set's) and picklists reads them all, its own objects untouched."""
    current = Catalog.standard()
    edl = current.object("edl__v")
    assert edl is not None
    old = edl.evolve(fields=tuple(f for f in edl.fields if f.name not in ("template_level__v", "parent_template__v")))
    stored = current.with_object(old).without_picklist("edl_template_level__v")
    stored = stored.with_object(ObjectDefinition(name="mine__c", label="Mine", label_plural="Mine", prefix="A00",
                                                 fields=standard_fields()))
    upgraded = catalog_from_json(catalog_to_json(stored)).with_standard_additions()
    assert upgraded.object("edl__v") == edl
    assert upgraded.picklist("edl_template_level__v") == current.picklist("edl_template_level__v")
    assert upgraded.object("mine__c") == stored.object("mine__c")
    assert upgraded.with_standard_additions() == upgraded
