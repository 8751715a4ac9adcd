"""Deep Copy and Cascade Delete through real HTTP on a real server: overrides and ``no_copy``, a unique
clash that ends ERRORS_ENCOUNTERED with the documented failure file and nothing created, cascade
delete with ``block`` and ``setnull``, the 10,000-record limit, permissions, and a server killed in
the middle of a 5,000-record copy that still ends with exactly one copied tree."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from vaultjobs.testing import LiveServer, V
from vaultjobs.testing import all_records as records
from vaultjobs.testing import failed_with as fails
from vaultjobs.testing import succeeded as ok

TREE_MDL = Path(__file__).with_name("objects_tree.mdl").read_text()
FINISHED = ("SUCCESS", "ERRORS_ENCOUNTERED")
FAILURE_HEADER = "line number,vobject,sourceRecordId,errors"
_names = iter(range(10**6))


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    vaultjobs_new_database: Callable[[], str],
    content_server: Callable[..., AbstractContextManager[LiveServer]],
) -> Iterator[LiveServer]:
    with content_server(tmp_path_factory.mktemp("deepcopy"), vaultjobs_new_database(), status_window=0.2) as srv:
        with srv.client(headers={"Authorization": srv.login()}) as client:
            ok(client.post("/api/mdl/execute", content=TREE_MDL))
        yield srv


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client(headers={"Authorization": server.login()}) as client:
        yield client


@pytest.fixture(scope="module")
def alice(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client(headers={"Authorization": server.login("alice", "alice-password")}) as client:
        yield client


def create(client: httpx.Client, object_name: str, records: list[dict[str, Any]]) -> list[str]:
    ids = []
    for start in range(0, len(records), 500):
        results = ok(client.post(f"/api/{V}/vobjects/{object_name}", json=records[start : start + 500]))["data"]
        assert all(r["responseStatus"] == "SUCCESS" for r in results), results
        ids.extend(r["data"]["id"] for r in results)
    return ids


def tree(client: httpx.Client, batches: int = 2, samples: int = 2) -> tuple[str, list[str], list[str]]:
    """A product with ``batches`` batches of ``samples`` samples each: (product, batches, samples)."""
    n = next(_names)
    product = create(client, "product__c", [{"name__v": f"Tree {n}", "internal_name__c": f"tree-{n}",
                                             "secret__c": "s3cret", "color__c": ["red__c"], "price__c": 9.5}])[0]
    batch_ids = create(client, "batch__c", [{"name__v": f"B{n}.{b}", "product__c": product, "code__c": f"c{n}.{b}",
                                             "made__c": "2026-03-01"} for b in range(batches)])
    sample_ids = create(client, "sample__c", [{"name__v": f"S{n}.{b}.{s}", "batch__c": batch, "checked__c": True}
                                              for b, batch in enumerate(batch_ids) for s in range(samples)])
    return product, batch_ids, sample_ids


def start(client: httpx.Client, action: str, object_name: str, record_id: str, **kwargs: Any) -> int:
    body = ok(client.post(f"/api/{V}/vobjects/{object_name}/{record_id}/actions/{action}", **kwargs))
    assert isinstance(body["job_id"], int) and body["url"] == f"/api/{V}/services/jobs/{body['job_id']}"
    return int(body["job_id"])


def finish(server: LiveServer, client: httpx.Client, job_id: int) -> dict[str, Any]:
    token = str(client.headers["Authorization"])
    return server.wait_for_status(token, job_id, lambda s: s in FINISHED, timeout=120)


def rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.headers["content-type"].startswith("text/csv"), response.text
    return list(csv.DictReader(io.StringIO(response.text)))


def test_deep_copy_copies_the_tree_with_overrides_and_no_copy(server: LiveServer, admin: httpx.Client) -> None:
    product, batches, samples = tree(admin)
    n = next(_names)
    job_id = start(admin, "deepcopy", "product__c", product,
                   json=[{"name__v": f"Copy {n}", "internal_name__c": f"copy-{n}", "price__c": ""}])
    status = finish(server, admin, job_id)
    assert status["status"] == "SUCCESS" and status["method"] == "POST"
    assert status["progress"][0]["status"] == "SUCCESS"
    artifacts = [link["href"] for link in status["links"] if link["rel"] == "artifacts"]
    assert artifacts == [f"/api/{V}/vobjects/deepcopy/results/product__c/success/{job_id}"]
    copied = rows(admin.get(artifacts[0]))
    assert [r["line number"] for r in copied] == [str(i) for i in range(1, 8)]
    assert [r["sourceRecordId"] for r in copied] == [product, *batches, *samples]
    new = {r["sourceRecordId"]: r["id"] for r in copied}
    root = ok(admin.get(f"/api/{V}/vobjects/product__c/{new[product]}"))["data"]
    assert (root["name__v"], root["internal_name__c"], root["price__c"]) == (f"Copy {n}", f"copy-{n}", None)
    assert root["secret__c"] is None and root["color__c"] == ["red__c"]
    for batch in batches:
        copy = ok(admin.get(f"/api/{V}/vobjects/batch__c/{new[batch]}"))["data"]
        assert copy["product__c"] == new[product] and copy["code__c"] is None and copy["made__c"] == "2026-03-01"
    for sample in samples:
        copy = ok(admin.get(f"/api/{V}/vobjects/sample__c/{new[sample]}"))["data"]
        original = ok(admin.get(f"/api/{V}/vobjects/sample__c/{sample}"))["data"]
        assert copy["batch__c"] == new[original["batch__c"]] and copy["checked__c"] is True
    assert rows(admin.get(f"/api/{V}/vobjects/deepcopy/results/product__c/failure/{job_id}")) == []
    log = admin.get(f"/api/{V}/services/jobs/{job_id}/log").text
    assert "7 records copied" in log
    history = ok(admin.get(f"/api/{V}/services/jobs/histories"))["jobs"]
    assert job_id in [j["job_id"] for j in history]


def test_a_unique_clash_ends_errors_encountered_with_nothing_created(server: LiveServer, admin: httpx.Client) -> None:
    product, _, _ = tree(admin)
    before = {o: len(records(admin, o, "id")) for o in ("product__c", "batch__c", "sample__c")}
    job_id = start(admin, "deepcopy", "product__c", product)  # internal_name__c is copied: it clashes
    status = finish(server, admin, job_id)
    assert status["status"] == "ERRORS_ENCOUNTERED"
    artifacts = [link["href"] for link in status["links"] if link["rel"] == "artifacts"]
    assert artifacts == [f"/api/{V}/vobjects/deepcopy/results/product__c/failure/{job_id}"]
    response = admin.get(artifacts[0])
    assert response.text.splitlines()[0] == FAILURE_HEADER
    internal = ok(admin.get(f"/api/{V}/vobjects/product__c/{product}"))["data"]["internal_name__c"]
    assert response.text.splitlines()[1] == (
        f'1,product__c,{product},"""OPERATION_NOT_ALLOWED|Another resource already exists with '
        f'[internal_name__c={internal}]"""'
    )
    assert {o: len(records(admin, o, "id")) for o in before} == before
    assert rows(admin.get(f"/api/{V}/vobjects/deepcopy/results/product__c/success/{job_id}")) == []
    assert "nothing of the copy remains" in admin.get(f"/api/{V}/services/jobs/{job_id}/log").text


