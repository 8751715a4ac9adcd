"""What every request shares: validated settings, request shapes and response interpretation.

Nothing here does I/O; the flows in `_operations` combine these halves, and the drivers send and sleep.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ssl
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypedDict, TypeVar

import httpx

from ._auth import VaultAuth
from ._config import (
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
from ._options import ClientOptions
from ._parse import as_dict, as_int, as_list, as_str, decode_body
from ._polling import PollGate
from ._status import JobStatus

T = TypeVar("T")

DateArg = dt.datetime | str | None


class JobListFilters(TypedDict, total=False):
    """Filters of Retrieve Job Histories and Retrieve Job Monitors, as method keywords."""

    #: Aware datetime (sent in UTC) or a string as Vault takes it.
    start_date: DateArg
    end_date: DateArg
    #: Sent in lower case.
    status: JobStatus | str | None
    #: 1 to 200 entries per page (Vault's ``limit``).
    page_size: int | None

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
    """Validated settings, the session, and the sans-I/O halves of every endpoint."""

    base_url: httpx.URL
    api_version: str
    auth: VaultAuth
    headers: dict[str, str]
    timeout: httpx.Timeout
    poll: PollPolicy
    gate: PollGate
    throttle: BurstThrottle
    clock: Callable[[], float]
    verify: bool | ssl.SSLContext
    #: Telemetry of the last response received.
    rate_limit: RateLimitInfo | None = None

    @classmethod
    def from_options(cls, options: ClientOptions) -> ClientCore:
        """Check ``options`` (raising ValueError) and derive what the requests need."""
        base_url = base_url_from(options.url, options.dns)
        version = validate_api_version(options.api_version)
        if options.format not in ("json", "xml"):
            raise ValueError("format is 'json' or 'xml'")
        timeout = options.timeout
        if timeout is None:
            raise ValueError("a timeout is required; Vault calls must not hang forever")
        poll = PollPolicy(
            interval=options.poll_interval,
            min_interval=options.min_poll_interval,
            margin=options.poll_margin,
            jitter=options.poll_jitter,
        )
        headers = {
            "Accept": "application/xml" if options.format == "xml" else "application/json",
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": USER_AGENT,
            "X-VaultAPI-ClientID": validate_client_id(options.client_id),
        }
        if options.reference_id is not None:
            headers["X-VaultAPI-ReferenceID"] = options.reference_id
        auth = VaultAuth(username=options.username, password=options.password, session_id=options.session_id)
        gate = options.poll_gate
        if gate is None:
            gate = PollGate(poll.interval + poll.margin, jitter=poll.jitter, clock=options.clock,
                            after_answer=poll.interval)
        elif gate.interval < poll.min_interval:
            raise ValueError(f"the shared poll gate's interval is below {poll.min_interval} s")
        return cls(
            base_url=base_url,
            api_version=version,
            auth=auth,
            headers=headers,
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            poll=poll,
            gate=gate,
            throttle=options.throttle or BurstThrottle(),
            clock=options.clock,
            verify=options.verify,
        )

    # -- requests --------------------------------------------------------------------------------

    def build_request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        """A request for ``path`` (relative to ``/api/{version}/``, or to the base URL when it starts
        with ``api/``) with the client's headers and timeout; the session is added when it is sent."""
        url = path if path.startswith("api/") else self.path(path)
        return httpx.Request(
            method,
            self.base_url.join(url),
            params=params,
            json=json,
            data=data,
            content=content,
            headers={**self.headers, **headers} if headers else self.headers,
            extensions={"timeout": self.timeout.as_dict()},
        )

    def login_request(self) -> httpx.Request:
        return self.build_request("POST", "auth", data=self.auth.login_form())

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
        """The session of an auth response, or the typed error it stands for."""
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
    start_date: DateArg = None,
    end_date: DateArg = None,
    status: JobStatus | str | None = None,
    page_size: int | None = None,
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


def flatten_job_ids(job_ids: Iterable[int | Iterable[int]]) -> list[int]:
    """``cancel(1, 2)`` and ``cancel([1, 2])`` alike: every id checked, in order."""
    flat: list[int] = []
    for item in job_ids:
        if isinstance(item, int):
            flat.append(check_job_id(item))
        else:
            flat.extend(check_job_id(job_id) for job_id in item)
    return flat
