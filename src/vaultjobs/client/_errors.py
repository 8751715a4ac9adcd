"""Errors raised by the vaultjobs client.

One root, three branches: Vault said no (keyed on ``errors[].type``), HTTP went wrong, or a wait ended
badly. Each message defaults to the class docstring and each class owns the CLI exit code it maps to::

    VaultClientError                  root of everything this client raises (exit 1)
    ├── VaultError                    Vault answered FAILURE/EXCEPTION; keeps errors, warnings, raw body
    │   ├── AuthenticationFailed      NO_PASSWORD_PROVIDED, USERNAME_OR_PASSWORD_INCORRECT, INACTIVE_USER,
    │   │                             USER_LOCKED_OUT, PASSWORD_CHANGE_REQUIRED (exit 4)
    │   ├── InvalidSession            INVALID_SESSION_ID (after the one re-authentication, if any) (exit 4)
    │   │   └── SessionExpired        INVALID_SESSION_ID with no credentials to log in again (exit 4)
    │   ├── RateLimited               API_LIMIT_EXCEEDED; ``retry_after`` seconds (exit 5)
    │   ├── InvalidRequest            MALFORMED_URL, METHOD_NOT_SUPPORTED, PARAMETER_REQUIRED, INVALID_DATA,
    │   │                             INVALID_FILTER, ATTRIBUTE_NOT_SUPPORTED, INCORRECT_QUERY_SYNTAX_ERROR,
    │   │                             EXCEEDS_FILE_MAX_SIZE, ITEM_NAME_EXISTS, USER_NOT_FOUND,
    │   │                             FEDERATED_ID_ALREADY_EXISTS
    │   ├── AccessDenied              INSUFFICIENT_ACCESS
    │   ├── OperationNotAllowed       OPERATION_NOT_ALLOWED, CONFIGURATION_MODE_ENABLED,
    │   │                             OPERATION_IN_PROGRESS, RACE_CONDITION
    │   └── ServerError               UNEXPECTED_ERROR, SDK_ERROR, or responseStatus EXCEPTION
    ├── HTTPError                     the HTTP exchange failed; no Vault answer to key on
    │   ├── TransportError            no connection, timeout, TLS … (``__cause__`` is httpx's)
    │   ├── HTTPStatusError           a non-2xx response without a Vault body (``status_code``)
    │   └── UnexpectedResponse        a response that is not a Vault envelope of the expected shape
    └── WaitError                     ``wait`` did not end in SUCCESS
        ├── JobFailed                 the job ended in another terminal status (``job``; exit 10–15)
        └── WaitTimeout               the deadline passed first (``last`` status seen, or None) (exit 3)

A ``VaultError`` whose type is not listed above is raised as ``VaultError`` itself; ``exc.type`` always holds
the first error's type and ``exc.errors`` all of them. When several errors come back, INVALID_SESSION_ID and
then API_LIMIT_EXCEEDED win over the first error's type, because they decide what the client does next.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from ._models import ErrorDetail, Job, RateLimitInfo, VaultResponse, VaultWarning
    from ._status import JobStatus

__all__ = [
    "AccessDenied",
    "AuthenticationFailed",
    "HTTPError",
    "HTTPStatusError",
    "InvalidRequest",
    "InvalidSession",
    "JobFailed",
    "OperationNotAllowed",
    "RateLimited",
    "ServerError",
    "SessionExpired",
    "TransportError",
    "UnexpectedResponse",
    "VaultClientError",
    "VaultError",
    "WaitError",
    "WaitTimeout",
    "JOB_FAILURE_EXIT_CODES",
    "error_class_for",
]


class VaultClientError(Exception):
    """The Vault client failed."""

    #: Process exit code of the ``vaultjobs`` CLI when this error ends a command.
    exit_code: int = 1

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or type(self).__name__).strip().splitlines()[0]
        super().__init__(self.message)


class VaultError(VaultClientError):
    """Vault refused the request."""

    def __init__(self, response: VaultResponse, message: str | None = None) -> None:
        self.response = response
        if message is None and response.errors:
            message = "; ".join(f"{e.type}: {e.message}" if e.message else e.type for e in response.errors)
        super().__init__(message)

    @property
    def type(self) -> str | None:
        """The first error's ``type`` (None if Vault sent no ``errors``)."""
        return self.response.errors[0].type if self.response.errors else None

    @property
    def errors(self) -> tuple[ErrorDetail, ...]:
        return self.response.errors

    @property
    def warnings(self) -> tuple[VaultWarning, ...]:
        return self.response.warnings

    @property
    def raw(self) -> bytes:
        """The response body exactly as received."""
        return self.response.raw

    @property
    def body(self) -> Any:
        return self.response.body

    @property
    def rate_limit(self) -> RateLimitInfo:
        return self.response.rate_limit


class AuthenticationFailed(VaultError):
    """Vault refused the username and password."""

    exit_code = 4


class InvalidSession(VaultError):
    """The session id is invalid or has expired."""

    exit_code = 4


class SessionExpired(InvalidSession):
    """The session expired and the client has no username and password to log in again."""