CHILDREN_MDL = """
CREATE Object part__c (
   label('Part'), label_plural('Parts'),
   Field product__c (label('Product'), type('Object'), object('product__c'), relationship_type('parent'),
      relationship_deletion('cascade'), required(true)),
   Field serial__c (label('Serial'), type('String'), unique(true))
);
CREATE Object kit__c (
   label('Kit'), label_plural('Kits'),
   Field product__c (label('Product'), type('Object'), object('product__c'), relationship_type('parent'),
      relationship_deletion('cascade'), required(true)),
   Field seal__c (label('Seal'), type('String'), required(true), no_copy(true))
);
"""


def test_records_below_the_root_that_cannot_be_copied_are_each_named(server: LiveServer, admin: httpx.Client) -> None:
    """A copied unique value below the root clashes with its source; a required ``no_copy`` field
    leaves every copy of its object without a value: each such record is in the failure file, the
    others are copied and then taken away again, and a sample's reference outside the tree stays."""
    ok(admin.post("/api/mdl/execute", content=CHILDREN_MDL))
    product, batches, samples = tree(admin, batches=1, samples=1)
    n = next(_names)
    parts = create(admin, "part__c", [{"name__v": "with serial", "product__c": product, "serial__c": f"sn-{n}"},
                                      {"name__v": "without serial", "product__c": product}])
    kits = create(admin, "kit__c", [{"name__v": "kit", "product__c": product, "seal__c": "sealed"}])
    before = {o: len(records(admin, o, "id")) for o in ("product__c", "batch__c", "sample__c", "part__c", "kit__c")}
    job_id = start(admin, "deepcopy", "product__c", product, json={"internal_name__c": f"other-{n}"})
    assert finish(server, admin, job_id)["status"] == "ERRORS_ENCOUNTERED"
    failed = {r["sourceRecordId"]: r for r in rows(admin.get(
        f"/api/{V}/vobjects/deepcopy/results/product__c/failure/{job_id}"))}
    assert set(failed) == {parts[0], kits[0]}
    assert failed[parts[0]]["vobject"] == "part__c"
    clash = f"Another resource already exists with [serial__c=sn-{n}]"
    assert failed[parts[0]]["errors"] == f'"OPERATION_NOT_ALLOWED|{clash}"'
    assert failed[kits[0]]["errors"] == '"PARAMETER_REQUIRED|Missing required parameter [seal__c]"'
    assert {o: len(records(admin, o, "id")) for o in before} == before
    assert rows(admin.get(f"/api/{V}/vobjects/deepcopy/results/product__c/success/{job_id}")) == []

    ok(admin.request("DELETE", f"/api/{V}/vobjects/kit__c", json=[{"id": kits[0]}]))
    ok(admin.put(f"/api/{V}/vobjects/part__c", json=[{"id": parts[0], "serial__c": ""}]))
    fan = create(admin, "sample__c", [{"name__v": "fan", "batch__c": batches[0], "favourite_product__c": product}])[0]
    job_id = start(admin, "deepcopy", "product__c", product, json={"internal_name__c": f"again-{n}"})
    assert finish(server, admin, job_id)["status"] == "SUCCESS"
    new = {r["sourceRecordId"]: r["id"] for r in rows(admin.get(
        f"/api/{V}/vobjects/deepcopy/results/product__c/success/{job_id}"))}
    assert set(new) == {product, *batches, *samples, fan, *parts}
    copy = ok(admin.get(f"/api/{V}/vobjects/sample__c/{new[fan]}"))["data"]
    assert (copy["batch__c"], copy["favourite_product__c"]) == (new[batches[0]], product)
    # the copies' references are indexed like any record's: a plain delete of a copied batch is
    # refused for its copied samples, and a cascade delete of the copied product takes every copy
    blocked = ok(admin.request("DELETE", f"/api/{V}/vobjects/batch__c", json=[{"id": new[batches[0]]}]))["data"]
    assert blocked[0]["errors"][0]["type"] == "OPERATION_NOT_ALLOWED"
    job_id = start(admin, "cascadedelete", "product__c", new[product])
    assert finish(server, admin, job_id)["status"] == "SUCCESS"
    deleted = rows(admin.get(f"/api/{V}/vobjects/cascadedelete/results/product__c/success/{job_id}"))
    assert len(deleted) == len(new)


