"""The object store on both engines: the catalog's compare-and-swap, record ids, unique values and
references held by the database, paging, deletes with cleared referrers, and object-job plans."""

from __future__ import annotations

from datetime import timedelta

import pytest

from vaultjobs.models import Job
from vaultjobs.store import NewJob, Store
from vaultjobs.store.objects import CatalogChange, PlanRow, RecordConflict, RecordRow, RecordWrite
from vaultjobs.testing import ManualClock


def row(record_id: str, object_name: str, name: str, clock: ManualClock, **data: object) -> RecordRow:
    now = clock.now()
    return RecordRow(id=record_id, object=object_name, name=name, data={"name__v": name, **data},
                     created_by=1, created_at=now, modified_by=1, modified_at=now)


def job(store: Store, clock: ManualClock) -> Job:
    return store.jobs.create_job(NewJob(processor="deep_copy_object_record", parameters={}, created_by=1), clock.now())


def test_catalog_is_saved_only_over_the_revision_it_was_read_at(store: Store, clock: ManualClock) -> None:
    loaded = store.objects.catalog_load()
    assert (loaded.revision, loaded.body) == (0, None)
    assert store.objects.catalog_save(0, {"format": 1, "objects": []}, CatalogChange(created=["a__c"]), 7, clock.now())
    assert not store.objects.catalog_save(0, {"format": 1, "stale": True}, CatalogChange(), 7, clock.now())
    clock.advance(5)
    change = CatalogChange(modified=["a__c"])
    assert store.objects.catalog_save(1, {"format": 1, "objects": [1]}, change, 8, clock.now())
    loaded = store.objects.catalog_load()
    assert loaded.revision == 2 == store.objects.catalog_revision()
    assert loaded.body == {"format": 1, "objects": [1]}
    stamps = loaded.stamps["a__c"]
    assert (stamps.created_by, stamps.modified_by) == (7, 8)
    assert stamps.modified_at - stamps.created_at == timedelta(seconds=5)


def test_record_numbers_are_never_handed_out_twice(store: Store) -> None:
    assert store.objects.next_ids("A00", 3) == [1, 2, 3]
    assert store.objects.next_ids("A00", 2) == [4, 5]
    assert store.objects.next_ids("A01", 1) == [1]
    assert store.objects.next_ids("A01", 0) == []


def test_unique_values_clash_in_the_database_and_nothing_of_the_batch_is_written(
    store: Store, clock: ManualClock
) -> None:
    first = RecordWrite(row=row("A00000000000001", "a__c", "one", clock, code__c="X"), uniques=[("code__c", "X")])
    store.objects.insert([first])
    second = RecordWrite(row=row("A00000000000002", "a__c", "two", clock), uniques=[("code__c", "Y")])
    clash = RecordWrite(row=row("A00000000000003", "a__c", "three", clock), uniques=[("code__c", "X")])
    with pytest.raises(RecordConflict):
        store.objects.insert([second, clash])
    assert set(store.objects.get(["A00000000000001", "A00000000000002", "A00000000000003"])) == {"A00000000000001"}
    assert store.objects.ids_by_unique("a__c", "code__c", ["X", "Y"]) == {"X": "A00000000000001"}
    # Another object may hold the same value.
    store.objects.insert([RecordWrite(row=row("B00000000000001", "b__c", "b", clock), uniques=[("code__c", "X")])])


def test_skip_existing_makes_a_second_insert_of_the_same_ids_a_no_op(store: Store, clock: ManualClock) -> None:
    writes = [RecordWrite(row=row(f"A0000000000000{n}", "a__c", f"r{n}", clock), uniques=[("code__c", str(n))])
              for n in range(1, 4)]
    assert store.objects.insert(writes[:2], skip_existing=True) == ["A00000000000001", "A00000000000002"]
    assert store.objects.insert(writes, skip_existing=True) == ["A00000000000003"]
    assert store.objects.count("a__c") == 3


def test_skip_existing_record_by_record_after_a_race_says_the_same(store: Store, clock: ManualClock) -> None:
    """The path :meth:`Objects.insert` falls back to when another writer got an id in first."""
    writes = [RecordWrite(row=row(f"A0000000000000{n}", "a__c", f"r{n}", clock), uniques=[("code__c", str(n))])
              for n in range(1, 4)]
    assert store.objects.insert([writes[1], writes[1]], skip_existing=True) == ["A00000000000002"]
    assert store.objects._insert_one_by_one(writes) == ["A00000000000001", "A00000000000003"]
    assert store.objects._insert_one_by_one(writes) == []
    assert store.objects.ids_by_unique("a__c", "code__c", ["1", "2", "3"]) == {
        "1": "A00000000000001", "2": "A00000000000002", "3": "A00000000000003"}


def test_replace_moves_unique_values_and_references(store: Store, clock: ManualClock) -> None:
    parent = RecordWrite(row=row("P00000000000001", "p__c", "parent", clock))
    other = RecordWrite(row=row("P00000000000002", "p__c", "other", clock))
    child = RecordWrite(row=row("C00000000000001", "c__c", "child", clock, parent__c="P00000000000001"),
                        uniques=[("code__c", "K")], references=[("parent__c", "P00000000000001")])
    store.objects.insert([parent, other, child])
    assert [r.record_id for r in store.objects.referrers(["P00000000000001"])] == ["C00000000000001"]
    clock.advance(1)
    moved = RecordWrite(
        row=row("C00000000000001", "c__c", "renamed", clock, parent__c="P00000000000002"),
        uniques=[("code__c", "L")], references=[("parent__c", "P00000000000002")],
    )
    store.objects.replace([moved])
    got = store.objects.get(["C00000000000001"])["C00000000000001"]
    assert got.name == "renamed" and got.data["parent__c"] == "P00000000000002"
    assert store.objects.referrers(["P00000000000001"]) == []
    referrer = store.objects.referrers(["P00000000000002"])[0]
    assert (referrer.object, referrer.field) == ("c__c", "parent__c")
    assert store.objects.ids_by_unique("c__c", "code__c", ["K", "L"]) == {"L": "C00000000000001"}


