"""MDL files applied straight to a store (``serve --mdl``, ``mdl apply --local``), on both backends:
a second run of the same file skips its CREATEs, keeps every other statement, and stops at a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultjobs import errors
from vaultjobs.cli.mdl_files import apply_files
from vaultjobs.jobtypes.objects.catalogs import CatalogService
from vaultjobs.store import Store
from vaultjobs.testing import ManualClock

SCRIPT = """
CREATE Object product__c (label('Product'), label_plural('Products'),
   Field code__c (label('Code'), type('String')));
RECREATE Picklist size__c (label('Size'),
   Picklistentry big__c (value('Big'), order(1)));
  CREATE Object batch__c (label('Batch'), label_plural('Batches'));   CREATE Picklist shape__c (label('Shape'),
   Picklistentry round__c (value('Round'), order(1)));
"""


def catalog_of(store: Store, clock: ManualClock) -> CatalogService:
    return CatalogService(store, clock)


def test_a_second_run_skips_the_creates_and_applies_the_rest(
    store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    path = tmp_path / "products.mdl"
    path.write_text(SCRIPT)
    [first] = apply_files(store, [path], clock)
    assert first.succeeded and first.skipped == ()
    assert [r.component for r in first.results] == ["Object.product__c", "Picklist.size__c", "Object.batch__c",
                                                     "Picklist.shape__c"]

    path.write_text(SCRIPT.replace("value('Big')", "value('Huge')"))
    [second] = apply_files(store, [path], clock)
    assert second.succeeded
    assert second.skipped == ("Object.product__c", "Object.batch__c", "Picklist.shape__c")
    assert [r.component for r in second.results] == ["Picklist.size__c"]
    catalog = catalog_of(store, clock).current()
    size = catalog.picklist("size__c")
    assert size is not None and [e.label for e in size.entries] == ["Huge"]
    product = catalog.object("product__c")
    assert product is not None and product.field("code__c") is not None


def test_only_creates_are_skipped_and_a_failure_stops_the_files(
    store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    first, second, third = tmp_path / "1.mdl", tmp_path / "2.mdl", tmp_path / "3.mdl"
    first.write_text("CREATE Object crate__c (label('Crate'), label_plural('Crates'));")
    second.write_text("ALTER Object crate__c (ADD Field lid__c (label('Lid'), type('Boolean')));")
    third.write_text("CREATE Object never__c (label('Never'), label_plural('Nevers'));")
    outcomes = apply_files(store, [first, second], clock)
    assert all(o.succeeded for o in outcomes)
    outcomes = apply_files(store, [first, second, third], clock)  # the ALTER fails now: the field exists
    assert [o.path for o in outcomes] == [str(first), str(second)]
    assert outcomes[0].skipped == ("Object.crate__c",) and not outcomes[1].succeeded
    assert catalog_of(store, clock).current().object("never__c") is None


def test_a_script_that_does_not_parse_applies_nothing(store: Store, clock: ManualClock, tmp_path: Path) -> None:
    path = tmp_path / "broken.mdl"
    path.write_text("CREATE Object ok__c (label('Ok'), label_plural('Oks'));\nCREATE Nonsense (")
    with pytest.raises(errors.InvalidData, match="broken.mdl: MDL syntax error"):
        apply_files(store, [path], clock)
    assert catalog_of(store, clock).current().object("ok__c") is None


def test_replicas_applying_one_script_at_once_all_succeed(store: Store, clock: ManualClock, tmp_path: Path) -> None:
    """What a Deployment of several replicas does at its first start: the same file, at the same moment."""
    import threading

    script = tmp_path / "start.mdl"
    script.write_text("\n".join(
        f"CREATE Object race_{n}__c (label('Race {n}'), label_plural('Races {n}'));" for n in range(6)
    ))
    barrier = threading.Barrier(4)
    outcomes: list[bool] = []

    def start() -> None:
        barrier.wait()
        outcomes.append(all(o.succeeded for o in apply_files(store, [script], clock)))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == [True] * 4
    catalog = CatalogService(store, clock).current()
    assert all(catalog.object(f"race_{n}__c") is not None for n in range(6))