def test_deep_copy_bodies_in_every_documented_shape(server: LiveServer, admin: httpx.Client) -> None:
    batch_product, batches, _ = tree(admin, batches=1, samples=1)
    # a batch has no unique field that is copied, so an empty body copies it as it is
    for kwargs in ({}, {"json": {}}, {"json": []}, {"json": {"name__v": "renamed"}},
                   {"content": "name__v,made__c\nfrom csv,\n", "headers": {"Content-Type": "text/csv"}}):
        job_id = start(admin, "deepcopy", "batch__c", batches[0], **kwargs)
        assert finish(server, admin, job_id)["status"] == "SUCCESS", kwargs
    original = ok(admin.get(f"/api/{V}/vobjects/batch__c/{batches[0]}"))["data"]["name__v"]
    names = [r["name__v"] for r in records(admin, "batch__c", "id,name__v,product__c")
             if r["product__c"] == batch_product]
    assert sorted(names) == sorted([original] * 4 + ["renamed", "from csv"])


@pytest.mark.parametrize(
    ("kwargs", "error_type"),
    [
        ({"json": [{"name__v": "a"}, {"name__v": "b"}]}, "INVALID_DATA"),
        ({"json": {"nothing__c": 1}}, "INVALID_DATA"),
        ({"json": {"price__c": "free"}}, "INVALID_DATA"),
        ({"content": "name__v\na\nb\n", "headers": {"Content-Type": "text/csv"}}, "INVALID_DATA"),
        ({"content": b"{broken"}, "INVALID_DATA"),
    ],
)
def test_bad_deep_copy_bodies_are_refused_before_a_job_starts(
    admin: httpx.Client, kwargs: dict[str, Any], error_type: str
) -> None:
    product, _, _ = tree(admin, batches=0)
    fails(admin.post(f"/api/{V}/vobjects/product__c/{product}/actions/deepcopy", **kwargs), error_type)


