"""The object service over a real store (both engines): MDL saved with compare-and-swap, records
created and read back equal, the values' stored form, request bodies and the failure-file cell."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from vaultjobs import errors
from vaultjobs.jobtypes.objects.catalogs import CatalogService
from vaultjobs.jobtypes.objects.records import Records, decode, encode, unique_key
from vaultjobs.jobtypes.objects.tables import error_cell, read_records
from vaultjobs.models import User
from vaultjobs.objects import FieldDefinition, FieldType
from vaultjobs.store import Store
from vaultjobs.testing import ManualClock

SCRIPT = """
CREATE Object box__c (label('Box'), label_plural('Boxes'),
   Field code__c (label('Code'), type('String'), unique(true)),
   Field weight__c (label('Weight'), type('Number'), scale(2)),
   Field shipped__c (label('Shipped'), type('DateTime')));
"""


def admin(clock: ManualClock) -> User:
    now = clock.now()
    return User(id=1, username="admin", timezone="UTC", is_admin=True, active=True, created_at=now,
                password_changed_at=now)


@pytest.mark.parametrize(
    ("type_", "value"),
    [
        (FieldType.NUMBER, Decimal("12.50")),
        (FieldType.DATE, date(2026, 1, 31)),
        (FieldType.DATETIME, datetime(2026, 1, 31, 12, 0, 0, 123000, tzinfo=UTC)),
        (FieldType.PICKLIST, ("red__c", "blue__c")),
        (FieldType.BOOLEAN, False),
        (FieldType.STRING, "text, with comma"),
    ],
)
def test_values_survive_their_stored_form(type_: FieldType, value: object) -> None:
    definition = FieldDefinition(name="f__c", type=type_, label="F", scale=2 if type_ is FieldType.NUMBER else None)
    assert decode(definition, encode(value)) == value  # type: ignore[arg-type]


def test_numbers_are_unique_by_value_not_by_spelling() -> None:
    assert unique_key(Decimal("1.50")) == unique_key(Decimal("1.5")) == "1.5"
    assert unique_key("A") != unique_key("a")


def test_bodies_as_json_lists_lone_objects_and_csv() -> None:
    assert read_records(b'{"name__v": "x"}', "application/json") == ([{"name__v": "x"}], "json")
    rows, origin = read_records(b'\xef\xbb\xbfname__v,code__c\r\n"a, b",\r\n', "text/csv; charset=utf-8")
    assert (rows, origin) == ([{"name__v": "a, b", "code__c": None}], "csv")
    for body, content_type in ((b"", None), (b'"text"', None), (b"a,a\n1,2\n", "text/csv"), (b"\xff", "text/csv")):
        with pytest.raises(errors.InvalidData):
            read_records(body, content_type)


def test_error_cell_quotes_each_error_as_vault_shows() -> None:
    cell = error_cell([("PARAMETER_REQUIRED", "Missing required parameter [x]"), ("INVALID_DATA", 'a "b"')])
    assert cell == '"PARAMETER_REQUIRED|Missing required parameter [x]","INVALID_DATA|a ""b"""'


def test_mdl_and_records_round_trip_through_the_store(store: Store, clock: ManualClock) -> None:
    catalogs = CatalogService(store, clock)
    execution = catalogs.execute(SCRIPT, 1)
    assert execution.succeeded
    # A second service on the same store (another node) sees the change.
    other = CatalogService(store, clock)
    assert other.current().object("box__c") is not None
    stamps = other.stamps("box__c")
    assert stamps is not None and stamps.created_by == 1
    records = Records(store, catalogs, clock)
    outcomes = records.create(admin(clock), "box__c", [
        {"name__v": "one", "code__c": "B1", "weight__c": "1.25", "shipped__c": "2026-01-31T12:00:00+01:00"},
        {"name__v": "two", "code__c": "B1"},
    ], origin="json")
    assert outcomes[0].error is None and outcomes[0].event == "created__sys"
    assert isinstance(outcomes[1].error, errors.OperationNotAllowed)
    catalog = catalogs.current()
    definition = Records.definition(catalog, "box__c")
    record = records.get(catalog, definition, str(outcomes[0].id))
    assert record.values["weight__c"] == Decimal("1.25")
    assert record.values["shipped__c"] == datetime(2026, 1, 31, 11, 0, tzinfo=UTC)
    assert record.values["status__v"] == ("active__v",)


def test_rename_keeps_records_and_a_stale_service_reloads(store: Store, clock: ManualClock) -> None:
    catalogs = CatalogService(store, clock)
    catalogs.execute(SCRIPT, 1)
    records = Records(store, catalogs, clock)
    record_id = records.create(admin(clock), "box__c", [{"name__v": "kept", "code__c": "K"}], origin="json")[0].id
    stale = CatalogService(store, clock)
    assert stale.current().object("box__c") is not None
    assert catalogs.execute("RENAME Object box__c TO crate__c;", 1).succeeded
    catalog = stale.current()
    assert catalog.object("box__c") is None
    found = Records(store, stale, clock).get(catalog, Records.definition(catalog, "crate__c"), str(record_id))
    assert found.values["name__v"] == "kept" and found.object == "crate__c"
    assert store.objects.ids_by_unique("crate__c", "code__c", ["K"]) == {"K": record_id}


def test_a_field_made_unique_indexes_existing_values_or_refuses_duplicates(store: Store, clock: ManualClock) -> None:
    catalogs = CatalogService(store, clock)
    catalogs.execute(SCRIPT + "ALTER Object box__c (ADD Field tag__c (label('Tag'), type('String')));", 1)
    records = Records(store, catalogs, clock)
    user = admin(clock)
    records.create(user, "box__c", [{"name__v": "a", "tag__c": "T1"}, {"name__v": "b", "tag__c": "T1"}], origin="json")
    with pytest.raises(errors.OperationNotAllowed):
        catalogs.execute("ALTER Object box__c (MODIFY Field tag__c (unique(true)));", 1)
    assert not Records.definition(catalogs.current(), "box__c").field("tag__c").unique  # type: ignore[union-attr]
    records.create(user, "box__c", [{"name__v": "c", "code__c": "C1"}], origin="json")
    assert catalogs.execute("ALTER Object box__c (MODIFY Field code__c (unique(false)));", 1).succeeded
    assert store.objects.ids_by_unique("box__c", "code__c", ["C1"]) == {}
    assert catalogs.execute("ALTER Object box__c (MODIFY Field code__c (unique(true)));", 1).succeeded
    taken = records.create(user, "box__c", [{"name__v": "d", "code__c": "C1"}], origin="json")[0]
    assert isinstance(taken.error, errors.OperationNotAllowed)
