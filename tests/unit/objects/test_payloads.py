"""Metadata payloads against the examples in Vault's documentation (spec sections 2.1 to 2.4)."""

from __future__ import annotations

from datetime import UTC, datetime

from vaultjobs.objects import (
    Catalog,
    FieldDefinition,
    FieldRelationship,
    FieldType,
    ObjectDefinition,
    RelationshipDeletion,
    Source,
)
from vaultjobs.objects.metadata import DEFAULT_STATUS_PICKLIST, standard_fields
from vaultjobs.objects.payloads import (
    IN_DEPLOYMENT,
    AuditStamps,
    collection_object,
    record_object,
    render_field_metadata,
    render_object_collection,
    render_object_metadata,
)

PRODUCT_FAMILY = ObjectDefinition(
    name="product_family__v",
    label="Product Family",
    label_plural="Product Families",
    prefix="V95",
    source=Source.STANDARD,
    fields=standard_fields(),
)
PRODUCT = ObjectDefinition(
    name="product__v",
    label="Product",
    label_plural="Products",
    prefix="00P",
    source=Source.STANDARD,
    order=12,
    fields=(
        *standard_fields(),
        FieldDefinition(
            name="product_family__v",
            type=FieldType.OBJECT,
            label="Product Family",
            source=Source.STANDARD,
            object="product_family__v",
            relationship_type=FieldRelationship.REFERENCE,
            relationship_outbound_name="product_family__vr",
            relationship_inbound_name="products__vr",
            relationship_deletion=RelationshipDeletion.BLOCK,
        ),
    ),
)
COUNTRY = ObjectDefinition(
    name="country__v",
    label="Country",
    label_plural="Countries",
    prefix="00C",
    source=Source.STANDARD,
    fields=standard_fields(),
)
CATALOG = Catalog([COUNTRY, PRODUCT_FAMILY, PRODUCT], [DEFAULT_STATUS_PICKLIST])


def test_catalog_of_the_examples_is_valid() -> None:
    assert CATALOG.problems() == []


def test_object_collection_entry_is_the_documented_one() -> None:
    body = render_object_collection(CATALOG, "v25.2")
    assert body["objects"][0] == {
        "url": "/api/v25.2/metadata/vobjects/country__v",
        "label": "Country",
        "name": "country__v",
        "label_plural": "Countries",
        "prefix": "00C",
        "in_menu": True,
        "source": "standard",
        "status": ["active__v"],
        "configuration_state": "STEADY_STATE",
    }
    assert list(body["objects"][0]) == [
        "url",
        "label",
        "name",
        "label_plural",
        "prefix",
        "in_menu",
        "source",
        "status",
        "configuration_state",
    ]
    assert [o["name"] for o in body["objects"]] == ["country__v", "product_family__v", "product__v"]


def test_collection_reports_objects_in_deployment_and_urls_follow_the_version() -> None:
    body = render_object_collection(CATALOG, "v26.1", {"product__v": IN_DEPLOYMENT})
    product = body["objects"][2]
    assert product["configuration_state"] == "IN_DEPLOYMENT"
    assert product["url"] == "/api/v26.1/metadata/vobjects/product__v"