def test_bad_objects_records_and_results_paths(admin: httpx.Client) -> None:
    product, _, _ = tree(admin, batches=0)
    fails(admin.post(f"/api/{V}/vobjects/nothing__c/{product}/actions/deepcopy"), "INVALID_DATA")
    fails(admin.post(f"/api/{V}/vobjects/batch__c/{product}/actions/deepcopy"), "INVALID_DATA")
    fails(admin.post(f"/api/{V}/vobjects/product__c/xyz/actions/cascadedelete"), "INVALID_DATA")
    fails(admin.get(f"/api/{V}/vobjects/deepcopy/results/product__c/success/abc"), "INVALID_DATA")
    fails(admin.get(f"/api/{V}/vobjects/deepcopy/results/product__c/maybe/1"), "INVALID_DATA")
    fails(admin.get(f"/api/{V}/vobjects/deepcopy/results/product__c/success/999999"), "INVALID_DATA")


def test_results_of_another_object_or_job_type_are_refused(server: LiveServer, admin: httpx.Client) -> None:
    _, batches, _ = tree(admin, batches=1, samples=0)
    job_id = start(admin, "deepcopy", "batch__c", batches[0])
    finish(server, admin, job_id)
    fails(admin.get(f"/api/{V}/vobjects/deepcopy/results/product__c/success/{job_id}"), "INVALID_DATA")
    fails(admin.get(f"/api/{V}/vobjects/cascadedelete/results/batch__c/success/{job_id}"), "INVALID_DATA")
    json_rows = ok(admin.get(f"/api/{V}/vobjects/deepcopy/results/batch__c/success/{job_id}",
                             headers={"Accept": "application/json"}))["data"]
    assert [r["sourceRecordId"] for r in json_rows] == batches


def test_cascade_delete_refuses_while_a_block_reference_stands_then_deletes(
    server: LiveServer, admin: httpx.Client
) -> None:
    product, batches, samples = tree(admin)
    other_product, _, _ = tree(admin, batches=0)
    fan = create(admin, "sample__c", [{"name__v": "fan", "favourite_product__c": product}])[0]
    audit = create(admin, "audit__c", [{"name__v": "audit", "audited_product__c": product}])[0]
    job_id = start(admin, "cascadedelete", "product__c", product)
    status = finish(server, admin, job_id)
    assert status["status"] == "ERRORS_ENCOUNTERED"
    failure = admin.get(f"/api/{V}/vobjects/cascadedelete/results/product__c/failure/{job_id}")
    lines = failure.text.splitlines()
    assert lines[0] == "Source Object, Record Id, Errors"
    assert lines[1].startswith(f"product__c, {product}, ") and audit in lines[1]
    assert "OPERATION_NOT_ALLOWED|" in lines[1] and len(lines) == 2
    for sample in samples:
        ok(admin.get(f"/api/{V}/vobjects/sample__c/{sample}"))
    ok(admin.get(f"/api/{V}/vobjects/product__c/{product}"))
    assert "nothing was deleted" in admin.get(f"/api/{V}/services/jobs/{job_id}/log").text

    ok(admin.request("DELETE", f"/api/{V}/vobjects/audit__c", json=[{"id": audit}]))
    job_id = start(admin, "cascadedelete", "product__c", product)
    status = finish(server, admin, job_id)
    assert status["status"] == "SUCCESS"
    href = [link["href"] for link in status["links"] if link["rel"] == "artifacts"][0]
    assert href == f"/api/{V}/vobjects/cascadedelete/results/product__c/success/{job_id}"
    text = admin.get(href).text
    assert text.splitlines() == ["Source Object, Record Id", f"product__c, {product}",
                                 *[f"batch__c, {b}" for b in batches], *[f"sample__c, {s}" for s in samples]]
    for object_name, record_id in [("product__c", product), ("batch__c", batches[0]), ("sample__c", samples[-1])]:
        fails(admin.get(f"/api/{V}/vobjects/{object_name}/{record_id}"), "INVALID_DATA")
    assert ok(admin.get(f"/api/{V}/vobjects/sample__c/{fan}"))["data"]["favourite_product__c"] is None
    ok(admin.get(f"/api/{V}/vobjects/product__c/{other_product}"))
    deleted = ok(admin.get(f"/api/{V}/objects/deletions/vobjects/sample__c"))
    listed = {d["id"]: d["date_deleted"] for d in deleted["data"]}
    assert set(samples) <= set(listed) and deleted["responseDetails"]["limit"] == 1000
    assert all(len(listed[s]) == 20 and listed[s].endswith("Z") for s in samples)


