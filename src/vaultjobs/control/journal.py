"""The request journal: what a client under test asked the Vault API, and what it was answered.

Every call to the Vault API (paths under ``/api``) is recorded while the control plane is on, with
its route template, operation name, HTTP status, Vault error type, user and duration, and its
headers with the secrets (``Authorization``, cookies, the control token) redacted. Calls to the
control plane itself are not recorded: the journal shows what the code under test did, not what
its test harness did. The store keeps the newest
:data:`~vaultjobs.store.control_requests.KEPT_REQUESTS` calls of the whole cluster.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vaultjobs.api.services import Services
from vaultjobs.control.operations import template_of
from vaultjobs.control.responses import ControlError, control_endpoint, control_json
from vaultjobs.store.control_requests import JournalEntry, JournalFilter
from vaultjobs.timeutil import parse_datetime, render_datetime

REDACTED = "[redacted]"
#: Request headers whose values never reach the journal.
SECRET_HEADERS = frozenset({"authorization", "cookie", "x-vaultjobs-control-token", "proxy-authorization"})
#: Bodies up to this size are read for their error type; larger ones are files, not envelopes.
ERROR_BODY_LIMIT = 64 * 1024


def redacted_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name_bytes, value_bytes in raw:
        name = name_bytes.decode("latin-1").lower()
        value = REDACTED if name in SECRET_HEADERS else value_bytes.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def error_type_of(vault_status: str | None, content_type: str, body: bytes) -> str | None:
    """The first Vault error type of a FAILURE or EXCEPTION envelope (JSON or XML); None otherwise."""
    if vault_status not in ("FAILURE", "EXCEPTION") or not body or len(body) > ERROR_BODY_LIMIT:
        return None
    try:
        if "xml" in content_type:
            found = ET.fromstring(body).findtext("errors/error/type")
            return found or None
        parsed: Any = orjson.loads(body)
        return str(parsed["errors"][0]["type"])
    except (ET.ParseError, orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        return None


def entry_view(entry: JournalEntry) -> dict[str, Any]:
    return {
        "at": render_datetime(entry.at), "method": entry.method, "path": entry.path, "route": entry.route,
        "operation": entry.operation, "status": entry.status, "error_type": entry.error_type, "user": entry.user,
        "duration_ms": round(entry.duration_ms, 3), "headers": entry.headers, "fault": entry.fault,
    }


def parse_filter(request: Request) -> JournalFilter:
    query = request.query_params
    unknown = sorted(set(query) - {"route", "operation", "method", "status", "error_type", "since"})
    if unknown:
        raise ControlError(400, "INVALID_FILTER", f"unknown filter(s): {', '.join(unknown)}")
    status = query.get("status")
    if status is not None and not status.isdigit():
        raise ControlError(400, "INVALID_FILTER", f"status must be an HTTP status code, not [{status}]")
    since = query.get("since")
    try:
        since_at = None if since is None else parse_datetime(since)
    except ValueError as exc:
        raise ControlError(400, "INVALID_FILTER", f"since must be an ISO 8601 date-time: {exc}") from exc
    method = query.get("method")
    route = query.get("route")
    return JournalFilter(route=None if route is None else template_of(route), operation=query.get("operation"),
                         method=None if method is None else method.upper(),
                         status=None if status is None else int(status), error_type=query.get("error_type"),
                         since=since_at)


def routes(services: Services) -> list[BaseRoute]:
    """``/requests``: read the journal (filtered) and empty it."""
    journal = services.store.control_requests

    @control_endpoint
    async def read(request: Request) -> Response:
        where = parse_filter(request)
        entries = await anyio.to_thread.run_sync(journal.list, where)
        return control_json({"requests": [entry_view(entry) for entry in entries]})

    @control_endpoint
    async def clear(request: Request) -> Response:
        await anyio.to_thread.run_sync(journal.clear)
        return control_json({"deleted": True})

    return [Route("/requests", read, methods=["GET"]), Route("/requests", clear, methods=["DELETE"])]
