"""Record values: coercion from JSON and CSV with Vault-style errors, and 15-character record ids."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from vaultjobs.errors import InvalidData, OperationNotAllowed, ParameterRequired, VaultError
from vaultjobs.objects import Catalog, FieldDefinition, FieldType
from vaultjobs.objects.values import (
    coerce_record,
    coerce_value,
    format_record_id,
    is_record_id,
    missing_record,
    not_editable,
    record_id_prefix,
    to_csv_value,
    to_json_value,
    unique_clash,
    unknown_field,
)


def field(tree: Catalog, object_name: str, name: str) -> FieldDefinition:
    definition = tree.object(object_name)
    assert definition is not None
    found = definition.field(name)
    assert found is not None
    return found


def test_record_ids_are_prefix_and_twelve_digits() -> None:
    assert format_record_id("00P", 202) == "00P000000000202"
    assert format_record_id("0ST", 1) == "0ST000000000001"
    assert len(format_record_id("A00", 999_999_999_999)) == 15
    assert is_record_id("00P000000000202") and is_record_id("0ST00000000O001")
    assert not is_record_id("00P0202") and not is_record_id("00p000000000202")
    assert record_id_prefix("0EL000000000007") == "0EL"
    assert record_id_prefix("nonsense") is None
    with pytest.raises(ValueError):
        format_record_id("00P", 0)
    with pytest.raises(ValueError):
        format_record_id("00P", 10**12)
    with pytest.raises(ValueError):
        format_record_id("0P", 1)


def test_record_ids_sort_in_creation_order() -> None:
    ids = [format_record_id("A00", n) for n in (1, 9, 10, 100, 12345)]
    assert sorted(ids) == ids


def test_strings_and_max_length(tree: Catalog) -> None:
    internal = field(tree, "product__c", "internal_name__c")
    assert coerce_value(internal, "WonderDrug") == "WonderDrug"
    with pytest.raises(
        InvalidData, match=r"Value for field \[internal_name__c\] is too long: 21 characters, at most 20"
    ):
        coerce_value(internal, "x" * 21)
    with pytest.raises(InvalidData, match="expected text"):
        coerce_value(internal, 12)


def test_required_fields_answer_vaults_missing_parameter(tree: Catalog) -> None:
    internal = field(tree, "product__c", "internal_name__c")
    for empty in (None, ""):
        with pytest.raises(ParameterRequired) as caught:
            coerce_value(internal, empty)
        assert caught.value.message == "Missing required parameter [internal_name__c]"
    assert coerce_value(internal, None, enforce_required=False) is None


def test_numbers_keep_scale_and_range(tree: Catalog) -> None:
    price = field(tree, "product__c", "price__c")
    assert coerce_value(price, 12.5) == Decimal("12.5")
    assert coerce_value(price, "999.99", origin="csv") == Decimal("999.99")
    assert coerce_value(price, 3) == Decimal(3)
    assert coerce_value(price, "", origin="csv") is None
    with pytest.raises(InvalidData, match="more than 2 digits after the decimal point"):
        coerce_value(price, "1.234")
    with pytest.raises(InvalidData, match=r"outside the range \[0, 1000\]"):
        coerce_value(price, -1)
    for bad in ("abc", True, "NaN", [1]):
        with pytest.raises(InvalidData, match="expected a number"):
            coerce_value(price, bad)


def test_booleans_dates_and_datetimes() -> None:
    flag = FieldDefinition(name="flag__c", type=FieldType.BOOLEAN, label="Flag")
    assert coerce_value(flag, True) is True
    assert coerce_value(flag, "FALSE", origin="csv") is False
    with pytest.raises(InvalidData, match="expected true or false"):
        coerce_value(flag, "yes")
    day = FieldDefinition(name="day__c", type=FieldType.DATE, label="Day")
    assert coerce_value(day, "2026-02-28") == date(2026, 2, 28)
    for bad in ("2026-02-30", "28/02/2026", 20260228):
        with pytest.raises(InvalidData, match="YYYY-MM-DD"):
            coerce_value(day, bad)
    stamp = FieldDefinition(name="at__c", type=FieldType.DATETIME, label="At")
    assert coerce_value(stamp, "2015-07-30T20:55:16.000Z") == datetime(2015, 7, 30, 20, 55, 16, tzinfo=UTC)
    assert coerce_value(stamp, "2015-07-30T22:55:16+02:00") == datetime(2015, 7, 30, 20, 55, 16, tzinfo=UTC)
    assert coerce_value(stamp, "2015-07-30T20:55:16") == datetime(2015, 7, 30, 20, 55, 16, tzinfo=UTC)
    with pytest.raises(InvalidData, match="date-time"):
        coerce_value(stamp, "yesterday")


def test_picklists_from_json_and_csv(tree: Catalog) -> None:
    color = field(tree, "product__c", "color__c")
    picklist = tree.picklist("color__c")
    assert coerce_value(color, ["red__c", "blue__c"], picklist=picklist) == ("red__c", "blue__c")
    assert coerce_value(color, "red__c", picklist=picklist) == ("red__c",)
    assert coerce_value(color, "red__c, blue__c", origin="csv", picklist=picklist) == ("red__c", "blue__c")
    assert coerce_value(color, [], picklist=picklist) is None
    with pytest.raises(InvalidData, match=r"Invalid picklist value \[green__c\] for field \[color__c\]"):
        coerce_value(color, ["green__c"], picklist=picklist)
    with pytest.raises(InvalidData, match=r"Invalid picklist value \[old__c\]"):  # inactive entry
        coerce_value(color, ["old__c"], picklist=picklist)
    with pytest.raises(InvalidData, match="lists a picklist value twice"):
        coerce_value(color, ["red__c", "red__c"], picklist=picklist)
    status = field(tree, "product__c", "status__v")
    with pytest.raises(InvalidData, match=r"Field \[status__v\] takes one picklist value, got 2"):
        coerce_value(status, ["active__v", "inactive__v"], picklist=tree.picklist("default_status__v"))
    with pytest.raises(InvalidData, match="expected picklist value names"):
        coerce_value(color, {"red__c": True}, picklist=picklist)


def test_references_check_the_id_and_the_target_prefix(tree: Catalog) -> None:
    parent = field(tree, "batch__c", "product__c")
    assert coerce_value(parent, "A00000000000001", target_prefix="A00") == "A00000000000001"
    with pytest.raises(InvalidData, match=r"The resource \[A01000000000001\] does not exist"):
        coerce_value(parent, "A01000000000001", target_prefix="A00")
    with pytest.raises(InvalidData, match="expected a record id"):
        coerce_value(parent, "CholeCap", target_prefix="A00")
    with pytest.raises(ParameterRequired):
        coerce_value(parent, None)


def test_rendering_stored_values_for_json_and_csv() -> None:
    assert to_json_value(Decimal("12.50")) == 12.5
    assert to_json_value(Decimal("3")) == 3 and isinstance(to_json_value(Decimal("3")), int)
    assert to_json_value(("active__v",)) == ["active__v"]
    assert to_json_value(datetime(2015, 7, 30, 20, 55, 16, tzinfo=UTC)) == "2015-07-30T20:55:16.000Z"
    assert to_json_value(date(2026, 1, 2)) == "2026-01-02"
    assert to_json_value(None) is None
    assert to_csv_value(None) == ""
    assert to_csv_value(True) == "true"
    assert to_csv_value(("a__c", "b__c")) == "a__c,b__c"
    assert to_csv_value(Decimal("1.5")) == "1.5"


@pytest.mark.parametrize(
    ("error", "kind", "type_", "message"),
    [
        (
            unique_clash("name__v", "WonderDrug"),
            OperationNotAllowed,
            "OPERATION_NOT_ALLOWED",
            "Another resource already exists with [name__v=WonderDrug]",
        ),
        (
            missing_record("00P00000000Q007"),
            InvalidData,
            "INVALID_DATA",
            "The resource [00P00000000Q007] does not exist",
        ),
        (
            unknown_field("product__c", "nope__c"),
            InvalidData,
            "INVALID_DATA",
            "Field [nope__c] does not exist on object [product__c]",
        ),
        (not_editable("created_date__v"), InvalidData, "INVALID_DATA", "Field [created_date__v] is not editable"),
    ],
)
def test_record_errors_carry_vault_types(error: VaultError, kind: type, type_: str, message: str) -> None:
    assert isinstance(error, kind)
    assert (error.type, error.message) == (type_, message)


def test_a_whole_record_is_checked_column_by_column(tree: Catalog) -> None:
    batch = tree.object("batch__c")
    assert batch is not None
    record = coerce_record(
        tree,
        batch,
        {"id": "ignored", "name__v": "B-1", "product__c": "A00000000000001", "code__c": "", "status__v": "active__v"},
        creating=True,
    )
    assert record.values == {
        "name__v": "B-1",
        "product__c": "A00000000000001",
        "code__c": None,
        "status__v": ("active__v",),
    }
    assert record.lookups == {}


def test_a_relationship_column_names_the_parent_by_another_field(tree: Catalog) -> None:
    batch = tree.object("batch__c")
    assert batch is not None
    record = coerce_record(
        tree, batch, {"name__v": "B-2", "product__cr.name__v": "CholeCap"}, origin="csv", creating=True
    )
    assert record.lookups == {"product__c": ("name__v", "CholeCap")}
    with pytest.raises(ParameterRequired, match=r"\[product__c\]"):
        coerce_record(tree, batch, {"name__v": "B-3", "product__cr.name__v": ""}, origin="csv", creating=True)


@pytest.mark.parametrize(
    ("raw", "creating", "error", "message"),
    [
        ({"name__v": "B"}, True, ParameterRequired, "Missing required parameter [product__c]"),
        ({"product__c": "A00000000000001"}, True, ParameterRequired, "Missing required parameter [name__v]"),
        ({"code__c": "x"}, False, None, None),
        ({"nope__c": "x"}, False, InvalidData, "Field [nope__c] does not exist on object [batch__c]"),
        ({"nope__cr.name__v": "x"}, False, InvalidData, "Field [nope__cr.name__v] does not exist"),
        ({"created_date__v": "2026-01-01T00:00:00Z"}, False, InvalidData, "Field [created_date__v] is not editable"),
        ({"product__c": "B00000000000001"}, False, InvalidData, "The resource [B00000000000001] does not exist"),
    ],
)
def test_record_errors_name_the_column(
    tree: Catalog, raw: dict[str, object], creating: bool, error: type[VaultError] | None, message: str | None
) -> None:
    batch = tree.object("batch__c")
    assert batch is not None
    if error is None:
        assert coerce_record(tree, batch, raw, creating=creating).values
        return
    with pytest.raises(error) as caught:
        coerce_record(tree, batch, raw, creating=creating)
    assert message is not None and message in caught.value.message
