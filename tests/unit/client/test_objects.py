"""``client.objects`` over `FakeVault`, on `VaultClient` and `AsyncVaultClient` alike (see conftest):
request shapes, typed answers, per-record results, paging, MDL failures and the object jobs."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest

from vaultjobs.client import (
    InvalidRequest,
    JobStatus,
    MdlExecution,
    UnexpectedResponse,
    VaultClient,
)
from vaultjobs.client.testing import FakeVault


@pytest.fixture
def products(vault: FakeVault) -> FakeVault:
    vault.objects.add_object("product__c", "code__c", unique="code__c")
    return vault


@pytest.fixture(params=["json", "xml"])
def any_format_client(request: pytest.FixtureRequest, make_client: Callable[..., VaultClient]) -> VaultClient:
    return make_client(format=request.param)


def test_list_and_metadata(any_format_client: VaultClient, products: FakeVault) -> None:
    [summary] = any_format_client.objects.list()
    assert (summary.name, summary.status) == ("product__c", "active__v")
    meta = any_format_client.objects.metadata("product__c")
    assert [f.name for f in meta.fields] == ["id", "name__v", "code__c"]
    code = meta.field("code__c")
    assert code is not None and code.unique and not code.required
    assert meta.field("nothing") is None


def test_unknown_object_raises_invalid_request(client: VaultClient, products: FakeVault) -> None:
    with pytest.raises(InvalidRequest, match=r"Object \[gone__c\] not found"):
        client.objects.metadata("gone__c")


def test_create_answers_one_result_per_record_in_order(client: VaultClient, products: FakeVault) -> None:
    results = client.objects.create("product__c", [{"name__v": "A", "code__c": "a"}, {"name__v": "B", "code__c": "a"},
                                                   {"name__v": "C", "code__c": "c"}])
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].id is None and [e.type for e in results[1].errors] == ["DUPLICATE_VALUE"]
    assert set(products.objects.records["product__c"]) == {results[0].id, results[2].id}
    [post] = [r for r in products.requests if r.method == "POST" and r.url.path.endswith("/vobjects/product__c")]
    assert post.headers["content-type"] == "application/json" and "idParam" not in post.url.params


def test_bulk_requests_are_sent_in_batches_of_500(client: VaultClient, products: FakeVault) -> None:
    results = client.objects.create("product__c", [{"name__v": f"P{i}"} for i in range(1201)])
    assert len(results) == 1201 and all(r.ok for r in results)
    sizes = [len(orjson.loads(r.content)) for r in products.requests if r.url.path.endswith("/vobjects/product__c")]
    assert sizes == [500, 500, 201]


def test_upsert_update_and_delete(client: VaultClient, products: FakeVault) -> None:
    [first] = client.objects.create("product__c", [{"name__v": "A", "code__c": "a"}])
    upserted = client.objects.upsert("product__c", [{"code__c": "a", "name__v": "A2"}, {"code__c": "b"}],
                                     id_param="code__c")
    assert [(r.id == first.id, r.event) for r in upserted] == [(True, "updated__sys"), (False, "created__sys")]
    assert products.requests[-1].url.params["idParam"] == "code__c"
    assert client.objects.get("product__c", str(first.id))["name__v"] == "A2"

    updated = client.objects.update("product__c", [{"id": first.id, "name__v": "A3"}, {"id": "missing"}])
    assert [r.ok for r in updated] == [True, False]
    assert products.requests[-1].method == "PUT"

    deleted = client.objects.delete("product__c", [str(first.id)])
    assert [(r.ok, r.id) for r in deleted] == [(True, first.id)]
    assert orjson.loads(products.requests[-1].content) == [{"id": first.id}]
    with pytest.raises(InvalidRequest, match="does not exist"):
        client.objects.get("product__c", str(first.id))


def test_bulk_needs_records_and_names_without_slashes(client: VaultClient, products: FakeVault) -> None:
    with pytest.raises(ValueError, match="at least one record"):
        client.objects.create("product__c", [])
    with pytest.raises(ValueError, match="object name"):
        client.objects.create("a/b", [{"name__v": "x"}])
    with pytest.raises(ValueError, match="record id"):
        client.objects.get("product__c", "../x")
    assert products.requests == []


def test_records_follow_next_page(any_format_client: VaultClient, products: FakeVault) -> None:
    client = any_format_client
    client.objects.create("product__c", [{"name__v": f"P{i}", "code__c": f"c{i}"} for i in range(5)])
    got = list(client.objects.records("product__c", fields=["id", "code__c"], page_size=2))
    assert [r["code__c"] for r in got] == [f"c{i}" for i in range(5)]
    pages = [r for r in products.requests if r.method == "GET" and "/vobjects/product__c" in r.url.path]
    assert [r.url.params.get("offset", "0") for r in pages] == ["0", "2", "4"]
    assert pages[0].url.params["fields"] == "id,code__c" and pages[0].url.params["limit"] == "2"
    [*_, last] = client.objects.record_pages("product__c", page_size=2)
    assert (last.total, last.offset, last.next_page) == (5, 4, None)
    with pytest.raises(ValueError, match="page_size"):
        list(client.objects.records("product__c", page_size=201))


def test_execute_mdl_sends_the_script_as_text(client: VaultClient, vault: FakeVault) -> None:
    execution = client.objects.execute_mdl("CREATE Object x__c (label('X'), label_plural('Xs'));")
    assert execution.ok and execution.components_affected == 1
    assert [(s.statement, s.component, s.ok) for s in execution.statements] == [(1, "Object.x__c", True)]
    [sent] = [r for r in vault.requests if r.url.path == "/api/mdl/execute"]
    assert sent.headers["content-type"] == "text/plain" and sent.content.startswith(b"CREATE Object x__c")
    assert vault.objects.scripts == ["CREATE Object x__c (label('X'), label_plural('Xs'));"]


def test_a_failed_mdl_statement_raises_with_the_whole_answer(client: VaultClient, vault: FakeVault) -> None:
    with pytest.raises(InvalidRequest, match="1 of 1 statements failed") as failed:
        client.objects.execute_mdl("FAIL")
    execution = MdlExecution.from_payload(failed.value.body)
    assert not execution.ok and execution.failures == 1 and not execution.statements[0].ok
    with pytest.raises(ValueError, match="empty"):
        client.objects.execute_mdl("  ")


def test_deep_copy_is_a_job_to_wait_on(client: VaultClient, products: FakeVault) -> None:
    [root] = client.objects.create("product__c", [{"name__v": "A", "code__c": "a"}])
    assert root.id is not None
    started = client.objects.deep_copy("product__c", root.id, {"code__c": "copy"})
    assert products.objects.jobs[started.job_id] == ("deepcopy", "product__c", root.id, {"body": {"code__c": "copy"}})
    assert client.wait(started.job_id).status is JobStatus.SUCCESS
    rows = [{"line number": "1", "vobject": "product__c", "sourceRecordId": root.id, "id": "V0A2"}]
    products.objects.set_results(started.job_id, "success", rows)
    assert client.objects.deep_copy_results("product__c", started.job_id) == rows
    assert client.objects.deep_copy_results("product__c", started.job_id, "failure") == []
    results_call = products.requests[-1]
    assert results_call.headers["accept"] == "application/json"
    assert results_call.url.path.endswith(f"/vobjects/deepcopy/results/product__c/failure/{started.job_id}")
    with pytest.raises(InvalidRequest, match="not a cascadedelete job"):
        client.objects.cascade_delete_results("product__c", started.job_id)
    with pytest.raises(ValueError, match="success"):
        client.objects.deep_copy_results("product__c", started.job_id, "partial")  # type: ignore[arg-type]


def test_deep_copy_without_overrides_sends_no_body(client: VaultClient, products: FakeVault) -> None:
    [root] = client.objects.create("product__c", [{"name__v": "A"}])
    started = client.objects.deep_copy("product__c", str(root.id))
    assert products.objects.jobs[started.job_id][3] == {}


def test_cascade_delete_and_create_edl(client: VaultClient, vault: FakeVault) -> None:
    vault.objects.add_object("study__v")
    [study] = client.objects.create("study__v", [{"name__v": "S"}])
    assert study.id is not None
    deleting = client.objects.cascade_delete("study__v", study.id)
    edl = client.objects.create_edl(study.id, apply_where_edl_items_exist=True)
    default = client.objects.create_edl(study.id)
    assert vault.objects.jobs[deleting.job_id][:3] == ("cascadedelete", "study__v", study.id)
    assert vault.objects.jobs[edl.job_id] == ("etmfcreateedl", "study__v", study.id,
                                              {"applyWhereEdlItemsExist": "true"})
    assert vault.objects.jobs[default.job_id][3] == {"applyWhereEdlItemsExist": "false"}
    assert client.wait(edl.job_id).status is JobStatus.SUCCESS
    with pytest.raises(InvalidRequest, match="does not exist"):
        client.objects.create_edl("nope")


def test_a_job_answer_without_job_id_is_unexpected(client: VaultClient, products: FakeVault) -> None:
    [root] = client.objects.create("product__c", [{"name__v": "A"}])
    products.fail_next("", response_status="SUCCESS")
    with pytest.raises(UnexpectedResponse, match="job_id"):
        client.objects.cascade_delete("product__c", str(root.id))


def test_an_expired_session_is_replaced_for_object_calls(client: VaultClient, products: FakeVault) -> None:
    client.objects.list()
    products.expire_sessions()
    assert [o.name for o in client.objects.list()] == ["product__c"]
    assert products.logins == 2
