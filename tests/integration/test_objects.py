"""Vault objects through real HTTP: objects defined in MDL, their metadata, and records created,
read, updated and deleted in bulk (JSON and CSV), with every validation a per-record Vault error."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from vaultjobs.testing import LiveServer, V
from vaultjobs.testing import read_envelope as read

#: Three levels (product → batch → sample) and references with each deletion rule.
TREE_MDL = Path(__file__).with_name("objects_tree.mdl").read_text()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    vaultjobs_new_database: Callable[[], str],
    content_server: Callable[..., AbstractContextManager[LiveServer]],
) -> Iterator[LiveServer]:
    with content_server(tmp_path_factory.mktemp("objects"), vaultjobs_new_database(), status_window=0.5) as srv:
        yield srv


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client(headers={"Authorization": server.login()}) as client:
        body = ok(client.post("/api/mdl/execute", content=TREE_MDL))
        assert body["script_execution"]["failures"] == 0
        yield client


@pytest.fixture(scope="module")
def alice(server: LiveServer, admin: httpx.Client) -> Iterator[httpx.Client]:
    with server.client(headers={"Authorization": server.login("alice", "alice-password")}) as client:
        yield client


def ok(response: httpx.Response) -> dict[str, Any]:
    env = read(response)
    assert env.response_status in ("SUCCESS", "WARNING"), response.text
    body: dict[str, Any] = env.body
    return body


def fails(response: httpx.Response, error_type: str) -> str:
    env = read(response)
    assert env.http_status == 200
    assert env.response_status == "FAILURE", response.text
    assert env.error_types == [error_type], response.text
    assert "Traceback" not in response.text
    return str(env.body["errors"][0]["message"])


def create(client: httpx.Client, object_name: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    body = ok(client.post(f"/api/{V}/vobjects/{object_name}", json=records))
    results: list[dict[str, Any]] = body["data"]
    return results


_names = iter(range(10**6))


def product(client: httpx.Client, **fields: Any) -> str:
    n = next(_names)
    result = create(client, "product__c", [{"name__v": f"P{n}", "internal_name__c": f"obj-p{n}", **fields}])[0]
    assert result["responseStatus"] == "SUCCESS", result
    return str(result["data"]["id"])


# -- metadata and MDL --------------------------------------------------------------------------------


def test_objects_defined_in_mdl_appear_with_their_relationships(admin: httpx.Client) -> None:
    objects = {o["name"]: o for o in ok(admin.get(f"/api/{V}/metadata/vobjects"))["objects"]}
    assert {"product__c", "batch__c", "sample__c", "study__v", "edl__v"} <= set(objects)
    assert objects["product__c"]["url"] == f"/api/{V}/metadata/vobjects/product__c"
    meta = ok(admin.get(f"/api/{V}/metadata/vobjects/batch__c"))["object"]
    assert len(meta["prefix"]) == 3 and meta["created_by"] == 1
    kinds = {(r["relationship_type"], r["object"]["name"], r["relationship_deletion"]) for r in meta["relationships"]}
    assert kinds == {("parent", "product__c", "cascade"), ("child", "sample__c", "cascade")}
    field = ok(admin.get(f"/api/{V}/metadata/vobjects/product__c/fields/internal_name__c"))["field"]
    assert (field["type"], field["required"], field["unique"], field["max_length"]) == ("String", True, True, 20)


def test_unknown_object_and_field_are_invalid_data(admin: httpx.Client) -> None:
    fails(admin.get(f"/api/{V}/metadata/vobjects/nothing__c"), "INVALID_DATA")
    fails(admin.get(f"/api/{V}/metadata/vobjects/product__c/fields/nothing__c"), "INVALID_DATA")
    fails(admin.get(f"/api/{V}/vobjects/nothing__c"), "INVALID_DATA")


@pytest.mark.parametrize(
    ("script", "where"),
    [
        # a missing closing parenthesis: the parser names where it stopped
        ("CREATE Object broken__c (label('Broken');", "line 1"),
        # a component type vaultjobs does not support is never skipped silently
        ("CREATE Workflow flow__c (label('Flow'));", "line 1, column 8"),
        # an unknown command
        ("MERGE Object product__c ();", "line 1, column 1"),
    ],
)
def test_mdl_that_does_not_parse_applies_nothing(admin: httpx.Client, script: str, where: str) -> None:
    message = fails(admin.post("/api/mdl/execute", content=script), "INVALID_DATA")
    assert where in message


def test_a_failing_statement_fails_alone_and_says_why(admin: httpx.Client) -> None:
    script = ("ALTER Object missing__c (ADD Field x__c (label('X'), type('String')));\n"
              "CREATE Object gadget__c (label('Gadget'), label_plural('Gadgets'));\n"
              "CREATE Object gizmo__c (label('Gizmo'), label_plural('Gizmos'), "
              "Field size__c (label('Size'), type('Hologram')));")
    env = read(admin.post("/api/mdl/execute", content=script))
    assert env.response_status == "FAILURE"
    statements = env.body["statement_execution"]
    assert [s["response"] for s in statements] == ["FAILURE", "SUCCESS", "FAILURE"]
    assert "missing__c" in statements[0]["message"]
    assert env.body["script_execution"]["failures"] == 2
    names = {o["name"] for o in ok(admin.get(f"/api/{V}/metadata/vobjects"))["objects"]}
    assert "gadget__c" in names and "gizmo__c" not in names


def test_mdl_is_for_admins_only(alice: httpx.Client) -> None:
    fails(alice.post("/api/mdl/execute", content="CREATE Object mine__c (label('Mine'), label_plural('Mine'));"),
          "INSUFFICIENT_ACCESS")


def test_field_rename_and_drop_carry_or_remove_record_values(admin: httpx.Client) -> None:
    ok(admin.post("/api/mdl/execute", content="CREATE Object shelf__c (label('Shelf'), label_plural('Shelves'), "
                  "Field colour__c (label('Colour'), type('String')), Field old__c (label('Old'), type('String')));"))
    record_id = create(admin, "shelf__c", [{"name__v": "S", "colour__c": "teal", "old__c": "x"}])[0]["data"]["id"]
    ok(admin.post("/api/mdl/execute", content="ALTER Object shelf__c (RENAME Field colour__c TO hue__c, "
                  "DROP Field old__c);"))
    ok(admin.post("/api/mdl/execute", content="ALTER Object shelf__c (ADD Field old__c (label('Old'), "
                  "type('String')));"))
    data = ok(admin.get(f"/api/{V}/vobjects/shelf__c/{record_id}"))["data"]
    assert data["hue__c"] == "teal" and data["old__c"] is None and "colour__c" not in data


# -- records -------------------------------------------------------------------------------------------


def test_create_and_read_a_record_with_every_standard_field(admin: httpx.Client) -> None:
    record_id = product(admin, color__c=["red__c", "blue__c"], price__c=12.5)
    assert len(record_id) == 15
    body = ok(admin.get(f"/api/{V}/vobjects/product__c/{record_id}"))
    data = body["data"]
    assert data["id"] == record_id and data["status__v"] == ["active__v"] and data["object_type__v"] == "base__v"
    assert data["color__c"] == ["red__c", "blue__c"] and data["price__c"] == 12.5 and data["secret__c"] is None
    assert data["created_by__v"] == 1 and data["created_date__v"].endswith("Z")
    assert body["responseDetails"]["url"] == f"/api/{V}/vobjects/product__c/{record_id}"
    assert body["responseDetails"]["object"]["prefix"] == record_id[:3]


@pytest.mark.parametrize(
    ("fields", "error_type", "fragment"),
    [
        ({"internal_name__c": None}, "PARAMETER_REQUIRED", "internal_name__c"),
        ({"price__c": "cheap"}, "INVALID_DATA", "price__c"),
        ({"price__c": 1.234}, "INVALID_DATA", "digits"),
        ({"price__c": 5000}, "INVALID_DATA", "range"),
        ({"color__c": ["old__c"]}, "INVALID_DATA", "old__c"),
        ({"color__c": ["green__c"]}, "INVALID_DATA", "green__c"),
        ({"nothing__c": 1}, "INVALID_DATA", "nothing__c"),
        ({"created_by__v": 5}, "INVALID_DATA", "not editable"),
        ({"internal_name__c": "x" * 21}, "INVALID_DATA", "too long"),
    ],
)
def test_each_invalid_record_fails_alone_in_input_order(
    admin: httpx.Client, fields: dict[str, Any], error_type: str, fragment: str
) -> None:
    n = next(_names)
    good = {"name__v": f"good {n}", "internal_name__c": f"good-{n}"}
    bad = {"name__v": f"bad {n}", "internal_name__c": f"bad-{n}", **fields}
    results = create(admin, "product__c", [good, bad, {**good, "internal_name__c": f"good2-{n}"}])
    assert [r["responseStatus"] for r in results] == ["SUCCESS", "FAILURE", "SUCCESS"]
    assert results[1]["errors"][0]["type"] == error_type and fragment in results[1]["errors"][0]["message"]
    assert results[0]["data"]["event"] == "created__sys"


def test_unique_values_clash_with_stored_records_and_within_the_request(admin: httpx.Client) -> None:
    n = next(_names)
    product(admin, internal_name__c=f"uniq-{n}")
    results = create(admin, "product__c", [
        {"name__v": "a", "internal_name__c": f"uniq-{n}"},
        {"name__v": "b", "internal_name__c": f"other-{n}"},
        {"name__v": "c", "internal_name__c": f"other-{n}"},
    ])
    assert [r["responseStatus"] for r in results] == ["FAILURE", "SUCCESS", "FAILURE"]
    assert results[0]["errors"] == [{"type": "OPERATION_NOT_ALLOWED",
                                     "message": f"Another resource already exists with [internal_name__c=uniq-{n}]"}]


def test_references_must_name_an_existing_record_of_the_right_object(admin: httpx.Client) -> None:
    parent = product(admin)
    batch = create(admin, "batch__c", [{"name__v": "B", "product__c": parent}])[0]["data"]["id"]
    results = create(admin, "batch__c", [
        {"name__v": "no such product", "product__c": parent[:3] + "999999999999"},
        {"name__v": "a batch is not a product", "product__c": batch},
        {"name__v": "no parent"},
    ])
    assert [r["errors"][0]["type"] for r in results] == ["INVALID_DATA", "INVALID_DATA", "PARAMETER_REQUIRED"]
    assert "does not exist" in results[0]["errors"][0]["message"]


def test_csv_in_with_relationship_columns_and_csv_out(admin: httpx.Client) -> None:
    n = next(_names)
    name = f"CSV product {n}"
    results = create(admin, "product__c", [{"name__v": name, "internal_name__c": f"csv-{n}"}])
    parent = results[0]["data"]["id"]
    body = f'name__v,product__cr.name__v,made__c\nB1,{name},2026-01-31\n"B, two",{name},\nB3,nobody {n},\n'
    response = admin.post(f"/api/{V}/vobjects/batch__c", content=body,
                          headers={"Content-Type": "text/csv", "Accept": "text/csv"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["responseStatus"] for r in rows] == ["SUCCESS", "SUCCESS", "FAILURE"]
    assert rows[2]["errors"].startswith("INVALID_DATA|") and "matches no record" in rows[2]["errors"]
    data = ok(admin.get(f"/api/{V}/vobjects/batch__c/{rows[1]['id']}"))["data"]
    assert data["name__v"] == "B, two" and data["product__c"] == parent and data["made__c"] is None
    listing = admin.get(f"/api/{V}/vobjects/batch__c", params={"fields": "id,name__v,made__c"},
                        headers={"Accept": "text/csv"})
    found = {r["id"]: r for r in csv.DictReader(io.StringIO(listing.text))}
    assert found[rows[0]["id"]] == {"id": rows[0]["id"], "name__v": "B1", "made__c": "2026-01-31"}


def test_bad_bodies_are_invalid_data(admin: httpx.Client) -> None:
    url = f"/api/{V}/vobjects/product__c"
    fails(admin.post(url, content=b"{not json"), "INVALID_DATA")
    fails(admin.post(url, content=b"[1, 2]"), "INVALID_DATA")
    fails(admin.post(url, content=b"[]"), "INVALID_DATA")
    fails(admin.post(url, content=b"a,b\n1\n", headers={"Content-Type": "text/csv"}), "INVALID_DATA")
    too_many = [{"name__v": f"n{i}", "internal_name__c": f"many-{i}"} for i in range(501)]
    fails(admin.post(url, json=too_many), "INVALID_DATA")
    fails(admin.get(f"{url}/not-an-id"), "INVALID_DATA")
    fails(admin.get(url, params={"sort": "nothing__c desc"}), "INVALID_DATA")
    fails(admin.get(url, params={"sort": "price__c sideways"}), "INVALID_DATA")
    fails(admin.get(url, params={"fields": "id,nothing__c"}), "INVALID_DATA")


def test_a_lone_json_object_is_one_record(admin: httpx.Client) -> None:
    n = next(_names)
    body = ok(admin.post(f"/api/{V}/vobjects/product__c", json={"name__v": "lone", "internal_name__c": f"lone-{n}"}))
    assert [r["responseStatus"] for r in body["data"]] == ["SUCCESS"]


def test_upsert_creates_then_updates_then_warns(admin: httpx.Client) -> None:
    n = next(_names)
    url = f"/api/{V}/vobjects/product__c?idParam=internal_name__c"
    first = ok(admin.post(url, json=[{"name__v": "up", "internal_name__c": f"up-{n}"}]))["data"][0]
    assert first["data"]["event"] == "created__sys" and first["data"]["id_param_value"] == f"up-{n}"
    second = ok(admin.post(url, json=[{"name__v": "up 2", "internal_name__c": f"up-{n}"}]))["data"][0]
    assert second["data"] == {**first["data"], "event": "updated__sys"}
    env = read(admin.post(url, json=[{"name__v": "up 2", "internal_name__c": f"up-{n}"}]))
    assert env.response_status == "WARNING"
    assert env.body["data"][0]["warnings"][0]["warning_type"] == "NO_DATA_CHANGES"
    duplicates = [{"name__v": "a", "internal_name__c": "dup"}, {"name__v": "b", "internal_name__c": "dup"}]
    fails(admin.post(url, json=duplicates), "INVALID_DATA")
    fails(admin.post(f"/api/{V}/vobjects/product__c?idParam=price__c", json=[{"name__v": "a", "price__c": 1}]),
          "INVALID_DATA")


def test_update_changes_given_fields_and_reports_each_record(admin: httpx.Client) -> None:
    record_id = product(admin, price__c=1)
    other = product(admin)
    results = ok(admin.put(f"/api/{V}/vobjects/product__c", json=[
        {"id": record_id, "price__c": 2, "color__c": "blue__c"},
        {"id": record_id[:3] + "999999999998", "price__c": 3},
        {"price__c": 4},
        {"id": other, "internal_name__c": None},
    ]))["data"]
    assert [r["responseStatus"] for r in results] == ["SUCCESS", "FAILURE", "FAILURE", "FAILURE"]
    assert results[1]["errors"][0]["message"] == f"The resource [{record_id[:3]}999999999998] does not exist"
    assert [r["errors"][0]["type"] for r in results[2:]] == ["PARAMETER_REQUIRED", "PARAMETER_REQUIRED"]
    data = ok(admin.get(f"/api/{V}/vobjects/product__c/{record_id}"))["data"]
    assert data["price__c"] == 2 and data["color__c"] == ["blue__c"] and data["name__v"].startswith("P")
    assert data["modified_date__v"] >= data["created_date__v"]


def test_delete_obeys_block_and_setnull(admin: httpx.Client) -> None:
    audited, fan_of, plain = product(admin), product(admin), product(admin)
    create(admin, "audit__c", [{"name__v": "audit", "audited_product__c": audited}])
    sample = create(admin, "sample__c", [{"name__v": "fan", "favourite_product__c": fan_of}])[0]["data"]["id"]
    ids = [{"id": audited}, {"id": fan_of}, {"id": plain}, {"id": plain}]
    results = ok(admin.request("DELETE", f"/api/{V}/vobjects/product__c", json=ids))["data"]
    assert [r["responseStatus"] for r in results] == ["FAILURE", "SUCCESS", "FAILURE", "FAILURE"]
    assert results[0]["errors"][0]["type"] == "OPERATION_NOT_ALLOWED"
    assert ok(admin.get(f"/api/{V}/vobjects/sample__c/{sample}"))["data"]["favourite_product__c"] is None
    fails(admin.get(f"/api/{V}/vobjects/product__c/{fan_of}"), "INVALID_DATA")
    ok(admin.get(f"/api/{V}/vobjects/product__c/{audited}"))
    # the duplicate id failed both entries, so the record is still there
    ok(admin.get(f"/api/{V}/vobjects/product__c/{plain}"))


def test_collection_pages_with_next_and_previous(admin: httpx.Client) -> None:
    ok(admin.post("/api/mdl/execute", content="CREATE Object page__c (label('Page'), label_plural('Pages'));"))
    create(admin, "page__c", [{"name__v": f"row {n:02d}"} for n in range(5)])
    first = ok(admin.get(f"/api/{V}/vobjects/page__c", params={"limit": 2, "sort": "name__v desc"}))
    details = first["responseDetails"]
    assert details["total"] == 5 and "previous_page" not in details
    assert [r["name__v"] for r in first["data"]] == ["row 04", "row 03"]
    second = ok(admin.get(details["next_page"]))
    assert [r["name__v"] for r in second["data"]] == ["row 02", "row 01"]
    assert second["responseDetails"]["previous_page"].endswith("offset=0")
    everything = ok(admin.get(f"/api/{V}/vobjects/page__c", params={"limit": 5000}))
    assert everything["responseDetails"]["limit"] == 200
    ids = [r["id"] for r in everything["data"]]
    assert ids == sorted(ids)  # creation order: the last is the newest


SORTED_MDL = """CREATE Object sorted__c (label('Sorted'), label_plural('Sorted'),
   Field score__c (label('Score'), type('Number'), scale(2), min_value(-1000), max_value(1000)),
   Field label__c (label('Label'), type('String')),
   Field due__c (label('Due'), type('Date')),
   Field flag__c (label('Flag'), type('Boolean')));"""


def test_sort_on_any_field_pages_in_a_stable_order(admin: httpx.Client) -> None:
    """More records than a page, values with ties and gaps: every page of every sort comes from the
    database in one order (numbers by value, text by code point, no value last ascending and first
    descending, ties by id), and next_page / previous_page walk it without overlap or gap."""
    ok(admin.post("/api/mdl/execute", content=SORTED_MDL))
    labels = ["b", "B", "a", "Z", "é", "aa", None]
    rows = [{"name__v": f"row {i % 37}",
             "score__c": None if i % 11 == 0 else (i * 7) % 23 * (-1 if i % 5 == 0 else 1) + (0.5 if i % 3 else 0),
             "label__c": labels[i % len(labels)],
             "due__c": None if i % 13 == 0 else f"2026-{1 + i % 12:02d}-{1 + i % 27:02d}",
             "flag__c": None if i % 4 == 0 else i % 3 == 0}
            for i in range(450)]
    created = create(admin, "sorted__c", rows)
    assert all(r["responseStatus"] == "SUCCESS" for r in created)
    ids = [r["data"]["id"] for r in created]
    url = f"/api/{V}/vobjects/sorted__c"
    for field in ("score__c", "label__c", "due__c", "flag__c", "name__v"):
        values = {record_id: row[field] for record_id, row in zip(ids, rows, strict=True)}
        ascending = sorted(ids, key=lambda i: (values[i] is None, values[i] if values[i] is not None else 0, i))
        for direction, expected in (("asc", ascending), ("desc", ascending[::-1])):
            pages = [ok(admin.get(url, params={"sort": f"{field} {direction}", "fields": f"id,{field}",
                                              "limit": 200}))]
            while "next_page" in pages[-1]["responseDetails"]:
                pages.append(ok(admin.get(pages[-1]["responseDetails"]["next_page"])))
            assert [len(p["data"]) for p in pages] == [200, 200, 50]
            assert [r["id"] for p in pages for r in p["data"]] == expected, (field, direction)
            back = ok(admin.get(pages[-1]["responseDetails"]["previous_page"]))
            assert back["data"] == pages[1]["data"]
    assert [r["id"] for r in ok(admin.get(url, params={"sort": "id desc", "limit": 3}))["data"]] == ids[::-1][:3]


def test_users_write_custom_objects_and_only_read_standard_ones(alice: httpx.Client, admin: httpx.Client) -> None:
    n = next(_names)
    assert create(alice, "product__c", [{"name__v": "alice's", "internal_name__c": f"alice-{n}"}])[0][
        "responseStatus"] == "SUCCESS"
    fails(alice.post(f"/api/{V}/vobjects/study__v", json=[{"name__v": "Study"}]), "INSUFFICIENT_ACCESS")
    study = create(admin, "study__v", [{"name__v": f"Study {n}"}])[0]
    assert study["responseStatus"] == "SUCCESS", study
    assert ok(alice.get(f"/api/{V}/vobjects/study__v/{study['data']['id']}"))["data"]["name__v"] == f"Study {n}"
    fails(alice.request("DELETE", f"/api/{V}/vobjects/study__v", json=[{"id": study["data"]["id"]}]),
          "INSUFFICIENT_ACCESS")


def test_xml_answers_for_records(admin: httpx.Client) -> None:
    record_id = product(admin)
    response = admin.get(f"/api/{V}/vobjects/product__c/{record_id}", headers={"Accept": "application/xml"})
    assert response.text.startswith("<?xml") or response.text.startswith("<VaultResponse")
    assert f"<id>{record_id}</id>" in response.text


# -- Execute MDL Script Asynchronously ------------------------------------------------------------------


def wait_finished(server: LiveServer, client: httpx.Client, job_id: int) -> dict[str, Any]:
    return server.wait_for_status(str(client.headers["Authorization"]), job_id,
                                  lambda s: s in ("SUCCESS", "ERRORS_ENCOUNTERED"), timeout=60)


def test_mdl_async_applies_in_a_job_with_results(server: LiveServer, admin: httpx.Client) -> None:
    script = "CREATE Object async_thing__c (label('Async Thing'), label_plural('Async Things'));"
    body = ok(admin.post("/api/mdl/execute_async", content=script))
    assert body["script_execution"]["code"] == "GEN-S-0"
    job_id = body["job_id"]
    assert isinstance(job_id, int) and body["url"].endswith(f"/services/jobs/{job_id}")
    status = wait_finished(server, admin, job_id)
    assert status["status"] == "SUCCESS"
    assert {"rel": "artifacts", "href": f"/api/mdl/execute_async/{job_id}/results", "method": "GET",
            "accept": "application/json"} in status["links"]
    results = ok(admin.get(f"/api/mdl/execute_async/{job_id}/results"))
    assert [s["response"] for s in results["statement_execution"]] == ["SUCCESS"]
    assert "async_thing__c" in {o["name"] for o in ok(admin.get(f"/api/{V}/metadata/vobjects"))["objects"]}
    # the same script again: the statement fails, the job ends ERRORS_ENCOUNTERED, its results say why
    again = ok(admin.post("/api/mdl/execute_async", content=script))["job_id"]
    assert wait_finished(server, admin, again)["status"] == "ERRORS_ENCOUNTERED"
    env = read(admin.get(f"/api/mdl/execute_async/{again}/results"))
    assert env.response_status == "FAILURE" and "already exists" in env.body["statement_execution"][0]["message"]


def test_mdl_async_checks_syntax_and_access_first(admin: httpx.Client, alice: httpx.Client) -> None:
    assert "line 1" in fails(admin.post("/api/mdl/execute_async", content="CREATE Object (;"), "INVALID_DATA")
    fails(alice.post("/api/mdl/execute_async", content="DROP Object product__c;"), "INSUFFICIENT_ACCESS")
    fails(admin.get("/api/mdl/execute_async/abc/results"), "INVALID_DATA")
    fails(admin.get("/api/mdl/execute_async/999999/results"), "INVALID_DATA")


def test_objects_an_async_mdl_job_changes_are_in_deployment_until_it_ends(
    tmp_path: Path, vaultjobs_new_database: Callable[[], str]
) -> None:
    """A server without workers keeps the job queued: meanwhile the objects its script changes (a
    renamed one under both names) report IN_DEPLOYMENT and refuse record writes; the others do not.
    A worker then runs the job, and the state and the writes come back."""
    srv = LiveServer(tmp_path / "deploying", database_url=vaultjobs_new_database(), status_window=0.1, workers=0)
    srv.start()
    worker = None
    try:
        with srv.client(headers={"Authorization": srv.login()}) as client:
            ok(client.post("/api/mdl/execute", content=TREE_MDL))
            kept = product(client)
            sample = create(client, "sample__c", [{"name__v": "before"}])[0]["data"]["id"]
            script = ("ALTER Object product__c (ADD Field grade__c (label('Grade'), type('String')));\n"
                      "RENAME Object audit__c TO review__c;")
            job_id = ok(client.post("/api/mdl/execute_async", content=script))["job_id"]

            def states() -> dict[str, str]:
                objects = ok(client.get(f"/api/{V}/metadata/vobjects"))["objects"]
                return {o["name"]: o["configuration_state"] for o in objects}

            assert states()["product__c"] == states()["audit__c"] == "IN_DEPLOYMENT"
            assert states()["sample__c"] == "STEADY_STATE"
            metadata = ok(client.get(f"/api/{V}/metadata/vobjects/product__c"))["object"]
            assert metadata["configuration_state"] == "IN_DEPLOYMENT"
            details = ok(client.get(f"/api/{V}/vobjects/product__c"))["responseDetails"]
            assert details["object"]["configuration_state"] == "IN_DEPLOYMENT"
            message = fails(client.post(f"/api/{V}/vobjects/product__c",
                                        json=[{"name__v": "during", "internal_name__c": "during"}]),
                            "OPERATION_NOT_ALLOWED")
            assert "product__c" in message and "IN_DEPLOYMENT" in message
            fails(client.put(f"/api/{V}/vobjects/product__c", json=[{"id": kept, "name__v": "renamed"}]),
                  "OPERATION_NOT_ALLOWED")
            fails(client.request("DELETE", f"/api/{V}/vobjects/product__c", json=[{"id": kept}]),
                  "OPERATION_NOT_ALLOWED")
            fails(client.post(f"/api/{V}/vobjects/product__c/{kept}/actions/deepcopy",
                              json={"internal_name__c": "copy-during"}), "OPERATION_NOT_ALLOWED")
            assert ok(client.put(f"/api/{V}/vobjects/sample__c", json=[{"id": sample, "name__v": "during"}]))

            worker = srv.start_worker("--workers", "1")
            status = srv.wait_for_status(str(client.headers["Authorization"]), job_id,
                                         lambda s: s in ("SUCCESS", "ERRORS_ENCOUNTERED"), timeout=60)
            assert status["status"] == "SUCCESS"
            assert set(states().values()) == {"STEADY_STATE"} and "review__c" in states()
            created = create(client, "product__c", [{"name__v": "after", "internal_name__c": "after",
                                                     "grade__c": "A"}])
            assert created[0]["responseStatus"] == "SUCCESS"
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        srv.stop()
