"""Vault's response envelope (vaultjobs.api.envelope): which format the caller gets, what a failure
carries, and the HTTP status of each envelope under both ``http_status_codes`` settings."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import orjson
import pytest

from vaultjobs import errors
from vaultjobs.api.envelope import (
    JSON_MEDIA_TYPE,
    REST_STATUS_CODES,
    XML_MEDIA_TYPE,
    failure_payload,
    render,
    wants_xml,
)


@pytest.mark.parametrize(
    ("accept", "xml"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("application/json", False),
        ("application/xml", True),
        ("text/xml", True),
        ("APPLICATION/XML", True),  # media types are case-insensitive
        ("application/xml, application/json", True),  # the first named wins
        ("application/json, application/xml", False),
        ("text/html, text/xml;q=0.9", True),
    ],
)
def test_wants_xml(accept: str | None, xml: bool) -> None:
    assert wants_xml(accept) is xml


def test_failure_payload() -> None:
    assert failure_payload(errors.InvalidData("bad [x]")) == {
        "responseStatus": "FAILURE",
        "errors": [{"type": "INVALID_DATA", "message": "bad [x]"}],
    }
    # authentication failures name their errorType too
    assert failure_payload(errors.UserLockedOut())["errorType"] == "AUTHENTICATION_FAILED"
    # only the unexpected error is an EXCEPTION, with the generic message
    unexpected = failure_payload(errors.VaultError())
    assert unexpected["responseStatus"] == "EXCEPTION"
    assert unexpected["errors"] == [{"type": "UNEXPECTED_ERROR", "message": "An unexpected error occurred."}]
    assert "errorType" not in unexpected


def test_render_json_and_xml() -> None:
    payload = {"responseStatus": "SUCCESS", "data": {"id": 5, "name": "<a & b>"}}
    as_json = render(dict(payload), xml=False, headers={})
    assert as_json.media_type == JSON_MEDIA_TYPE
    assert orjson.loads(as_json.body) == payload
    assert as_json.headers["X-VaultAPI-Status"] == "SUCCESS"
    as_xml = render(dict(payload), xml=True, headers={"X-VaultAPI-ExecutionId": "e1"})
    assert as_xml.media_type == XML_MEDIA_TYPE
    root = ET.fromstring(as_xml.body)
    assert (root.tag, root.findtext("responseStatus"), root.findtext("data/name")) == (
        "VaultResponse", "SUCCESS", "<a & b>"
    )
    assert as_xml.headers["X-VaultAPI-ExecutionId"] == "e1"


@pytest.mark.parametrize("error", [errors.InvalidSessionId(), errors.ApiLimitExceeded(), errors.VaultError()])
def test_vault_answers_200_to_every_processed_request(error: errors.VaultError) -> None:
    response = render(failure_payload(error), xml=False, headers={})
    assert response.status_code == 200
    assert response.headers["X-VaultAPI-Status"] in ("FAILURE", "EXCEPTION")


@pytest.mark.parametrize(("error_type", "code"), sorted(REST_STATUS_CODES.items()))
def test_rest_status_codes(error_type: str, code: int) -> None:
    status = "EXCEPTION" if error_type == "UNEXPECTED_ERROR" else "FAILURE"
    payload = {"responseStatus": status, "errors": [{"type": error_type, "message": "m"}]}
    assert render(payload, xml=False, headers={}, rest_status_codes=True).status_code == code
    assert render(dict(payload), xml=True, headers={}, rest_status_codes=True).status_code == code


def test_rest_status_codes_of_unlisted_types_and_success() -> None:
    unlisted = {"responseStatus": "FAILURE", "errors": [{"type": "SOMETHING_NEW", "message": "m"}]}
    assert render(unlisted, xml=False, headers={}, rest_status_codes=True).status_code == 400
    broken = {"responseStatus": "EXCEPTION", "errors": []}
    assert render(broken, xml=False, headers={}, rest_status_codes=True).status_code == 500
    assert render({"responseStatus": "SUCCESS"}, xml=False, headers={}, rest_status_codes=True).status_code == 200


def test_every_error_type_has_a_rest_status_code() -> None:
    def subclasses(cls: type[errors.VaultError]) -> set[str]:
        return {cls.type}.union(*(subclasses(sub) for sub in cls.__subclasses__()))

    assert subclasses(errors.VaultError) <= set(REST_STATUS_CODES)