class RateLimited(VaultError):
    """Vault's API rate limit was exceeded (API_LIMIT_EXCEEDED)."""

    exit_code = 5

    def __init__(self, response: VaultResponse, message: str | None = None, retry_after: float = 0.0) -> None:
        super().__init__(response, message)
        #: Seconds until the limit's window opens again (``Retry-After`` when sent, else a full window).
        self.retry_after = retry_after


class InvalidRequest(VaultError):
    """Vault rejected the request as malformed or referring to something that does not exist."""


class AccessDenied(VaultError):
    """The user may not do this (INSUFFICIENT_ACCESS)."""


class OperationNotAllowed(VaultError):
    """The operation is not allowed in the current state."""


class ServerError(VaultError):
    """Vault failed with an unexpected error."""


class HTTPError(VaultClientError):
    """The HTTP exchange with Vault failed."""

    def __init__(self, message: str | None = None, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class TransportError(HTTPError):
    """Could not reach Vault or it did not answer in time."""


class HTTPStatusError(HTTPError):
    """Vault answered with an HTTP error status and no Vault body."""

    def __init__(self, message: str | None = None, *, response: httpx.Response) -> None:
        super().__init__(message, request=response.request)
        self.response = response
        self.status_code = response.status_code


class UnexpectedResponse(HTTPError):
    """The response is not a Vault response of the expected shape."""

    def __init__(self, message: str | None = None, *, response: httpx.Response | None = None) -> None:
        super().__init__(message, request=None if response is None else response.request)
        self.response = response


class WaitError(VaultClientError):
    """Waiting for a job did not end in SUCCESS."""


#: CLI exit code for each failing terminal status (SUCCESS exits 0).
JOB_FAILURE_EXIT_CODES: dict[str, int] = {
    "ERRORS_ENCOUNTERED": 10,
    "CANCELLED": 11,
    "TIMEOUT": 12,
    "COMPLETED_DUE_TO_INACTIVITY": 13,
    "MISSED_SCHEDULE": 14,
    "FAILED_TO_RUN": 15,
}


class JobFailed(WaitError):
    """The job ended in a terminal status other than SUCCESS."""

    exit_code = 10

    def __init__(self, job: Job, message: str | None = None) -> None:
        super().__init__(message or f"job {job.id} ended {job.status.raw}")
        self.job = job
        self.exit_code = JOB_FAILURE_EXIT_CODES.get(job.status.value, 10)

    @property
    def status(self) -> JobStatus:
        return self.job.status


class WaitTimeout(WaitError):
    """The wait's deadline passed before the job reached a terminal status."""

    exit_code = 3

    def __init__(self, last: Job | None, message: str | None = None, *, job_id: int | None = None) -> None:
        if message is None:
            ident = job_id if job_id is not None else (last.id if last is not None else "?")
            seen = f"; last status {last.status.raw}" if last is not None else "; no status seen"
            message = f"timed out waiting for job {ident}{seen}"
        super().__init__(message)
        #: The last status seen before the deadline (None if none was seen).
        self.last = last


_BY_TYPE: dict[str, type[VaultError]] = {
    **dict.fromkeys(
        (
            "NO_PASSWORD_PROVIDED",
            "USERNAME_OR_PASSWORD_INCORRECT",
            "INACTIVE_USER",
            "USER_LOCKED_OUT",
            "PASSWORD_CHANGE_REQUIRED",
        ),
        AuthenticationFailed,
    ),
    "INVALID_SESSION_ID": InvalidSession,
    "API_LIMIT_EXCEEDED": RateLimited,
    **dict.fromkeys(
        (
            "MALFORMED_URL",
            "METHOD_NOT_SUPPORTED",
            "PARAMETER_REQUIRED",
            "INVALID_DATA",
            "INVALID_FILTER",
            "ATTRIBUTE_NOT_SUPPORTED",
            "INCORRECT_QUERY_SYNTAX_ERROR",
            "EXCEEDS_FILE_MAX_SIZE",
            "ITEM_NAME_EXISTS",
            "USER_NOT_FOUND",
            "FEDERATED_ID_ALREADY_EXISTS",
        ),
        InvalidRequest,
    ),
    "INSUFFICIENT_ACCESS": AccessDenied,
    **dict.fromkeys(
        ("OPERATION_NOT_ALLOWED", "CONFIGURATION_MODE_ENABLED", "OPERATION_IN_PROGRESS", "RACE_CONDITION"),
        OperationNotAllowed,
    ),
    **dict.fromkeys(("UNEXPECTED_ERROR", "SDK_ERROR"), ServerError),
}


def error_class_for(response: VaultResponse) -> type[VaultError]:
    """The error class for a failed Vault response, keyed on ``errors[].type``."""
    types = [error.type for error in response.errors]
    for decisive in ("INVALID_SESSION_ID", "API_LIMIT_EXCEEDED"):
        if decisive in types:
            return _BY_TYPE[decisive]
    if types and types[0] in _BY_TYPE:
        return _BY_TYPE[types[0]]
    if response.body.get("errorType") == "AUTHENTICATION_FAILED":
        return AuthenticationFailed
    if response.response_status == "EXCEPTION":
        return ServerError
    return VaultError
