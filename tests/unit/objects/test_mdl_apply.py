"""Applying MDL to a catalog: what each command does, that each statement is all or nothing, and
every way a statement can fail, with the reason a user sees."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from vaultjobs.objects import Catalog, FieldRelationship, FieldType, RelationshipDeletion, Source
from vaultjobs.objects.mdl import Command, execute, render_execution

Build = Callable[..., Catalog]


def run_one(catalog: Catalog, text: str) -> tuple[Catalog, str | None]:
    """The catalog after ``text``'s single statement, and its failure reason (None on success)."""
    after, (result,) = execute(catalog, text)
    return after, result.reason


def test_create_builds_fields_with_standard_fields_first_and_defaults(tree: Catalog) -> None:
    product = tree.object("product__c")
    assert product is not None
    assert product.source is Source.CUSTOM
    assert [f.name for f in product.fields][:8] == [
        "id",
        "name__v",
        "status__v",
        "object_type__v",
        "created_by__v",
        "created_date__v",
        "modified_by__v",
        "modified_date__v",
    ]
    internal = product.field("internal_name__c")
    assert internal is not None and internal.required and internal.unique and internal.max_length == 20
    price = product.field("price__c")
    assert price is not None and (price.scale, price.min_value, price.max_value) == (2, Decimal(0), Decimal(1000))
    batch = tree.object("batch__c")
    assert batch is not None
    parent = batch.field("product__c")
    assert parent is not None and parent.relationship_type is FieldRelationship.PARENT
    assert parent.relationship_outbound_name == "product__cr"
    assert parent.relationship_inbound_name == "batchs__cr"
    assert parent.relationship_deletion is RelationshipDeletion.CASCADE
    sample = tree.object("sample__c")
    assert sample is not None
    fav = sample.field("favourite_product__c")
    assert fav is not None and fav.relationship_type is FieldRelationship.REFERENCE


def test_new_objects_get_prefixes_in_order_and_a_dropped_prefix_is_never_reused(tree: Catalog, build: Build) -> None:
    prefixes = [tree.object(n).prefix for n in ("product__c", "batch__c", "sample__c")]  # type: ignore[union-attr]
    assert prefixes == ["A00", "A01", "A02"]
    after = build("DROP Object sample__c;\nCREATE Object other__c (label('O'), label_plural('Os'));", tree)
    assert after.object("other__c").prefix == "A03"  # type: ignore[union-attr]
    assert "A02" in after.retired_prefixes


def test_recreate_makes_an_existing_object_match_and_keeps_its_prefix(tree: Catalog, build: Build) -> None:
    after = build(
        """RECREATE Object batch__c (label('Lot'), label_plural('Lots'),
           Field product__c (label('Product'), type('Object'), object('product__c'), relationship_type('parent'),
              relationship_deletion('cascade')),
           Field expiry__c (label('Expiry'), type('Date')));""",
        tree,
    )
    batch = after.object("batch__c")
    assert batch is not None
    assert (batch.label, batch.prefix) == ("Lot", "A01")
    assert batch.field("code__c") is None  # not written: dropped
    assert batch.field("expiry__c") is not None
    assert batch.field("product__c").required is False  # type: ignore[union-attr]


def test_recreate_creates_when_missing(build: Build) -> None:
    catalog = build("RECREATE Object new__c (label('N'), label_plural('Ns'));")
    assert catalog.object("new__c") is not None


def test_alter_sets_attributes_and_adds_modifies_renames_drops_fields(tree: Catalog, build: Build) -> None:
    after = build(
        """ALTER Object product__c (
             label('Medicine'),
             ADD Field launch__c (label('Launch'), type('DateTime')),
             MODIFY Field internal_name__c (max_length(40), label('Internal')),
             RENAME Field price__c TO list_price__c,
             DROP Field color__c,
             MODIFY Field name__v (label('Product Name'))
           );""",
        tree,
    )
    product = after.object("product__c")
    assert product is not None
    assert product.label == "Medicine"
    assert product.field("launch__c").type is FieldType.DATETIME  # type: ignore[union-attr]
    internal = product.field("internal_name__c")
    assert internal is not None and (internal.max_length, internal.label, internal.unique) == (40, "Internal", True)
    assert product.field("price__c") is None and product.field("list_price__c") is not None
    assert product.field("color__c") is None
    assert product.field("name__v").label == "Product Name"  # type: ignore[union-attr]


def test_alter_may_add_custom_fields_to_standard_objects(build: Build) -> None:
    catalog = build("ALTER Object study__v (ADD Field phase__c (label('Phase'), type('String')));")
    assert catalog.object("study__v").field("phase__c") is not None  # type: ignore[union-attr]