def test_users_run_jobs_on_custom_objects_only_and_see_only_their_results(
    server: LiveServer, admin: httpx.Client, alice: httpx.Client
) -> None:
    _, batches, _ = tree(admin, batches=1, samples=1)
    job_id = start(alice, "deepcopy", "batch__c", batches[0])
    assert finish(server, alice, job_id)["status"] == "SUCCESS"
    assert len(rows(alice.get(f"/api/{V}/vobjects/deepcopy/results/batch__c/success/{job_id}"))) == 2
    admin_job = start(admin, "deepcopy", "batch__c", batches[0])
    finish(server, admin, admin_job)
    fails(alice.get(f"/api/{V}/vobjects/deepcopy/results/batch__c/success/{admin_job}"), "INSUFFICIENT_ACCESS")
    study = create(admin, "study__v", [{"name__v": f"Study {next(_names)}"}])[0]
    fails(alice.post(f"/api/{V}/vobjects/study__v/{study}/actions/deepcopy"), "INSUFFICIENT_ACCESS")
    fails(alice.post(f"/api/{V}/vobjects/study__v/{study}/actions/cascadedelete"), "INSUFFICIENT_ACCESS")


def test_more_than_ten_thousand_related_records_are_refused(admin: httpx.Client) -> None:
    product, batches, _ = tree(admin, batches=1, samples=0)
    create(admin, "sample__c", [{"name__v": f"s{i}", "batch__c": batches[0]} for i in range(10_000)])
    message = fails(admin.post(f"/api/{V}/vobjects/product__c/{product}/actions/deepcopy",
                               json={"internal_name__c": f"big-{next(_names)}"}), "OPERATION_NOT_ALLOWED")
    assert "10000" in message
    fails(admin.post(f"/api/{V}/vobjects/product__c/{product}/actions/cascadedelete"), "OPERATION_NOT_ALLOWED")


def test_a_server_killed_mid_copy_still_makes_exactly_one_tree(
    tmp_path: Path, vaultjobs_new_database: Callable[[], str]
) -> None:
    srv = LiveServer(tmp_path / "killed", database_url=vaultjobs_new_database(), status_window=0.1, workers=1,
                     heartbeat_interval=0.3, heartbeat_timeout=1.5, shutdown_grace=0.2)
    srv.start()
    try:
        with srv.client(headers={"Authorization": srv.login()}) as admin:
            ok(admin.post("/api/mdl/execute", content=TREE_MDL))
            product, batches, samples = tree(admin, batches=50, samples=99)
            assert 1 + len(batches) + len(samples) == 5_001
            job_id = start(admin, "deepcopy", "product__c", product, json={"internal_name__c": "killed-copy"})
            seen: dict[str, int] = {}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                states = [t["state"] for t in
                          ok(admin.get(f"/api/{V}/services/jobs/{job_id}/tasks", params={"limit": 1000}))["tasks"]]
                seen = {s: states.count(s) for s in set(states)}
                if seen.get("SUCCESS", 0) >= 1:
                    break
                time.sleep(0.01)
        srv.kill()
        assert 1 <= seen.get("SUCCESS", 0) < sum(seen.values()), seen  # killed in the middle
        srv.start()
        with srv.client(headers={"Authorization": srv.login()}) as admin:
            status = srv.wait_for_status(str(admin.headers["Authorization"]), job_id, lambda s: s in FINISHED,
                                         timeout=180)
            assert status["status"] == "SUCCESS", admin.get(f"/api/{V}/services/jobs/{job_id}/log").text
            copied = rows(admin.get(f"/api/{V}/vobjects/deepcopy/results/product__c/success/{job_id}"))
            assert len(copied) == 5_001 and len({r["id"] for r in copied}) == 5_001
            assert len(records(admin, "product__c", "id")) == 2
            assert len(records(admin, "batch__c", "id")) == 100
            all_samples = records(admin, "sample__c", "id,batch__c")
            assert len(all_samples) == 2 * len(samples)
            new_batches = {r["id"] for r in copied if r["vobject"] == "batch__c"}
            assert sum(1 for s in all_samples if s["batch__c"] in new_batches) == len(samples)
    finally:
        srv.stop()