def test_delete_clears_referrers_and_index_rows_in_one_go(store: Store, clock: ManualClock) -> None:
    target = RecordWrite(row=row("P00000000000001", "p__c", "target", clock), uniques=[("code__c", "T")])
    pointing = RecordWrite(row=row("C00000000000001", "c__c", "c", clock, ref__c="P00000000000001"),
                           references=[("ref__c", "P00000000000001")])
    store.objects.insert([target, pointing])
    cleared = RecordWrite(row=row("C00000000000001", "c__c", "c", clock, ref__c=None))
    assert store.objects.delete(["P00000000000001", "P00000000000009"], [cleared], now=clock.now()) == 1
    total, deleted = store.objects.deletions("p__c", clock.now(), 10, 0)
    assert total == 1 and deleted == [("P00000000000001", clock.now())]
    clock.advance(1)
    assert store.objects.deletions("p__c", clock.now(), 10, 0) == (0, [])
    assert store.objects.get(["C00000000000001"])["C00000000000001"].data["ref__c"] is None
    assert store.objects.referrers(["P00000000000001"]) == []
    # The unique value went with its record: it may be used again.
    store.objects.insert([RecordWrite(row=row("P00000000000002", "p__c", "again", clock), uniques=[("code__c", "T")])])


def test_pages_sort_by_name_or_id_and_count_everything(store: Store, clock: ManualClock) -> None:
    names = ["delta", "alpha", "charlie", "bravo", "echo"]
    store.objects.insert([RecordWrite(row=row(f"A0000000000000{n}", "a__c", name, clock))
                         for n, name in enumerate(names, 1)])
    total, page = store.objects.page("a__c", sort="name", descending=False, limit=2, offset=1)
    assert total == 5 and [r.name for r in page] == ["bravo", "charlie"]
    _, page = store.objects.page("a__c", sort="id", descending=True, limit=10, offset=0)
    assert [r.id[-1] for r in page] == ["5", "4", "3", "2", "1"]
    assert store.objects.ids_by_name("a__c", ["echo", "zulu"]) == {"echo": ["A00000000000005"]}


def test_rename_and_drop_of_objects_carry_their_records(store: Store, clock: ManualClock) -> None:
    store.objects.insert([RecordWrite(row=row("A00000000000001", "old__c", "r", clock), uniques=[("code__c", "1")]),
                         RecordWrite(row=row("B00000000000001", "gone__c", "g", clock))])
    change = CatalogChange(renamed=[("old__c", "new__c")], dropped=["gone__c"])
    assert store.objects.catalog_save(0, {"format": 1}, change, 1, clock.now())
    assert store.objects.get(["A00000000000001"])["A00000000000001"].object == "new__c"
    assert store.objects.ids_by_unique("new__c", "code__c", ["1"]) == {"1": "A00000000000001"}
    assert store.objects.get(["B00000000000001"]) == {}


def test_a_plan_is_written_once_and_results_keep_their_first_value(store: Store, clock: ManualClock) -> None:
    job_id = job(store, clock).id
    plan = [PlanRow(n=0, object="p__c", source_id="P1", target_id="P2"),
            PlanRow(n=1, object="c__c", source_id="C1", target_id="C2", parent_n=0)]
    assert store.objects.plan_save(job_id, plan)
    assert not store.objects.plan_save(job_id, [PlanRow(n=0, object="x__c", source_id="X", target_id="Y")])
    assert store.objects.plan(job_id) == plan
    assert store.objects.plan(job_id, 1, 1) == plan[1:]
    assert store.objects.planned(job_id, ["C1", "X", "P2", "C1"]) == {"C1"}  # sources only, of this plan
    assert store.objects.planned(job(store, clock).id, ["P1", "C1"]) == set()
    store.objects.results_put(job_id, "success", [(1, {"id": "C2"}), (0, {"id": "P2"})])
    store.objects.results_put(job_id, "success", [(0, {"id": "changed"})])
    assert store.objects.results(job_id, "success") == [{"id": "P2"}, {"id": "C2"}]
    store.objects.results_clear(job_id, "success")
    assert store.objects.results(job_id, "success") == []


def test_requests_keep_what_does_not_fit_in_parameters(store: Store, clock: ManualClock) -> None:
    script = "CREATE Object big__c (label('Big'));\n" * 500
    first = store.objects.request_save(1, script, clock.now())
    second = store.objects.request_save(1, "x", clock.now())
    assert first != second
    assert store.objects.request(first) == script and store.objects.request(second) == "x"
    assert store.objects.request(second + 100) is None


def test_active_jobs_of_a_processor_are_listed_until_they_end(store: Store, clock: ManualClock) -> None:
    running = store.jobs.create_job(NewJob(processor="execute_mdl_async", parameters={}, created_by=1), clock.now())
    store.jobs.create_job(NewJob(processor="demo", parameters={}, created_by=1), clock.now())
    assert store.objects.active_jobs("execute_mdl_async") == [running.id]
    store.jobs.cancel_job(running.id, 1, clock.now())
    assert store.objects.active_jobs("execute_mdl_async") == []