def test_rename_object_repoints_the_fields_that_reference_it(tree: Catalog, build: Build) -> None:
    after = build("RENAME Object product__c TO medicine__c;", tree)
    assert after.object("product__c") is None
    assert after.object("medicine__c").prefix == "A00"  # type: ignore[union-attr]
    assert after.object("batch__c").field("product__c").object == "medicine__c"  # type: ignore[union-attr]


def test_picklist_alter_and_rename_follow_through(tree: Catalog, build: Build) -> None:
    after = build(
        """ALTER Picklist color__c (
             ADD Picklistentry green__c (value('Green'), order(4)),
             MODIFY Picklistentry red__c (value('Crimson')),
             RENAME Picklistentry blue__c TO navy__c,
             DROP Picklistentry old__c);
           RENAME Picklist color__c TO colour__c;""",
        tree,
    )
    colour = after.picklist("colour__c")
    assert colour is not None and after.picklist("color__c") is None
    assert [(e.name, e.label) for e in colour.entries] == [
        ("red__c", "Crimson"),
        ("navy__c", "Blue"),
        ("green__c", "Green"),
    ]
    assert after.object("product__c").field("color__c").picklist == "colour__c"  # type: ignore[union-attr]


def test_drop_picklist_and_object_when_unused(build: Build) -> None:
    catalog = build("CREATE Picklist p__c (label('P'));\nCREATE Object o__c (label('O'), label_plural('Os'));")
    after = build("DROP Picklist p__c;\nDROP Object o__c;", catalog)
    assert after.picklist("p__c") is None and after.object("o__c") is None


def test_a_failing_statement_changes_nothing_and_the_script_goes_on(tree: Catalog) -> None:
    after, results = execute(
        tree,
        """ALTER Object product__c (ADD Field good__c (label('G'), type('String')), ADD Field bad__c (label('B')));
           ALTER Object batch__c (label('Lot'));""",
    )
    assert [r.success for r in results] == [False, True]
    assert after.object("product__c") == tree.object("product__c")
    assert after.object("batch__c").label == "Lot"  # type: ignore[union-attr]


def test_results_render_as_execute_mdl_answers(tree: Catalog) -> None:
    _, results = execute(tree, "ALTER Object batch__c (label('Lot'));\nDROP Object product__c;")
    body = render_execution(results, vault="vault.example.com", execution_time=0.0284)
    assert body == {
        "responseStatus": "FAILURE",
        "script_execution": {
            "code": "GEN-F-0",
            "message": "1 of 2 statements failed",
            "warnings": 0,
            "failures": 1,
            "exceptions": 0,
            "components_affected": 1,
            "execution_time": 0.028,
        },
        "statement_execution": [
            {
                "vault": "vault.example.com",
                "statement": 1,
                "command": "ALTER",
                "component": "Object.batch__c",
                "message": "[SUCCESS] ALTER Object batch__c",
                "response": "SUCCESS",
            },
            {
                "vault": "vault.example.com",
                "statement": 2,
                "command": "DROP",
                "component": "Object.product__c",
                "message": "[FAILURE] DROP Object product__c: Object [product__c] is referenced by "
                "batch__c.product__c, sample__c.favourite_product__c; change or drop those fields first "
                "(line 2, column 1)",
                "response": "FAILURE",
            },
        ],
    }


def test_the_documented_picklist_example_answers_as_documented() -> None:
    _, results = execute(
        Catalog.standard(),
        "RECREATE Picklist color__c (label('Color'), active(true), "
        "Picklistentry red__c(value('Red'), order(1), active(true)));",
    )
    body = render_execution(results, vault="promo-vee.vaultdev.com", execution_time=0.028)
    assert body["responseStatus"] == "SUCCESS"
    assert body["script_execution"] == {
        "code": "GEN-S-0",
        "message": "OK",
        "warnings": 0,
        "failures": 0,
        "exceptions": 0,
        "components_affected": 1,
        "execution_time": 0.028,
    }
    assert body["statement_execution"] == [
        {
            "vault": "promo-vee.vaultdev.com",
            "statement": 1,
            "command": "RECREATE",
            "component": "Picklist.color__c",
            "message": "[SUCCESS] RECREATE Picklist color__c",
            "response": "SUCCESS",
        }
    ]
    assert results[0].command is Command.RECREATE


