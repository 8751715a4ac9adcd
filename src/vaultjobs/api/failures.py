"""Every error's answer, in one place: which Vault error an exception is, and the response that says so.

* A :class:`~vaultjobs.errors.VaultError` (a handler's INVALID_DATA, a too-large body's, a closed
  status window's API_LIMIT_EXCEEDED with its ``Retry-After``) is answered as itself.
* Starlette's routing errors become Vault's: an unknown path MALFORMED_URL, a wrong method
  METHOD_NOT_SUPPORTED, a body over a limit INVALID_DATA.
* Anything else is EXCEPTION / UNEXPECTED_ERROR; its traceback goes to the log under the answer's
  execution id, never into the answer.

The answer is Vault's failure envelope (JSON, or XML when asked), with the ``X-VaultAPI-*`` headers,
HTTP 200 or, with ``http_status_codes = "rest"``, the status code of the error's type. API endpoints
call :func:`failure_response` where they catch (they know the caller and the execution id); errors
raised outside them reach :func:`exception_handlers`, the application's table.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from vaultjobs import errors
from vaultjobs.api.access import note_errors
from vaultjobs.api.envelope import failure_payload, render, wants_xml

logger = logging.getLogger(__name__)

ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


class BodyTooLarge(errors.InvalidData):
    """The request body is too large."""


def vault_error(request: Request, exc: BaseException) -> errors.VaultError | None:
    """The Vault error ``exc`` is answered as; None for an unexpected error."""
    if isinstance(exc, errors.VaultError):
        return exc
    if not isinstance(exc, HTTPException) or exc.status_code >= 500:
        return None
    path = request.url.path[:200]
    if exc.status_code == 404:
        return errors.MalformedUrl(f"The resource [{path}] could not be found")
    if exc.status_code == 405:
        return errors.MethodNotSupported(f"The method [{request.method}] is not supported for [{path}]")
    if exc.status_code == 413:
        return BodyTooLarge("The request body is too large")
    return errors.InvalidData(str(exc.detail))


def failure_response(
    request: Request, exc: BaseException, *, rest_status_codes: bool, headers: Mapping[str, str],
    log_unexpected: bool = True,
) -> Response:
    """The failure envelope for ``exc``; ``headers`` carry at least ``X-VaultAPI-ExecutionId``.

    An unexpected error's traceback is logged under that id unless ``log_unexpected`` is off."""
    error = vault_error(request, exc)
    if error is None:
        if log_unexpected:
            logger.error("unexpected error in %s %s (execution %s)", request.method, request.url.path,
                         headers.get("X-VaultAPI-ExecutionId", "-"), exc_info=exc)
        error = errors.VaultError()
    note_errors(request.scope, error.type)
    response = render(failure_payload(error), xml=wants_xml(request.headers.get("accept")), headers=dict(headers),
                      rest_status_codes=rest_status_codes)
    if isinstance(error, errors.ApiLimitExceeded) and error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def exception_handlers(*, rest_status_codes: bool) -> Mapping[type[Exception], ExceptionHandler]:
    """The application's table for errors raised outside an API endpoint (routing, the page's forms)."""

    async def answer(request: Request, exc: Exception) -> Response:
        # Starlette hands an unexpected error on to the server after this answer, which logs it.
        return failure_response(request, exc, rest_status_codes=rest_status_codes,
                                headers={"X-VaultAPI-ExecutionId": uuid.uuid4().hex}, log_unexpected=False)

    return {HTTPException: answer, errors.VaultError: answer, Exception: answer}
