"""Errors the service answers with, one class per Vault error type.

Tree::

    VaultError                      (type, message; the base of everything a caller can be told)
    ├── InvalidSessionId            INVALID_SESSION_ID
    ├── InvalidData                 INVALID_DATA
    ├── InsufficientAccess          INSUFFICIENT_ACCESS
    ├── ParameterRequired           PARAMETER_REQUIRED
    ├── MalformedUrl                MALFORMED_URL
    ├── MethodNotSupported          METHOD_NOT_SUPPORTED
    ├── ApiLimitExceeded            API_LIMIT_EXCEEDED (retry_after seconds)
    ├── OperationNotAllowed         OPERATION_NOT_ALLOWED
    └── AuthenticationFailed        (errorType AUTHENTICATION_FAILED on the envelope)
        ├── UsernameOrPasswordIncorrect   USERNAME_OR_PASSWORD_INCORRECT
        ├── NoPasswordProvided            NO_PASSWORD_PROVIDED
        ├── InactiveUser                  INACTIVE_USER
        └── UserLockedOut                 USER_LOCKED_OUT

The message defaults to the class docstring; Vault says messages are not contractual, types are.
"""

from __future__ import annotations

from typing import ClassVar


class VaultError(Exception):
    """An unexpected error occurred."""

    type: ClassVar[str] = "UNEXPECTED_ERROR"
    #: ``errorType`` added to the envelope, when the class sets it.
    error_type: ClassVar[str | None] = None

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or self.type).strip()
        super().__init__(self.message)


class InvalidSessionId(VaultError):
    """Invalid or expired session ID."""

    type = "INVALID_SESSION_ID"


class InvalidData(VaultError):
    """Invalid data."""

    type = "INVALID_DATA"


class InsufficientAccess(VaultError):
    """User does not have sufficient privileges to perform the action."""

    type = "INSUFFICIENT_ACCESS"


class ParameterRequired(VaultError):
    """A required parameter is missing."""

    type = "PARAMETER_REQUIRED"

    @classmethod
    def named(cls, name: str) -> ParameterRequired:
        return cls(f"Missing required parameter [{name}]")


class MalformedUrl(VaultError):
    """The resource you requested could not be found."""

    type = "MALFORMED_URL"


class MethodNotSupported(VaultError):
    """The HTTP method is not supported for this resource in this API version."""

    type = "METHOD_NOT_SUPPORTED"


class ApiLimitExceeded(VaultError):
    """API limit exceeded."""

    type = "API_LIMIT_EXCEEDED"

    def __init__(self, message: str | None = None, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OperationNotAllowed(VaultError):
    """The operation is not allowed."""

    type = "OPERATION_NOT_ALLOWED"


class AuthenticationFailed(VaultError):
    """Authentication failed."""

    error_type = "AUTHENTICATION_FAILED"


class UsernameOrPasswordIncorrect(AuthenticationFailed):
    """Authentication failed for user."""

    type = "USERNAME_OR_PASSWORD_INCORRECT"


class NoPasswordProvided(AuthenticationFailed):
    """No password was provided."""

    type = "NO_PASSWORD_PROVIDED"


class InactiveUser(AuthenticationFailed):
    """User is inactive or not found."""

    type = "INACTIVE_USER"


class UserLockedOut(AuthenticationFailed):
    """User is locked out after too many failed login attempts."""

    type = "USER_LOCKED_OUT"
