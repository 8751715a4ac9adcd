"""`ClientOptions`: everything the sync and async clients are configured with, in one value.

The clients take it as ``options=`` or as keywords (`ClientOptionArgs` lists the same names, so type
checkers check keyword calls too); keywords override the fields of ``options``. Only what differs
between the two clients stays on their constructors: ``sleep`` (a function or a coroutine function)
and ``transport`` (an httpx sync or async transport).
"""

from __future__ import annotations

import dataclasses
import ssl
import time
from collections.abc import Callable
from typing import Literal, TypedDict

import httpx

from ._config import DEFAULT_API_VERSION, DEFAULT_CLIENT_ID, DEFAULT_TIMEOUT, VAULT_STATUS_INTERVAL, BurstThrottle
from ._polling import PollGate

__all__ = ["ClientOptionArgs", "ClientOptions", "Format", "merge_options"]

Format = Literal["json", "xml"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClientOptions:
    """Where the Vault is, how to log in, and how politely to poll it.

    Log in with ``username`` and ``password`` (the client logs in on first use, and once more whenever
    Vault says INVALID_SESSION_ID) or with a ``session_id`` (an expired one raises `SessionExpired`).
    Give both to start from a saved session and fall back to the credentials.

    Status calls for one job are spaced ``poll_interval + poll_margin`` seconds apart (see `PollPolicy`);
    ``poll_interval`` may not go below ``min_poll_interval`` (Vault's 10 s; lower it only for a vaultjobs
    server with a shorter ``VAULTJOBS_STATUS_WINDOW``).

    Checked when a client is built from it. Share one between a `VaultClient` and an
    `AsyncVaultClient`, or derive variants with ``dataclasses.replace``. The password and session id
    are left out of ``repr``.
    """

    #: Base URL (``https://myvault.veevavault.com``, ``http://127.0.0.1:8080``); or give ``dns``.
    url: str | None = None
    #: Vault DNS name; the base URL is then ``https://{dns}/``.
    dns: str | None = None
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    #: A session to start from; with a username and password too, an expired one is replaced.
    session_id: str | None = dataclasses.field(default=None, repr=False)
    api_version: str = DEFAULT_API_VERSION
    #: Sent as ``X-VaultAPI-ClientID`` on every request.
    client_id: str = DEFAULT_CLIENT_ID
    #: Sent as ``X-VaultAPI-ReferenceID`` when given.
    reference_id: str | None = None
    #: Response format to ask for; both give the same models.
    format: Format = "json"
    #: httpx timeout (seconds or `httpx.Timeout`); None is refused.
    timeout: httpx.Timeout | float | None = dataclasses.field(default_factory=lambda: DEFAULT_TIMEOUT)
    #: Seconds between status calls for one job; see `PollPolicy`.
    poll_interval: float = VAULT_STATUS_INTERVAL
    #: Floor of ``poll_interval`` (Vault's 10 s); lower it only for a vaultjobs with a shorter window.
    min_poll_interval: float = VAULT_STATUS_INTERVAL
    poll_margin: float = 0.1
    poll_jitter: float = 0.0
    #: A gate shared with other clients; by default each client has its own.
    poll_gate: PollGate | None = None
    #: Slow-down before the burst limit runs out; default `BurstThrottle()`.
    throttle: BurstThrottle | None = None
    #: Monotonic clock (tests pass a fake one).
    clock: Callable[[], float] = time.monotonic
    #: TLS verification, as httpx takes it.
    verify: bool | ssl.SSLContext = True


class ClientOptionArgs(TypedDict, total=False):
    """The fields of `ClientOptions` but ``url`` (a positional argument), as client keywords."""

    dns: str | None
    username: str | None
    password: str | None
    session_id: str | None
    api_version: str
    client_id: str
    reference_id: str | None
    format: Format
    timeout: httpx.Timeout | float | None
    poll_interval: float
    min_poll_interval: float
    poll_margin: float
    poll_jitter: float
    poll_gate: PollGate | None
    throttle: BurstThrottle | None
    clock: Callable[[], float]
    verify: bool | ssl.SSLContext


def merge_options(options: ClientOptions | None, url: str | None, keywords: ClientOptionArgs) -> ClientOptions:
    """``options`` (or the defaults) with ``url`` and the keywords given laid over it."""
    merged = options if options is not None else ClientOptions()
    if url is not None:
        merged = dataclasses.replace(merged, url=url)
    if keywords:
        merged = dataclasses.replace(merged, **keywords)
    return merged