def test_object_metadata_matches_the_documented_example() -> None:
    stamps = AuditStamps(
        created_by=1,
        created_date=datetime(2020, 5, 26, 10, 19, 27, tzinfo=UTC),
        modified_by=1,
        modified_date=datetime(2020, 12, 23, 4, 0, 21, tzinfo=UTC),
    )
    body = render_object_metadata(CATALOG, PRODUCT, "v25.2", stamps=stamps)["object"]
    head = {k: body[k] for k in list(body)[:21]}
    assert head == {
        "name": "product__v",
        "label": "Product",
        "label_plural": "Products",
        "prefix": "00P",
        "source": "standard",
        "status": ["active__v"],
        "data_store": "standard",
        "object_class": "base",
        "allow_types": False,
        "default_obj_type": "base__v",
        "available_lifecycles": [],
        "in_menu": True,
        "order": 12,
        "auditable": True,
        "system_managed": False,
        "dynamic_security": False,
        "created_by": 1,
        "created_date": "2020-05-26T10:19:27.000Z",
        "modified_by": 1,
        "modified_date": "2020-12-23T04:00:21.000Z",
        "urls": {
            "field": "/api/v25.2/metadata/vobjects/product__v/fields/{name}",
            "record": "/api/v25.2/vobjects/product__v/{id}",
            "list": "/api/v25.2/vobjects/product__v",
            "metadata": "/api/v25.2/metadata/vobjects/product__v",
        },
    }
    assert body["relationships"] == [
        {
            "relationship_name": "product_family__vr",
            "relationship_label": "Product Family",
            "field": "product_family__v",
            "relationship_type": "reference_outbound",
            "relationship_deletion": "block",
            "object": {
                "url": "/api/v25.2/metadata/vobjects/product_family__v",
                "name": "product_family__v",
                "label": "Product Family",
                "label_plural": "Product Families",
                "prefix": "V95",
            },
        }
    ]
    id_field = body["fields"][0]
    assert {k: id_field[k] for k in list(id_field)[:11]} == {
        "name": "id",
        "type": "ID",
        "label": "ID",
        "required": False,
        "editable": False,
        "no_copy": True,
        "source": "standard",
        "list_column": False,
        "facetable": False,
        "status": ["active__v"],
        "order": 0,
    }
    assert [f["name"] for f in body["fields"]][:8] == [
        "id",
        "name__v",
        "status__v",
        "object_type__v",
        "created_by__v",
        "created_date__v",
        "modified_by__v",
        "modified_date__v",
    ]


def test_object_metadata_without_stamps_leaves_them_out_and_shows_inbound_relationships() -> None:
    body = render_object_metadata(CATALOG, PRODUCT_FAMILY, "v24.3")["object"]
    assert "created_date" not in body
    assert body["relationships"] == [
        {
            "relationship_name": "products__vr",
            "relationship_label": "Products",
            "field": "product_family__v",
            "relationship_type": "reference_inbound",
            "relationship_deletion": "block",
            "object": {
                "url": "/api/v24.3/metadata/vobjects/product__v",
                "name": "product__v",
                "label": "Product",
                "label_plural": "Products",
                "prefix": "00P",
            },
        }
    ]


def test_field_metadata_by_type(tree: Catalog) -> None:
    product = tree.object("product__c")
    sample = tree.object("sample__c")
    assert product is not None and sample is not None
    price = render_field_metadata(tree, product.field("price__c"), "v25.2")["field"]  # type: ignore[arg-type]
    assert price["type"] == "Number"
    assert (price["scale"], price["min_value"], price["max_value"]) == (2, 0, 1000)
    assert isinstance(price["max_value"], int)
    color = render_field_metadata(tree, product.field("color__c"), "v25.2")["field"]  # type: ignore[arg-type]
    assert (color["picklist"], color["multi_value"]) == ("color__c", True)
    name = render_field_metadata(tree, product.field("internal_name__c"), "v25.2")["field"]  # type: ignore[arg-type]
    assert (name["max_length"], name["required"], name["unique"]) == (20, True, True)
    batch = render_field_metadata(tree, sample.field("batch__c"), "v25.2")["field"]  # type: ignore[arg-type]
    assert batch["object"] == {
        "url": "/api/v25.2/metadata/vobjects/batch__c",
        "name": "batch__c",
        "label": "Batch",
        "label_plural": "Batches",
        "prefix": "A01",
    }
    assert (batch["relationship_type"], batch["relationship_deletion"]) == ("parent", "cascade")
    assert (batch["relationship_outbound_name"], batch["relationship_inbound_name"]) == ("batch__cr", "samples__cr")
    created = render_field_metadata(tree, sample.field("created_date__v"), "v25.2")["field"]  # type: ignore[arg-type]
    assert (created["type"], created["editable"], created["system_managed"]) == ("DateTime", False, True)


def test_record_endpoint_object_blocks() -> None:
    assert record_object(PRODUCT, "v25.2") == {
        "url": "/api/v25.2/metadata/vobjects/product__v",
        "label": "Product",
        "name": "product__v",
        "label_plural": "Products",
        "prefix": "00P",
    }
    block = collection_object(PRODUCT, "v24.3")
    assert list(block) == [
        "url",
        "label",
        "name",
        "label_plural",
        "prefix",
        "order",
        "in_menu",
        "source",
        "status",
        "configuration_state",
    ]
    assert block["order"] == 12