def test_a_worker_process_killed_mid_copy_leaves_exactly_one_tree(
    tmp_path: Path, vaultjobs_new_database: Callable[[], str]
) -> None:
    """The API server runs no workers; a separate ``vaultjobs worker`` copies, is killed with SIGKILL in
    the middle, and a second worker process finishes the copy once the first counts as dead."""
    srv = LiveServer(tmp_path / "workers", database_url=vaultjobs_new_database(), status_window=0.1, workers=0,
                     heartbeat_interval=0.3, heartbeat_timeout=1.5)
    srv.start()
    first = second = None
    try:
        with srv.client(headers={"Authorization": srv.login()}) as admin:
            ok(admin.post("/api/mdl/execute", content=TREE_MDL))
            product, batches, samples = tree(admin, batches=50, samples=99)
            job_id = start(admin, "deepcopy", "product__c", product, json={"internal_name__c": "worker-copy"})
            first = srv.start_worker("--workers", "2")
            seen: dict[str, int] = {}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and seen.get("SUCCESS", 0) < 1:
                states = [t["state"] for t in
                          ok(admin.get(f"/api/{V}/services/jobs/{job_id}/tasks", params={"limit": 1000}))["tasks"]]
                seen = {s: states.count(s) for s in set(states)}
                time.sleep(0.01)
            first.kill()
            first.wait(10)
            assert 1 <= seen.get("SUCCESS", 0) < sum(seen.values()), seen  # killed in the middle
            second = srv.start_worker("--workers", "2")
            status = srv.wait_for_status(str(admin.headers["Authorization"]), job_id, lambda s: s in FINISHED,
                                         timeout=180)
            assert status["status"] == "SUCCESS", admin.get(f"/api/{V}/services/jobs/{job_id}/log").text
            copied = rows(admin.get(f"/api/{V}/vobjects/deepcopy/results/product__c/success/{job_id}"))
            assert len(copied) == 1 + len(batches) + len(samples) == len({r["id"] for r in copied})
            assert len(records(admin, "product__c", "id")) == 2
            assert len(records(admin, "sample__c", "id")) == 2 * len(samples)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(10)
        srv.stop()


def test_create_edl_copies_the_template_once_and_applies_it_on_request(
    server: LiveServer, admin: httpx.Client, alice: httpx.Client
) -> None:
    n = next(_names)
    template = create(admin, "edl__v", [{"name__v": f"Template {n}", "template__v": True}])[0]
    template_items = create(admin, "edl_item__v", [
        {"name__v": f"Protocol {n}", "edl__v": template, "document_type__v": "Protocol", "required__v": True,
         "expected_steady_state_count__v": 1},
        {"name__v": f"Brochure {n}", "edl__v": template, "document_type__v": "Investigator Brochure"},
        {"name__v": f"CV {n}", "edl__v": template, "document_type__v": "CV", "expected_steady_state_count__v": 3},
    ])
    study = create(admin, "study__v", [{"name__v": f"Study {n}", "template_edl__v": template}])[0]
    url = f"/api/{V}/vobjects/study__v/{study}/actions/etmfcreateedl"

    def run(query: str = "") -> dict[str, Any]:
        response = admin.post(url + query, headers={"Accept": "text/csv"}, content=b"ignored,body\n1,2\n")
        body = ok(response)  # JSON whatever the Accept
        assert body["url"] == f"{server.url}/api/{V}/services/jobs/{body['job_id']}"  # absolute, Vault's quirk
        status = finish(server, admin, int(body["job_id"]))
        assert status["status"] == "SUCCESS"
        assert [link["rel"] for link in status["links"]] == ["self", "log"]
        return status

    def study_items() -> dict[str, dict[str, Any]]:
        edls = [e for e in records(admin, "edl__v", "id,study__v,template__v") if e["study__v"] == study]
        assert len(edls) == 1 and edls[0]["template__v"] is False
        items = records(admin, "edl_item__v", "id,name__v,edl__v,document_type__v,expected_steady_state_count__v")
        return {i["name__v"]: i for i in items if i["edl__v"] == edls[0]["id"]}

    run()
    items = study_items()
    assert set(items) == {f"Protocol {n}", f"Brochure {n}", f"CV {n}"}
    assert items[f"CV {n}"]["expected_steady_state_count__v"] == 3
    assert not set(i["id"] for i in items.values()) & set(template_items)
    run("?applyWhereEdlItemsExist=false")
    assert study_items() == items
    ok(admin.request("DELETE", f"/api/{V}/vobjects/edl_item__v", json=[{"id": items[f"CV {n}"]["id"]}]))
    run("?applyWhereEdlItemsExist=false")
    assert set(study_items()) == {f"Protocol {n}", f"Brochure {n}"}
    run("?applyWhereEdlItemsExist=true")
    again = study_items()
    assert set(again) == set(items) and again[f"Protocol {n}"] == items[f"Protocol {n}"]

    fails(alice.post(url), "INSUFFICIENT_ACCESS")
    fails(admin.post(url + "?applyWhereEdlItemsExist=maybe"), "INVALID_DATA")
    bare = create(admin, "study__v", [{"name__v": f"Bare {n}"}])[0]
    fails(admin.post(f"/api/{V}/vobjects/study__v/{bare}/actions/etmfcreateedl"), "OPERATION_NOT_ALLOWED")
    fails(admin.post(f"/api/{V}/vobjects/study__v/{bare[:3]}999999999999/actions/etmfcreateedl"), "INVALID_DATA")


