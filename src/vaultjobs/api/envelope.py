"""Vault's response envelope: JSON or XML, the ``X-VaultAPI-*`` headers, and HTTP 200 for every
processed request (or REST-style codes when the ``http_status_codes = "rest"`` setting asks)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from vaultjobs.api.xml import render_xml
from vaultjobs.errors import VaultError

JSON_MEDIA_TYPE = "application/json;charset=UTF-8"
XML_MEDIA_TYPE = "application/xml;charset=UTF-8"

#: Used only with ``http_status_codes = "rest"``.
REST_STATUS_CODES: dict[str, int] = {
    "INVALID_SESSION_ID": 401,
    "USERNAME_OR_PASSWORD_INCORRECT": 401,
    "NO_PASSWORD_PROVIDED": 401,
    "INACTIVE_USER": 401,
    "USER_LOCKED_OUT": 401,
    "INSUFFICIENT_ACCESS": 403,
    "MALFORMED_URL": 404,
    "METHOD_NOT_SUPPORTED": 405,
    "OPERATION_NOT_ALLOWED": 409,
    "API_LIMIT_EXCEEDED": 429,
    "INVALID_DATA": 400,
    "PARAMETER_REQUIRED": 400,
    "UNEXPECTED_ERROR": 500,
}


def wants_xml(accept: str | None) -> bool:
    """Whether the ``Accept`` header prefers XML to JSON (JSON is the default)."""
    if not accept:
        return False
    accept = accept.lower()
    xml_at = min((i for i in (accept.find("application/xml"), accept.find("text/xml")) if i >= 0), default=-1)
    if xml_at < 0:
        return False
    json_at = accept.find("application/json")
    return json_at < 0 or xml_at < json_at


def failure_payload(error: VaultError) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "responseStatus": "EXCEPTION" if error.type == "UNEXPECTED_ERROR" else "FAILURE",
        "errors": [{"type": error.type, "message": error.message}],
    }
    if error.error_type:
        payload["errorType"] = error.error_type
    return payload


def render(
    payload: dict[str, Any],
    *,
    xml: bool,
    headers: dict[str, str],
    rest_status_codes: bool = False,
) -> Response:
    """The HTTP response for an envelope ``payload`` (which carries its own ``responseStatus``)."""
    status = str(payload.get("responseStatus", "SUCCESS"))
    headers["X-VaultAPI-Status"] = status
    code = 200
    if rest_status_codes and status in ("FAILURE", "EXCEPTION"):
        first = payload.get("errors") or [{}]
        code = REST_STATUS_CODES.get(str(first[0].get("type")), 400 if status == "FAILURE" else 500)
    if xml:
        return Response(render_xml(payload), status_code=code, headers=headers, media_type=XML_MEDIA_TYPE)
    return Response(orjson.dumps(payload), status_code=code, headers=headers, media_type=JSON_MEDIA_TYPE)
