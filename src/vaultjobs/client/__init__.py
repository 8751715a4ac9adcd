"""vaultjobs.client: a typed Python client for the Vault Jobs API, for Vault and for ``vaultjobs serve``.

>>> with VaultClient("https://myvault.veevavault.com", username="me@example.com", password="…") as vault:
...     job = vault.wait(1201, timeout=900)
"""

from __future__ import annotations

from ._async_client import AsyncVaultClient
from ._client import VaultClient
from ._config import (
    DEFAULT_API_VERSION,
    DEFAULT_CLIENT_ID,
    DEFAULT_TIMEOUT,
    VAULT_STATUS_INTERVAL,
    BurstThrottle,
    PollPolicy,
)
from ._errors import (
    AccessDenied,
    AuthenticationFailed,
    HTTPError,
    HTTPStatusError,
    InvalidRequest,
    InvalidSession,
    JobFailed,
    OperationNotAllowed,
    RateLimited,
    ServerError,
    SessionExpired,
    TransportError,
    UnexpectedResponse,
    VaultClientError,
    VaultError,
    WaitError,
    WaitTimeout,
)
from ._models import (
    CancelOutcome,
    ErrorDetail,
    HistoryEntry,
    Job,
    JobStarted,
    Link,
    MonitorEntry,
    Page,
    Progress,
    ProgressEntry,
    RateLimitInfo,
    Session,
    Task,
    VaultResponse,
    VaultWarning,
)
from ._object_clients import AsyncObjects, Objects
from ._object_operations import ResultOutcome
from ._objects import FieldInfo, MdlExecution, MdlStatement, ObjectMetadata, ObjectSummary, RecordResult
from ._options import ClientOptions
from ._packages import (
    AsyncPackages,
    DeployResults,
    ImportResults,
    PackageFile,
    PackageLog,
    Packages,
    PackageStep,
    StepDependency,
    ValidationResults,
    package_id_from,
)
from ._polling import PollGate
from ._status import JobStatus, TaskState

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_TIMEOUT",
    "VAULT_STATUS_INTERVAL",
    "AccessDenied",
    "AsyncObjects",
    "AsyncPackages",
    "AsyncVaultClient",
    "AuthenticationFailed",
    "BurstThrottle",
    "CancelOutcome",
    "ClientOptions",
    "DeployResults",
    "ErrorDetail",
    "FieldInfo",
    "HTTPError",
    "HTTPStatusError",
    "HistoryEntry",
    "ImportResults",
    "InvalidRequest",
    "InvalidSession",
    "Job",
    "JobFailed",
    "JobStarted",
    "JobStatus",
    "Link",
    "MdlExecution",
    "MdlStatement",
    "MonitorEntry",
    "ObjectMetadata",
    "ObjectSummary",
    "Objects",
    "OperationNotAllowed",
    "PackageFile",
    "PackageLog",
    "PackageStep",
    "Packages",
    "Page",
    "PollGate",
    "PollPolicy",
    "Progress",
    "ProgressEntry",
    "RateLimitInfo",
    "RateLimited",
    "RecordResult",
    "ResultOutcome",
    "ServerError",
    "Session",
    "SessionExpired",
    "StepDependency",
    "Task",
    "TaskState",
    "TransportError",
    "UnexpectedResponse",
    "ValidationResults",
    "VaultClient",
    "VaultClientError",
    "VaultError",
    "VaultResponse",
    "VaultWarning",
    "WaitError",
    "WaitTimeout",
    "package_id_from",
]
