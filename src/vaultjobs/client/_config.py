"""Client configuration: safe defaults and the polling and throttling policies."""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from ._models import RateLimitInfo

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_TIMEOUT",
    "VAULT_STATUS_INTERVAL",
    "BurstThrottle",
    "PollPolicy",
    "validate_client_id",
]

#: API version used when none is given (Cancel Job needs v25.3 or newer).
DEFAULT_API_VERSION = "v25.3"
#: Sent as ``X-VaultAPI-ClientID`` so the calls are recognisable in Vault's API usage logs.
DEFAULT_CLIENT_ID = "vaultjobs-client"
#: 5 s to connect, 30 s to read/write a response or wait for a pooled connection.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
#: Vault answers Retrieve Job Status at most once per job per this many seconds.
VAULT_STATUS_INTERVAL = 10.0

_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_API_VERSION = re.compile(r"^v\d+\.\d+$")


def validate_client_id(client_id: str) -> str:
    """Vault accepts client ids of 1–100 characters from ``A-Z a-z 0-9 . _ -``."""
    if not _CLIENT_ID.match(client_id):
        raise ValueError(f"invalid client id {client_id!r}: use 1-100 characters of A-Z a-z 0-9 . _ -")
    return client_id


def validate_api_version(version: str) -> str:
    if not version.startswith("v"):
        version = f"v{version}"
    if not _API_VERSION.match(version):
        raise ValueError(f"invalid API version {version!r}: expected something like v25.3")
    return version


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class PollPolicy:
    """How often a job's status may be requested.

    Calls for one ``(host, job_id)`` get slots on a steady cadence measured on a monotonic clock from
    the start of each call, so the time a request takes is not added to the gap::

        slot[n] = max(now, slot[n-1] + interval + margin + uniform(0, jitter))

    ``margin`` (default 0.1 s) absorbs network jitter: the server measures its window between the
    moments calls *arrive*, and a call that travels faster than the previous one would otherwise land
    inside the window and be refused (which on Vault costs a whole further window). The server opens
    its window somewhere between a call's start and its answer, so a slow answer also moves the next
    slot to at least ``answer + interval``: a loaded server is never called inside its window.

    A call refused with API_LIMIT_EXCEEDED moves the next slot to ``now + Retry-After`` when the server
    sent that header (vaultjobs does), else to ``now + interval + margin`` (Vault does not send it).

    ``interval`` may not be below ``min_interval``, which is Vault's 10 s. Lower ``min_interval`` only
    for a server whose window is shorter, such as vaultjobs with ``VAULTJOBS_STATUS_WINDOW`` set.
    """

    interval: float = VAULT_STATUS_INTERVAL
    min_interval: float = VAULT_STATUS_INTERVAL
    margin: float = 0.1
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.min_interval <= 0:
            raise ValueError("min_interval must be positive")
        if self.interval < self.min_interval:
            raise ValueError(
                f"poll interval {self.interval} s is below the minimum of {self.min_interval} s"
                " (Vault answers job status once per 10 s per job)"
            )
        if self.jitter < 0 or self.margin < 0:
            raise ValueError("jitter and margin must not be negative")


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class BurstThrottle:
    """Slow down before Vault's burst limit runs out.

    With ``r = burst_remaining / burst_limit`` from the last response, each request first sleeps::

        delay = max_delay * (1 - r / floor)   if r < floor, else 0

    so the pause grows linearly from 0 at the floor to ``max_delay`` when nothing is left. No headers,
    no pause. ``floor=0`` disables the throttle.
    """

    floor: float = 0.1
    max_delay: float = 5.0

    def __post_init__(self) -> None:
        if not 0 <= self.floor <= 1:
            raise ValueError("floor is a fraction of the burst limit, between 0 and 1")
        if self.max_delay < 0:
            raise ValueError("max_delay must not be negative")

    def delay(self, info: RateLimitInfo | None) -> float:
        if info is None or self.floor == 0:
            return 0.0
        if info.burst_limit is None or info.burst_remaining is None or info.burst_limit <= 0:
            return 0.0
        ratio = max(0.0, info.burst_remaining / info.burst_limit)
        if ratio >= self.floor:
            return 0.0
        return self.max_delay * (1 - ratio / self.floor)
