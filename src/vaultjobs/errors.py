"""Errors the service answers with, one class per Vault error type.

Tree::

    VaultError                      (type, message; the base of everything a caller can be told)
    ├── InvalidSessionId            INVALID_SESSION_ID
    ├── InvalidData                 INVALID_DATA
    │   ├── ProcessorNotInstalled       no processor of that name on this server (processor)
    │   ├── JobNotFound                 no job with that id (job_id)
    │   └── JobEnded                    the job has ended, so there is nothing to cancel (job_id, status)
    ├── InsufficientAccess          INSUFFICIENT_ACCESS
    │   └── JobAccessDenied             neither the job's creator nor an admin (job_id)
    ├── ParameterRequired           PARAMETER_REQUIRED
    ├── MalformedUrl                MALFORMED_URL
    ├── MethodNotSupported          METHOD_NOT_SUPPORTED
    ├── ApiLimitExceeded            API_LIMIT_EXCEEDED (retry_after seconds)
    ├── OperationNotAllowed         OPERATION_NOT_ALLOWED
    │   ├── JobNotCancellable           RUNNING, and its processor cannot be cancelled (job_id)
    │   └── JobNotScheduled             only a SCHEDULED job can be started now (job_id, status)
    └── AuthenticationFailed        (errorType AUTHENTICATION_FAILED on the envelope)
        ├── UsernameOrPasswordIncorrect   USERNAME_OR_PASSWORD_INCORRECT
        ├── NoPasswordProvided            NO_PASSWORD_PROVIDED
        ├── InactiveUser                  INACTIVE_USER
        └── UserLockedOut                 USER_LOCKED_OUT

The message defaults to the class docstring; Vault says messages are not contractual, types are.
Each class owns the exit code of a ``vaultjobs`` command it ends, the client's code for the same
case: 4 for authentication and sessions, 5 for API_LIMIT_EXCEEDED, 1 for the rest.

The indented classes are the errors of the job domain (:mod:`vaultjobs.jobs`). Each is a kind of its
Vault type, so the API answers it as that type with no mapping of its own, while a front end that is
not the API (the web page, the control plane) can catch exactly the case it handles and read the job
or processor it is about.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from vaultjobs.status import JobStatus


class VaultError(Exception):
    """An unexpected error occurred."""

    type: ClassVar[str] = "UNEXPECTED_ERROR"
    #: ``errorType`` added to the envelope, when the class sets it.
    error_type: ClassVar[str | None] = None
    #: Process exit code of a ``vaultjobs`` command that this error ends.
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or self.type).strip()
        super().__init__(self.message)


class InvalidSessionId(VaultError):
    """Invalid or expired session ID."""

    type = "INVALID_SESSION_ID"
    exit_code = 4


class InvalidData(VaultError):
    """Invalid data."""

    type = "INVALID_DATA"


class ProcessorNotInstalled(InvalidData):
    """No processor of the requested name is installed on this server."""

    def __init__(self, processor: str) -> None:
        super().__init__(f"Processor [{processor[:100]}] does not exist")
        self.processor = processor


class JobNotFound(InvalidData):
    """There is no job with the given id."""

    def __init__(self, job_id: int, message: str | None = None) -> None:
        super().__init__(message or f"The resource [{job_id}] does not exist")
        self.job_id = job_id


class JobEnded(InvalidData):
    """The job has ended; only a job that is scheduled, queued or running can be cancelled."""

    def __init__(self, job_id: int, status: JobStatus) -> None:
        super().__init__(f"Job [{job_id}] is not found in SCHEDULED, QUEUEING, QUEUED or RUNNING state")
        self.job_id = job_id
        self.status = status


class InsufficientAccess(VaultError):
    """User does not have sufficient privileges to perform the action."""

    type = "INSUFFICIENT_ACCESS"


class JobAccessDenied(InsufficientAccess):
    """Only the job's creator and admins may see or act on a job."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"You do not have access to job [{job_id}]")
        self.job_id = job_id


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
    exit_code = 5

    def __init__(self, message: str | None = None, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OperationNotAllowed(VaultError):
    """The operation is not allowed."""

    type = "OPERATION_NOT_ALLOWED"


class JobNotCancellable(OperationNotAllowed):
    """The job is RUNNING and its processor declares it cannot be cancelled (``admin_cancellable``)."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"Job [{job_id}] is RUNNING and its processor cannot be cancelled")
        self.job_id = job_id


class JobNotScheduled(OperationNotAllowed):
    """Only a SCHEDULED job can be started now; the job is in another status."""

    def __init__(self, job_id: int, status: JobStatus) -> None:
        super().__init__(f"Job [{job_id}] is {status.value}; only a SCHEDULED job can be started now")
        self.job_id = job_id
        self.status = status


class AuthenticationFailed(VaultError):
    """Authentication failed."""

    error_type = "AUTHENTICATION_FAILED"
    exit_code = 4


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