def test_create_edl_gives_countries_and_sites_the_edls_of_their_level_templates(
    server: LiveServer, admin: httpx.Client
) -> None:
    n = next(_names)
    template = create(admin, "edl__v", [{"name__v": f"Set {n}", "template__v": True}])[0]
    country_template, site_template = create(admin, "edl__v", [
        {"name__v": f"Country level {n}", "template__v": True, "template_level__v": ["country__v"],
         "parent_template__v": template},
        {"name__v": f"Site level {n}", "template__v": True, "template_level__v": ["site__v"],
         "parent_template__v": template},
    ])
    create(admin, "edl_item__v", [
        {"name__v": "Protocol", "edl__v": template},
        {"name__v": "Country approval", "edl__v": country_template},
        {"name__v": "Import licence", "edl__v": country_template},
        {"name__v": "Site CV", "edl__v": site_template, "expected_steady_state_count__v": 2},
    ])
    study = create(admin, "study__v", [{"name__v": f"Level study {n}", "template_edl__v": template}])[0]
    france, spain = create(admin, "study_country__v", [{"name__v": f"France {n}", "study__v": study},
                                                        {"name__v": f"Spain {n}", "study__v": study}])
    paris = create(admin, "site__v", [{"name__v": f"Paris {n}", "study_country__v": france}])[0]

    def run() -> None:
        body = ok(admin.post(f"/api/{V}/vobjects/study__v/{study}/actions/etmfcreateedl"))
        assert finish(server, admin, int(body["job_id"]))["status"] == "SUCCESS"

    def edls() -> dict[tuple[str | None, str | None], set[str]]:
        """(country, site) → item names of the study's EDLs."""
        found = [e for e in records(admin, "edl__v", "id,name__v,study__v,study_country__v,site__v,template__v")
                 if e["study__v"] == study]
        assert not any(e["template__v"] for e in found)
        assert len({(e["study_country__v"], e["site__v"]) for e in found}) == len(found)  # one EDL each
        items = records(admin, "edl_item__v", "id,name__v,edl__v,expected_steady_state_count__v")
        return {(e["study_country__v"], e["site__v"]): {i["name__v"] for i in items if i["edl__v"] == e["id"]}
                for e in found}

    run()
    assert edls() == {
        (None, None): {"Protocol"},
        (france, None): {"Country approval", "Import licence"},
        (spain, None): {"Country approval", "Import licence"},
        (france, paris): {"Site CV"},
    }
    names = {e["name__v"] for e in records(admin, "edl__v", "name__v,study__v") if e["study__v"] == study}
    assert names == {f"Level study {n} EDL", f"France {n} EDL", f"Spain {n} EDL", f"Paris {n} EDL"}
    before = edls()
    run()
    assert edls() == before
    italy = create(admin, "study_country__v", [{"name__v": f"Italy {n}", "study__v": study}])[0]
    run()
    assert edls() == {**before, (italy, None): {"Country approval", "Import licence"}}