def test_vault_fixture_scripts_apply_in_sequence(build: Build, script: Callable[[str], str]) -> None:
    catalog = build(script("vapil_recreate"))
    obj = catalog.object("vapil_test_mdl_object__c")
    assert obj is not None and obj.description == "Test object for VAPIL testing"
    assert dict(obj.extra)["enable_esignatures"] is False
    assert dict(obj.extra)["user_role_setup_object"] is None
    catalog = build(script("vapil_alter"), catalog)
    assert catalog.object("vapil_test_mdl_object__c").field("test_alter_field__c") is not None  # type: ignore[union-attr]
    catalog = build(script("vapil_drop"), catalog)
    assert catalog.object("vapil_test_mdl_object__c") is None


OBJ = "CREATE Object x__c (label('X'), label_plural('Xs')"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # existence
        ("CREATE Object product__c (label('P'), label_plural('Ps'));", "Object [product__c] already exists"),
        ("ALTER Object missing__c (label('M'));", "Object [missing__c] does not exist (line 1, column 1)"),
        ("DROP Object missing__c;", "Object [missing__c] does not exist"),
        ("RENAME Object missing__c TO other__c;", "Object [missing__c] does not exist"),
        ("RENAME Object product__c TO batch__c;", "Object [batch__c] already exists"),
        # standard components
        ("DROP Object study__v;", "Object [study__v] is a standard object and cannot be dropped"),
        ("RECREATE Object edl__v (label('E'), label_plural('Es'));", "is a standard object and cannot be recreated"),
        ("RENAME Object edl__v TO my_edl__c;", "is a standard object and cannot be renamed"),
        ("CREATE Object thing__v (label('T'), label_plural('Ts'));", "Object [thing__v] is in a standard namespace"),
        ("RENAME Object product__c TO product__v;", "is in a standard namespace"),
        ("CREATE Object Bad_Name__c (label('T'), label_plural('Ts'));", "[Bad_Name__c] is not a valid Object name"),
        ("CREATE Object nonamespace (label('T'), label_plural('Ts'));", "is not a valid Object name"),
        ("DROP Picklist default_status__v;", "is a standard picklist and cannot be dropped"),
        (
            "ALTER Object product__c (DROP Field name__v);",
            "Field [product__c.name__v] is a standard field and cannot be dropped",
        ),
        ("ALTER Object product__c (RENAME Field status__v TO state__c);", "is a standard field and cannot be renamed"),
        (
            "ALTER Object product__c (MODIFY Field name__v (required(false)));",
            "Attribute [required] of standard field [product__c.name__v] cannot be changed (line 1, column 48)",
        ),
        (
            "ALTER Object product__c (ADD Field thing__v (label('T'), type('String')));",
            "Field [thing__v] is in a standard namespace",
        ),
        # required attributes
        ("CREATE Object x__c (label('X'));", "Missing required attribute [label_plural] for Object [x__c]"),
        (OBJ + ", Field f__c (label('F')));", "Missing required attribute [type] for Field [x__c.f__c]"),
        (OBJ + ", Field f__c (type('String')));", "Missing required attribute [label] for Field [x__c.f__c]"),
        (OBJ + ", Field f__c (label('F'), type('Picklist')));", "Missing required attribute [picklist]"),
        (OBJ + ", Field f__c (label('F'), type('Object')));", "Missing required attribute [object]"),
        (
            "CREATE Picklist p__c (Picklistentry a__c (order(1)));",
            "Missing required attribute [label] for Picklist [p__c]",
        ),
        ("CREATE Picklist p__c (label('P'), Picklistentry a__c (order(1)));", "Missing required attribute [value]"),
        # field types
        (
            OBJ + ", Field f__c (label('F'), type('RichText')));",
            "Unsupported field type [RichText] for Field [x__c.f__c]",
        ),
        (OBJ + ", Field f__c (label('F'), type('Banana')));", "Unsupported field type [Banana]"),
        (OBJ + ", Field f__c (label('F'), type('ID')));", "Unsupported field type [ID]"),
        # attribute values
        (
            OBJ + ", Field f__c (label('F'), type('String'), required('yes')));",
            "Attribute [required] of Field [x__c.f__c] expects true or false, got ('yes') (line 1, column 93)",
        ),
        (OBJ + ", order('first'));", "Attribute [order] of Object [x__c] expects a whole number"),
        (OBJ + ", order(1.5));", "expects a whole number"),
        (OBJ + ", description('a', 'b'));", "Attribute [description] of Object [x__c] takes one value, got 2"),
        (OBJ + ", flavour('mint'));", "Unknown attribute [flavour] for Object [x__c]"),
        (
            OBJ + ", Field f__c (label('F'), type('Boolean'), max_length(5)));",
            "Attribute [max_length] does not apply to Boolean field",
        ),
        (OBJ + ", Field f__c (label('F'), type('String'), max_length(0)));", "needs a max_length from 1 to 1500"),
        (OBJ + ", Field f__c (label('F'), type('String'), max_length(2000)));", "needs a max_length from 1 to 1500"),
        (OBJ + ", Field f__c (label('F'), type('Number'), scale(12)));", "needs a scale from 0 to 9"),
        (
            OBJ + ", Field f__c (label('F'), type('Number'), min_value(5), max_value(1)));",
            "has min_value 5 above max_value 1",
        ),
        (
            OBJ + ", Field f__c (label('F'), type('Object'), object('product__c'), relationship_type('child')));",
            "expects one of 'parent', 'reference'",
        ),
        (
            OBJ + ", Field f__c (label('F'), type('Object'), object('product__c'), relationship_deletion('explode')));",
            "expects one of 'block', 'cascade', 'setnull'",
        ),
        (
            OBJ + ", Field f__c (label('F'), type('Picklist'), picklist('Docfield.x__c')));",
            "expects a reference to a Picklist",
        ),
        (
            OBJ + ", Field f__c (label('F'), type('String'), hierarchical_copy(false)));",
            "Attribute [hierarchical_copy] does not apply to String field",
        ),
        # references
        (
            OBJ + ", Field f__c (label('F'), type('Picklist'), picklist('Picklist.nope__c')));",
            "uses the picklist [nope__c], which does not exist",
        ),
        (
            OBJ + ", Field f__c (label('F'), type('Object'), object('nope__c')));",
            "points at the object [nope__c], which does not exist",
        ),
        (
            "DROP Object product__c;",
            "Object [product__c] is referenced by batch__c.product__c, sample__c.favourite_product__c",
        ),
        ("DROP Picklist color__c;", "Picklist [color__c] is used by product__c.color__c"),
        # parent rules
        (
            "ALTER Object sample__c (ADD Field product__c (label('P'), type('Object'), object('product__c'), "
            "relationship_type('parent')));",
            "has more than one parent field: batch__c, product__c",
        ),
        (
            "ALTER Object product__c (ADD Field sample__c (label('S'), type('Object'), object('sample__c'), "
            "relationship_type('parent')));",
            "Parent relationships loop",
        ),
        (
            "ALTER Object product__c (ADD Field parent__c (label('P'), type('Object'), object('product__c'), "
            "relationship_type('parent')));",
            "Parent relationships loop: product__c -> product__c",
        ),
        (
            "ALTER Object batch__c (ADD Field f__c (label('F'), type('Object'), object('product__c'), "
            "relationship_inbound_name('batchs__cr')));",
            "Object [product__c] has two relationships named [batchs__cr]",
        ),
        # subcomponents
        (
            "ALTER Object product__c (ADD Field price__c (label('P'), type('Number')));",
            "Field [product__c.price__c] already exists",
        ),
        ("ALTER Object product__c (MODIFY Field nope__c (label('N')));", "Field [product__c.nope__c] does not exist"),
        ("ALTER Object product__c (DROP Field nope__c);", "Field [product__c.nope__c] does not exist"),
        ("ALTER Object product__c (RENAME Field price__c TO color__c);", "Field [product__c.color__c] already exists"),
        (
            "ALTER Object product__c (MODIFY Field price__c (type('String')));",
            "cannot change type from Number to String",
        ),
        (
            "RECREATE Object batch__c (label('B'), label_plural('Bs'), Field code__c (label('C'), type('Number')));",
            "Field [batch__c.code__c] cannot change type from String to Number",
        ),
        (
            "ALTER Picklist color__c (ADD Picklistentry red__c (value('R')));",
            "Picklistentry [color__c.red__c] already exists",
        ),
        (
            "ALTER Picklist color__c (MODIFY Picklistentry nope__c (value('R')));",
            "Picklistentry [color__c.nope__c] does not exist",
        ),
        (
            "ALTER Picklist color__c (RENAME Picklistentry red__c TO blue__c);",
            "Picklistentry [color__c.blue__c] already exists",
        ),
        ("ALTER Picklist missing__c (label('M'));", "Picklist [missing__c] does not exist"),
        ("CREATE Picklist color__c (label('C'));", "Picklist [color__c] already exists"),
        (
            "ALTER Picklist default_status__v (DROP Picklistentry active__v);",
            "belongs to a standard picklist and cannot be dropped",
        ),
    ],
)
def test_statement_errors(tree: Catalog, text: str, reason: str) -> None:
    after, failure = run_one(tree, text)
    assert failure is not None and reason in failure, failure
    assert after == tree
