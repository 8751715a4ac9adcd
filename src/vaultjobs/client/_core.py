"""What the sync and async clients share: configuration, request shapes and response interpretation.

Nothing here does I/O; the clients send, sleep and await.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, TypeVar

import httpx

from ._auth import VaultAuth
from ._config import (
    DEFAULT_API_VERSION,
    DEFAULT_CLIENT_ID,
    DEFAULT_TIMEOUT,
    VAULT_STATUS_INTERVAL,
    BurstThrottle,
    PollPolicy,
    validate_api_version,
    validate_client_id,
)
from ._errors import (
    HTTPStatusError,
    InvalidSession,
    RateLimited,
    SessionExpired,
    UnexpectedResponse,
    VaultError,
    error_class_for,
)
from ._models import (
    CancelOutcome,
    ErrorDetail,
    Job,
    JobStarted,
    Page,
    RateLimitInfo,
    Session,
    VaultResponse,
    VaultWarning,
)
from ._parse import as_dict, as_int, as_list, as_str, decode_body
from ._polling import PollGate
from ._status import JobStatus

T = TypeVar("T")

Format = Literal["json", "xml"]
DateArg = dt.datetime | str | None

#: Cancel Job takes at most this many ids per request.
CANCEL_BATCH = 500

USER_AGENT = "vaultjobs-client/0.1"


def base_url_from(url: str | None, dns: str | None) -> httpx.URL:
    """``url`` as given (``https://myvault.veevavault.com``), or ``https://{dns}``."""
    if url and dns:
        raise ValueError("give either a URL or a Vault DNS name, not both")
    if not url and not dns:
        raise ValueError("give the Vault URL (or its DNS name)")
    if dns:
        url = f"https://{dns.strip().rstrip('/')}"
    assert url is not None
    parsed = httpx.URL(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"not an http(s) URL: {url!r}")
    path = parsed.path if parsed.path.endswith("/") else parsed.path + "/"
    return parsed.copy_with(path=path, query=None, fragment=None)


@dataclasses.dataclass(kw_only=True)
class ClientCore:
    """Validated settings plus the sans-I/O halves of every endpoint."""

    base_url: httpx.URL
    api_version: str
    auth: VaultAuth
    headers: dict[str, str]
    timeout: httpx.Timeout
    poll: PollPolicy
    gate: PollGate
    throttle: BurstThrottle
    clock: Callable[[], float]
    #: Telemetry of the last response received.
    rate_limit: RateLimitInfo | None = None

    @classmethod
    def create(
        cls,
        url: str | None = None,
        *,
        dns: str | None = None,
        username: str | None = None,
        password: str | None = None,
        session_id: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        client_id: str = DEFAULT_CLIENT_ID,
        reference_id: str | None = None,
        format: Format = "json",
        timeout: httpx.Timeout | float | None = DEFAULT_TIMEOUT,
        poll_interval: float = VAULT_STATUS_INTERVAL,
        min_poll_interval: float = VAULT_STATUS_INTERVAL,
        poll_margin: float = 0.1,
        poll_jitter: float = 0.0,
        poll_gate: PollGate | None = None,
        throttle: BurstThrottle | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> ClientCore:
        base_url = base_url_from(url, dns)
        version = validate_api_version(api_version)
        if format not in ("json", "xml"):
            raise ValueError("format is 'json' or 'xml'")
        if timeout is None:
            raise ValueError("a timeout is required; Vault calls must not hang forever")
        poll = PollPolicy(
            interval=poll_interval, min_interval=min_poll_interval, margin=poll_margin, jitter=poll_jitter
        )
        headers = {
            "Accept": "application/xml" if format == "xml" else "application/json",
            "User-Agent": USER_AGENT,
            "X-VaultAPI-ClientID": validate_client_id(client_id),
        }
        if reference_id is not None:
            headers["X-VaultAPI-ReferenceID"] = reference_id
        core: ClientCore
        auth = VaultAuth(
            login_url=base_url.join(f"api/{version}/auth"),
            username=username,
            password=password,
            session_id=session_id,
            parse_login=lambda response: core.parse_login(response),
        )
        if poll_gate is None:
            poll_gate = PollGate(poll.interval + poll.margin, jitter=poll.jitter, clock=clock)
        elif poll_gate.interval < poll.min_interval:
            raise ValueError(f"the shared poll gate's interval is below {poll.min_interval} s")
        core = cls(
            base_url=base_url,
            api_version=version,
            auth=auth,
            headers=headers,
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            poll=poll,
            gate=poll_gate,
            throttle=throttle or BurstThrottle(),
            clock=clock,
        )
        return core

    # -- paths -----------------------------------------------------------------------------------

    def path(self, rest: str) -> str:
        """Path under the API version, relative to the base URL (keeps any prefix the URL has)."""
        return f"api/{self.api_version}/{rest}"

    def gate_key(self, job_id: int) -> tuple[str, int]:
        return (self.base_url.netloc.decode("ascii"), job_id)

    # -- responses -------------------------------------------------------------------------------

    def interpret(
        self, response: httpx.Response, *, default_retry_after: float | None = None
    ) -> VaultResponse:
        """Turn an HTTP response into a `VaultResponse`, or raise the typed error it stands for."""
        rate = RateLimitInfo.from_headers(response.headers)
        self.rate_limit = rate
        try:
            body = decode_body(response.content, response.headers.get("content-type"))
            status = as_str(body.get("responseStatus"))
            if status is None:
                raise ValueError("no responseStatus")
            vault = VaultResponse(
                response_status=status,
                body=body,
                errors=ErrorDetail.list_from(body.get("errors")),
                warnings=VaultWarning.list_from(body.get("warnings")),
                response_message=as_str(body.get("responseMessage")),
                rate_limit=rate,
                http_status=response.status_code,
                raw=response.content,
            )
        except ValueError as exc:
            if response.status_code == 429:
                vault = VaultResponse(
                    response_status="FAILURE",
                    body={},
                    errors=(ErrorDetail(type="API_LIMIT_EXCEEDED", message="HTTP 429"),),
                    rate_limit=rate,
                    http_status=429,
                    raw=response.content,
                )
                raise self._error(vault, default_retry_after) from exc
            if not response.is_success:
                raise HTTPStatusError(
                    f"HTTP {response.status_code} from {response.request.url}", response=response
                ) from exc
            raise UnexpectedResponse(
                f"not a Vault response from {response.request.url}: {exc}", response=response
            ) from exc
        if vault.ok and response.is_success:
            return vault
        if vault.ok:
            raise HTTPStatusError(
                f"HTTP {response.status_code} from {response.request.url}", response=response
            )
        raise self._error(vault, default_retry_after)

    def _error(self, vault: VaultResponse, default_retry_after: float | None) -> VaultError:
        error_class = error_class_for(vault)
        if error_class is InvalidSession and not self.auth.can_login:
            error_class = SessionExpired
        if error_class is RateLimited:
            retry_after = vault.rate_limit.retry_after
            if retry_after is None:
                retry_after = default_retry_after if default_retry_after is not None else self.poll.interval
            return RateLimited(vault, retry_after=retry_after)
        return error_class(vault)

    def parse_login(self, response: httpx.Response) -> Session:
        vault = self.interpret(response)
        return _shape(response, lambda: _session(vault.body))

    def job(self, response: httpx.Response, vault: VaultResponse) -> Job:
        return _shape(response, lambda: Job.from_payload(vault.body.get("data"), rate_limit=vault.rate_limit))

    def started(self, response: httpx.Response, vault: VaultResponse) -> JobStarted:
        return _shape(response, lambda: JobStarted.from_payload(vault.body, rate_limit=vault.rate_limit))

    def page(
        self, response: httpx.Response, vault: VaultResponse, key: str, factory: Callable[[Any], T]
    ) -> Page[T]:
        def build() -> Page[T]:
            details = as_dict(vault.body.get("responseDetails"))
            return Page(
                items=tuple(factory(item) for item in as_list(vault.body.get(key))),
                total=as_int(details.get("total")),
                limit=as_int(details.get("limit")),
                offset=as_int(details.get("offset")),
                next_page=as_str(details.get("next_page")),
                rate_limit=vault.rate_limit,
            )

        return _shape(response, build)

    def cancel_outcomes(
        self, response: httpx.Response, vault: VaultResponse, job_ids: list[int]
    ) -> list[CancelOutcome]:
        def build() -> list[CancelOutcome]:
            items = as_list(vault.body.get("data"))
            if len(items) != len(job_ids):
                raise ValueError(f"{len(items)} results for {len(job_ids)} job ids")
            outcomes = []
            for job_id, raw in zip(job_ids, items, strict=True):
                item = as_dict(raw)
                status = as_str(item.get("responseStatus"))
                outcomes.append(
                    CancelOutcome(
                        job_id=job_id,
                        accepted=status in ("SUCCESS", "WARNING"),
                        errors=ErrorDetail.list_from(item.get("errors")),
                    )
                )
            return outcomes

        return _shape(response, build)

    def next_page_url(self, next_page: str | None) -> str | None:
        """A ``next_page`` (usually ``/api/v…/…?limit=&offset=``) as a URL relative to the base URL."""
        if not next_page:
            return None
        parsed = urllib.parse.urlsplit(next_page)
        path = parsed.path
        prefix = self.base_url.path  # ends with "/"
        if path.startswith(prefix):
            path = path[len(prefix) :]
        path = path.lstrip("/")
        return f"{path}?{parsed.query}" if parsed.query else path


def _shape(response: httpx.Response, build: Callable[[], T]) -> T:
    try:
        return build()
    except (ValueError, TypeError, KeyError) as exc:
        raise UnexpectedResponse(f"unexpected response shape: {exc}", response=response) from exc


def _session(body: Mapping[str, Any]) -> Session:
    session_id = as_str(body.get("sessionId"))
    if session_id is None:
        raise ValueError("auth response has no sessionId")
    return Session(
        session_id=session_id, user_id=as_int(body.get("userId")), vault_id=as_int(body.get("vaultId"))
    )


def query_date(value: DateArg) -> str | None:
    """A query date as Vault wants it: ``YYYY-MM-DDTHH:MM:SSZ`` in UTC."""
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("dates must be timezone-aware")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def list_params(
    *,
    start_date: DateArg,
    end_date: DateArg,
    status: JobStatus | str | None,
    page_size: int | None,
) -> dict[str, str]:
    params: dict[str, str] = {}
    if (start := query_date(start_date)) is not None:
        params["start_date"] = start
    if (end := query_date(end_date)) is not None:
        params["end_date"] = end
    if status is not None:
        params["status"] = (status.value if isinstance(status, JobStatus) else status).lower()
    if page_size is not None:
        if not 1 <= page_size <= 200:
            raise ValueError("page_size is between 1 and 200")
        params["limit"] = str(page_size)
        params["offset"] = "0"
    return params


def cancel_batches(job_ids: Iterable[int]) -> list[list[int]]:
    ids = [int(job_id) for job_id in job_ids]
    if not ids:
        raise ValueError("give at least one job id to cancel")
    return [ids[i : i + CANCEL_BATCH] for i in range(0, len(ids), CANCEL_BATCH)]


def check_job_id(job_id: int) -> int:
    if isinstance(job_id, bool) or not isinstance(job_id, int) or job_id <= 0:
        raise ValueError(f"job ids are positive integers, got {job_id!r}")
    return job_id


def processor_path(name: str) -> str:
    return f"services/jobs/processors/{urllib.parse.quote(name, safe='')}/actions/run"
