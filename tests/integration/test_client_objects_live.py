"""``client.objects`` against a real ``vaultjobs serve`` on both store backends: metadata, records in
bulk with per-record results and paging, Execute MDL (sync and async), and Deep Copy, Cascade Delete
and Create EDL followed with ``client.wait`` — through `VaultClient` and `AsyncVaultClient`.

The server loads tests/integration/objects_tree.mdl with ``serve --mdl`` at start.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from vaultjobs.client import AsyncVaultClient, InvalidRequest, JobFailed, JobStatus, MdlExecution, VaultClient
from vaultjobs.testing import LiveServer

TREE_MDL = Path(__file__).with_name("objects_tree.mdl")
_names = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, vaultjobs_new_database: Callable[[], str]) -> Iterator[LiveServer]:
    srv = LiveServer(tmp_path_factory.mktemp("client-objects"), status_window=0.2,
                     database_url=vaultjobs_new_database(), mdl=str(TREE_MDL))
    srv.start()
    yield srv
    srv.stop()


def options(server: LiveServer) -> dict[str, Any]:
    return {"username": "admin", "password": server.admin_password, "poll_interval": 0.2,
            "min_poll_interval": 0.2}


@pytest.fixture
def client(server: LiveServer) -> Iterator[VaultClient]:
    with VaultClient(server.url, **options(server)) as vault:
        yield vault


def product(n: int, **values: Any) -> dict[str, Any]:
    return {"name__v": f"Product {n}", "internal_name__c": f"p-{n}", **values}


def test_list_and_metadata(client: VaultClient) -> None:
    names = [o.name for o in client.objects.list()]
    assert {"product__c", "batch__c", "sample__c", "study__v"} <= set(names)
    meta = client.objects.metadata("product__c")
    assert meta.name == "product__c" and meta.label == "Product"
    internal = meta.field("internal_name__c")
    assert internal is not None and internal.unique and internal.required and internal.type == "String"
    with pytest.raises(InvalidRequest, match="nothing__c"):
        client.objects.metadata("nothing__c")


def test_bulk_results_per_record_and_paging(client: VaultClient) -> None:
    n = next(_names) * 100
    created = client.objects.create("product__c", [product(n + i) for i in range(5)] + [product(n)])
    assert [r.ok for r in created] == [True] * 5 + [False]  # the duplicate fails alone
    assert created[5].errors and created[5].errors[0].type and created[5].id is None
    ids = [r.id for r in created[:5]]
    assert all(ids)

    listed = list(client.objects.records("product__c", fields=["id", "internal_name__c"], page_size=2))
    mine = [r for r in listed if r["id"] in ids]
    assert [r["internal_name__c"] for r in mine] == [f"p-{n + i}" for i in range(5)]
    pages = list(client.objects.record_pages("product__c", page_size=2))
    assert len(pages) > 2 and pages[0].total == len(listed) and all(len(p.items) <= 2 for p in pages)

    upserted = client.objects.upsert("product__c", [product(n, price__c=3.5), product(n + 9)],
                                     id_param="internal_name__c")
    assert [(r.ok, r.event) for r in upserted] == [(True, "updated__sys"), (True, "created__sys")]
    assert upserted[0].id == ids[0]
    assert client.objects.get("product__c", ids[0])["price__c"] == 3.5

    updated = client.objects.update("product__c", [{"id": ids[1], "name__v": "Renamed"}, {"id": "nope"}])
    assert [r.ok for r in updated] == [True, False]
    assert client.objects.get("product__c", ids[1])["name__v"] == "Renamed"

    deleted = client.objects.delete("product__c", ids[2:4])
    assert [(r.ok, r.id) for r in deleted] == [(True, ids[2]), (True, ids[3])]
    with pytest.raises(InvalidRequest, match="does not exist"):
        client.objects.get("product__c", ids[2])


def test_execute_mdl_sync_and_async(client: VaultClient) -> None:
    n = next(_names)
    execution = client.objects.execute_mdl(
        f"CREATE Object note{n}__c (label('Note'), label_plural('Notes'),"
        " Field text__c (label('Text'), type('String')));"
    )
    assert execution.ok and [s.component for s in execution.statements] == [f"Object.note{n}__c"]
    assert f"note{n}__c" in {o.name for o in client.objects.list()}

    with pytest.raises(InvalidRequest) as failed:
        client.objects.execute_mdl(f"CREATE Object note{n}__c (label('Again'), label_plural('Again'));")
    again = MdlExecution.from_payload(failed.value.body)
    assert not again.ok and again.failures == 1 and not again.statements[0].ok

    started = client.objects.execute_mdl_async(
        f"ALTER Object note{n}__c (ADD Field memo__c (label('Memo'), type('String')));"
    )
    assert client.wait(started.job_id, timeout=60).status is JobStatus.SUCCESS
    assert client.objects.mdl_async_results(started.job_id).ok
    assert client.objects.metadata(f"note{n}__c").field("memo__c") is not None


def tree(client: VaultClient) -> tuple[str, list[str]]:
    n = next(_names)
    [root] = client.objects.create("product__c", [product(1000 + n, secret__c="s")])
    batches = client.objects.create(
        "batch__c", [{"name__v": f"B{n}.{b}", "product__c": root.id, "code__c": f"c{n}.{b}"} for b in range(2)]
    )
    assert root.ok and all(b.ok for b in batches)
    assert root.id is not None
    return root.id, [str(b.id) for b in batches]


def test_deep_copy_and_cascade_delete_are_jobs_to_wait_on(client: VaultClient) -> None:
    root, batches = tree(client)
    started = client.objects.deep_copy("product__c", root, {"internal_name__c": f"copy-{root}"})
    assert client.wait(started.job_id, timeout=60).status is JobStatus.SUCCESS
    copied = client.objects.deep_copy_results("product__c", started.job_id)
    assert sorted((r["vobject"], r["sourceRecordId"]) for r in copied) == sorted(
        [("product__c", root)] + [("batch__c", b) for b in batches]
    )
    assert client.objects.deep_copy_results("product__c", started.job_id, "failure") == []
    copy = next(r["id"] for r in copied if r["vobject"] == "product__c")
    assert client.objects.get("product__c", copy)["internal_name__c"] == f"copy-{root}"

    deleting = client.objects.cascade_delete("product__c", copy)
    assert deleting.wait(timeout=60).status is JobStatus.SUCCESS  # the job started, followed to its end
    gone = client.objects.cascade_delete_results("product__c", deleting.job_id)
    assert len(gone) == 3 and {r["Source Object"] for r in gone} == {"product__c", "batch__c"}
    with pytest.raises(InvalidRequest):
        client.objects.get("product__c", copy)
    assert client.objects.get("product__c", root)["id"] == root  # the source is untouched


def test_a_deep_copy_that_fails_raises_job_failed(client: VaultClient) -> None:
    root, _ = tree(client)
    started = client.objects.deep_copy("product__c", root)  # internal_name__c is unique and copied
    with pytest.raises(JobFailed) as failed:
        started.wait(timeout=60)
    assert failed.value.job.status is JobStatus.ERRORS_ENCOUNTERED
    assert client.objects.deep_copy_results("product__c", started.job_id, "failure")


def test_create_edl(client: VaultClient) -> None:
    n = next(_names)
    [template] = client.objects.create("edl__v", [{"name__v": f"Template {n}", "template__v": True}])
    items = client.objects.create("edl_item__v", [{"name__v": f"Protocol {n}", "edl__v": template.id,
                                                   "document_type__v": "Protocol"}])
    [study] = client.objects.create("study__v", [{"name__v": f"Study {n}", "template_edl__v": template.id}])
    assert all(r.ok for r in (template, *items, study)) and study.id is not None
    started = client.objects.create_edl(study.id, apply_where_edl_items_exist=True)
    assert client.wait(started.job_id, timeout=60).status is JobStatus.SUCCESS
    edls = [e for e in client.objects.records("edl__v", fields=["id", "study__v"]) if e["study__v"] == study.id]
    assert len(edls) == 1


def test_the_async_client_does_the_same(server: LiveServer) -> None:
    async def main() -> None:
        async with AsyncVaultClient(server.url, **options(server)) as vault:
            n = next(_names)
            [root] = await vault.objects.create("product__c", [product(5000 + n)])
            assert root.ok and root.id is not None
            names = {o.name for o in await vault.objects.list()}
            assert "product__c" in names
            listed = [r async for r in vault.objects.records("product__c", page_size=1)]
            assert root.id in {r["id"] for r in listed}
            started = await vault.objects.deep_copy("product__c", root.id, {"internal_name__c": f"a-{n}"})
            assert (await vault.wait(started.job_id, timeout=60)).status is JobStatus.SUCCESS
            rows = await vault.objects.deep_copy_results("product__c", started.job_id)
            assert [r["sourceRecordId"] for r in rows] == [root.id]
            deleting = await vault.objects.cascade_delete("product__c", rows[0]["id"])
            assert (await deleting.wait(timeout=60)).status is JobStatus.SUCCESS
            with pytest.raises(InvalidRequest):
                await vault.objects.get("product__c", rows[0]["id"])

    asyncio.run(main())
