"""Bad input never yields a 5xx, a traceback or a non-Vault body (DESIGN.md), fuzzed from openapi.yaml.

Schemathesis generates requests for every operation of openapi.yaml, both valid ones (positive)
and ones that break the document (negative: wrong types, missing fields, odd bytes), and sends them
to a live ``vaultjobs serve``. Hypothesis also chooses, per request, the session (a real admin or
non-admin session, ``Bearer`` or not, or whatever schemathesis made up), a supported API version
most of the time, an ``Accept`` header, and real job ids, so that the handlers get past the
envelope checks. Every answer must be HTTP 200, a Vault envelope in JSON or XML whose
``responseStatus`` is not EXCEPTION (or the log's text, or the service's own routes' bodies), with
``X-VaultAPI-Status`` echoing it and no traceback; and it must conform to openapi.yaml (status,
content type, headers and JSON schema, checked by schemathesis).

``VAULTJOBS_FUZZ_EXAMPLES`` sets the examples per operation (default 40; three times as many for
operations with a request body).

The server bugs the fuzz found (dates past year 9999, NUL characters and over-long names that
PostgreSQL cannot store) are fixed; each keeps a regression test at the end of this file.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import Any

import orjson
import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode, Response
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from vaultjobs.api.versions import SUPPORTED_VERSIONS
from vaultjobs.testing import LiveServer, V, run_demo

EXAMPLES = int(os.environ.get("VAULTJOBS_FUZZ_EXAMPLES", "40"))
FUZZ_USER = ("fuzzer", "fuzzer-password")
ENVELOPE_STATUSES = {"SUCCESS", "FAILURE"}
ACCEPTS = [None, "application/json", "application/xml", "text/xml", "application/xml, application/json",
           "application/json;q=0.5, application/xml", "*/*", "text/plain", "\u00e9\u00e8/x"]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]

SCHEMA = schemathesis.openapi.from_dict(
    yaml.safe_load(resources.files("vaultjobs.api").joinpath("openapi.yaml").read_text(encoding="utf-8"))
)
OPERATIONS = {op.label: op for op in (result.ok() for result in SCHEMA.get_all_operations())}


# Strings that have broken servers before: NUL, markup, odd code points, long incompressible text.
SHORT_NASTY_TEXT = st.one_of(
    st.sampled_from(["\x00", "a\x00b", "fuzz\x00", "", " ", "<x>&amp;]]>", "\ud7ff\ue000\uffff", "%00", "'; --"]),
    st.text(max_size=30),
)
NASTY_TEXT = st.one_of(SHORT_NASTY_TEXT, st.text(st.characters(codec="utf-8"), min_size=500, max_size=4000))


@st.composite
def iso_datetimes(draw: st.DrawFn) -> str:
    """ISO 8601 date-times from year 1 to 9999, with or without an offset (up to ±23:59)."""
    value = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
    offset = draw(st.one_of(st.none(), st.just("Z"), st.integers(-1439, 1439)))
    if offset is None:
        return value.isoformat()
    if offset == "Z":
        return value.isoformat() + "Z"
    return value.replace(tzinfo=timezone(timedelta(minutes=int(offset)))).isoformat()


EDGE_DATETIMES = st.sampled_from([
    "9999-12-31T23:59:59-23:59", "9999-12-31T23:00:00-01:00", "9999-12-31T23:59:59", "0001-01-01T00:00:00+23:59",
    "2099-02-30T00:00:00Z", "2099-01-01T24:00:00Z", "2099-01-01", "",
])


@dataclass
class Target:
    server: LiveServer
    http: requests.Session
    admin: str
    user: str
    job_ids: list[int]


@pytest.fixture(scope="module")
def target(live_server: LiveServer) -> Iterator[Target]:
    live_server.add_user(*FUZZ_USER)
    admin = live_server.login()
    user = live_server.login(*FUZZ_USER)
    with live_server.client() as http:
        job_ids = [run_demo(http, admin, items=3, item_seconds=0) for _ in range(2)]
        job_ids += [run_demo(http, user, items=1, item_seconds=0)]
        # One SCHEDULED job, so that Start Job and Cancel Job can find one.
        body = http.post(
            f"/api/{V}/services/jobs/processors/demo/actions/run",
            headers={"Authorization": user},
            json={"parameters": {"items": 1}, "schedule_at": "2099-01-01T00:00:00Z"},
        ).json()
        job_ids.append(int(body["job_id"]))
    with requests.Session() as session:
        yield Target(live_server, session, admin, user, job_ids)


def often(data: st.DataObject, label: str) -> bool:
    """True about four times in five (Hypothesis leans to the first choice, and shrinks towards it)."""
    return bool(data.draw(st.sampled_from([True, True, True, True, False]), label=label))


def adjust(case: Case, data: st.DataObject, target: Target) -> dict[str, str]:
    """Steer the generated case past the envelope checks into the handlers; returns headers to send.

    Left alone, almost every generated version is unsupported and every session id unknown.
    """
    label = case.operation.label
    if "version" in case.path_parameters and often(data, "supported version"):
        case.path_parameters["version"] = data.draw(st.sampled_from(SUPPORTED_VERSIONS), label="version")
    if "job_id" in case.path_parameters and data.draw(st.booleans(), label="real job"):
        case.path_parameters["job_id"] = data.draw(st.sampled_from(target.job_ids), label="job_id")
    if "name" in case.path_parameters and often(data, "demo"):
        case.path_parameters["name"] = "demo"
    if label == "POST /api/{version}/auth" and isinstance(case.body, dict) and often(data, "steer body"):
        case.body["username"] = data.draw(NASTY_TEXT, label="username")
        case.body["password"] = data.draw(NASTY_TEXT, label="password")
    if label.endswith("/actions/run") and often(data, "steer body"):
        body = case.body if isinstance(case.body, dict) else {}
        body["parameters"] = data.draw(st.sampled_from([{}, {"items": 0}, {"items": 2, "item_seconds": 0}]))
        body["title"] = data.draw(st.one_of(SHORT_NASTY_TEXT, st.none()), label="title")
        body["schedule_at"] = data.draw(st.one_of(EDGE_DATETIMES, iso_datetimes(), st.none()), label="schedule_at")
        case.body = body
        case.media_type = "application/json"
    headers: dict[str, str] = {}
    accept = data.draw(st.sampled_from(ACCEPTS), label="accept")
    if accept is not None:
        headers["Accept"] = accept
    # DELETE /session with a real session would end the session the other examples use.
    if label != "DELETE /api/{version}/session" and often(data, "real session"):
        token = data.draw(st.sampled_from([target.admin, target.user]), label="session")
        headers["Authorization"] = data.draw(st.sampled_from([token, f"Bearer {token}"]), label="auth")
    return headers


#: Operations whose success is a file, not an envelope.
TEXT_OPERATIONS = {
    "GET /api/{version}/services/jobs/{job_id}/log",
    "GET /api/mdl/components/{component}",
    "GET /api/{version}/vobjects/{object_name}/{record_id}/attachments/{attachment_id}/versions/"
    "{attachment_version}/file",
    "GET /api/{version}/services/package/actions/deploy/data_results/{file_id}/{filename}",
}


def header(response: Response, name: str) -> str | None:
    values = response.headers.get(name.lower())
    return values[0] if values else None


def check_vault_body(case: Case, response: Response, backend: str) -> None:
    text = response.content.decode("utf-8", "replace")
    where = f"{case.method} {case.formatted_path} -> {response.status_code} {text[:500]!r}"
    assert response.status_code == 200, where
    assert "Traceback" not in text and 'File "/' not in text, where
    content_type = header(response, "content-type") or ""
    label = case.operation.label
    if label == "GET /_vaultjobs/openapi.yaml" and content_type.startswith("application/yaml"):
        return
    if label == "GET /_vaultjobs/health":
        assert orjson.loads(response.content) == {"responseStatus": "SUCCESS", "status": "ok"}, where
        assert header(response, "X-VaultAPI-Status") == "SUCCESS", where
        return
    if label == "GET /_vaultjobs/ready":
        body = orjson.loads(response.content)
        assert body["responseStatus"] == header(response, "X-VaultAPI-Status") == "SUCCESS", where
        return
    if label == "GET /_vaultjobs/metrics":
        assert content_type.startswith("text/plain") and "vaultjobs_jobs" in text, where
        return
    header_status = header(response, "X-VaultAPI-Status")
    assert header(response, "X-VaultAPI-ExecutionId"), where
    if content_type.startswith(("text/plain", "application/zip")):
        assert label in TEXT_OPERATIONS, where
        assert header_status == "SUCCESS", where
        return
    if content_type.startswith("application/xml"):
        root = ET.fromstring(response.content)
        assert root.tag == "VaultResponse", where
        status = root.findtext("responseStatus")
        types = [e.findtext("type") for e in root.findall("errors/error")]
    else:
        assert content_type.startswith("application/json"), where
        body: Any = orjson.loads(response.content)
        assert isinstance(body, dict), where
        status = body.get("responseStatus")
        types = [e.get("type") for e in body.get("errors", [])]
    assert status in ENVELOPE_STATUSES, where
    assert header_status == status, where
    if status == "FAILURE":
        assert types and all(types), where


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_fuzz(label: str, target: Target, backend: str) -> None:
    operation = OPERATIONS[label]
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        # Operations with a body have more to explore.
        max_examples=EXAMPLES * (3 if operation.body else 1),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(case=strategy, data=st.data())
    def fuzz(case: Case, data: st.DataObject) -> None:
        headers = adjust(case, data, target)
        if any("\x00" in str(value) for value in {**(case.headers or {}), **headers}.values()):
            return  # not HTTP (RFC 9110 forbids NUL in fields): uvicorn answers 400 before the app sees it
        try:
            response = case.call(base_url=target.server.url, session=target.http, headers=headers, timeout=30)
        except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeError, ValueError):
            return  # the client refused to send it; nothing reached the server
        check_vault_body(case, response, backend)
        case.validate_response(response, checks=CHECKS, headers=headers)

    fuzz()


# -- regression tests for the server bugs the fuzz found (all fixed) ---------------------------


def post_envelope(target: Target, path: str, **kwargs: Any) -> dict[str, Any]:
    response = target.http.post(f"{target.server.url}/api/{V}{path}", timeout=30, **kwargs)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("username", ["fuzz\x00", "x" * 70 + "\x00", "".join(chr(0x4E00 + i) for i in range(3000))])
def test_auth_with_a_username_the_store_cannot_hold_is_a_failure(
    target: Target, backend: str, username: str, request: pytest.FixtureRequest
) -> None:
    body = post_envelope(target, "/auth", data={"username": username, "password": "not-the-password"})
    assert body["responseStatus"] == "FAILURE", body
    assert body["errors"][0]["type"] == "USERNAME_OR_PASSWORD_INCORRECT", body


def test_run_with_a_nul_in_the_title_is_not_an_exception(
    target: Target, backend: str, request: pytest.FixtureRequest
) -> None:
    body = post_envelope(target, "/services/jobs/processors/demo/actions/run",
                         headers={"Authorization": target.user},
                         json={"parameters": {"items": 0}, "title": "a\x00b"})
    assert body["responseStatus"] in ("SUCCESS", "FAILURE"), body
    if body["responseStatus"] == "FAILURE":
        assert body["errors"][0]["type"] == "INVALID_DATA", body


# The last: still 9999 in UTC, but the year 10000 east of UTC, where its dates could not be rendered.
@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59.9999Z", "9999-12-31T20:00:00Z"])
def test_run_with_a_schedule_after_year_9999_is_invalid_data_and_stores_nothing(
    live_server_factory: Callable[..., LiveServer], when: str
) -> None:
    # Its own server: the bug leaves a job behind that breaks later requests.
    server = live_server_factory(name="schedule-overflow")
    token = server.login()
    with server.client(headers={"Authorization": token}) as http:
        body = http.post(f"/api/{V}/services/jobs/processors/demo/actions/run",
                         json={"parameters": {"items": 0}, "schedule_at": when}).json()
        assert body["responseStatus"] == "FAILURE", body
        assert body["errors"][0]["type"] == "INVALID_DATA", body
        next_id = run_demo(http, token, items=0)
        assert http.get(f"/api/{V}/services/jobs/{next_id - 1}").json()["errors"][0]["type"] == "INVALID_DATA"


def test_a_nul_in_a_form_field_is_invalid_data(target: Target, backend: str) -> None:
    """Found by the fuzzer on PostgreSQL (which refuses NUL in text): a binder section named by a NUL."""
    body = post_envelope(target, "/objects/binders/1/sections", headers={"Authorization": target.admin},
                         data={"name__v": "0", "order__v": "0", "parent_id__v": "\x00"})
    assert body["responseStatus"] == "FAILURE" and body["errors"][0]["type"] == "INVALID_DATA", body
