"""Limits in force: the settings' values, or what a test set through ``/_vaultjobs/limits``.

The code that enforces a limit asks :meth:`Limits.current` each time. With the control plane off
that is the settings' values, no store read; with it on, the overrides are read from the store, so
a limit set through one replica holds on every replica at its next request.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vaultjobs.control.responses import ControlError, control_endpoint, control_json, read_json
from vaultjobs.settings import Settings
from vaultjobs.store.control_limits import ControlLimits

if TYPE_CHECKING:
    from vaultjobs.api.services import Services

#: Vault's largest Cancel Job request.
VAULT_CANCEL_BATCH = 500


@dataclass(frozen=True, slots=True)
class LimitValues:
    status_window: float
    session_idle_timeout: float
    session_max_age: float
    auth_attempts_per_minute: int
    cancel_batch_size: int
    #: Replaces every job's own timeout (its processor's or definition's) when set.
    job_timeout: float | None
    burst_limit: int
    #: Replaces every job's own inactivity timeout when set.
    inactivity_timeout: float | None = None


class InvalidLimit(ValueError):
    """A limit that does not exist, or a value it cannot take."""


def _seconds(minimum: float, *, optional: bool = False, above: bool = False) -> Any:
    def check(name: str, value: Any) -> float | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                or value < minimum or (above and value == minimum):
            relation = "above" if above else "at least"
            raise InvalidLimit(f"{name} must be a number of seconds {relation} {minimum:g}"
                               f"{' or null' if optional else ''}, not {value!r}")
        return float(value)
    return check


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidLimit(f"{name} must be a whole number of at least 1, not {value!r}")
    return value


_CHECKS = {
    "status_window": _seconds(0.0),
    "session_idle_timeout": _seconds(0.0, above=True),
    "session_max_age": _seconds(0.0, above=True),
    "auth_attempts_per_minute": _count,
    "cancel_batch_size": _count,
    "job_timeout": _seconds(0.0, optional=True, above=True),
    "burst_limit": _count,
    "inactivity_timeout": _seconds(0.0, optional=True, above=True),
}


def check_limits(changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` with each value as its limit takes it; :class:`InvalidLimit` for the first bad one."""
    unknown = sorted(set(changes) - set(_CHECKS))
    if unknown:
        raise InvalidLimit(f"unknown limit [{unknown[0]}]; the limits are {', '.join(_CHECKS)}")
    return {name: _CHECKS[name](name, value) for name, value in changes.items()}


class Limits:
    """The limits this node enforces; ``overrides`` is the store's table when the control plane is on."""

    def __init__(self, settings: Settings, overrides: ControlLimits | None = None) -> None:
        self.overrides = overrides
        self.defaults = LimitValues(
            status_window=settings.status_window,
            session_idle_timeout=settings.session_idle_timeout,
            session_max_age=settings.session_max_age,
            auth_attempts_per_minute=settings.auth_attempts_per_minute,
            cancel_batch_size=VAULT_CANCEL_BATCH,
            job_timeout=None,
            burst_limit=settings.burst_limit,
        )

    def current(self) -> LimitValues:
        if self.overrides is None:
            return self.defaults
        changed = self.overrides.overrides()
        if not changed:
            return self.defaults
        known = {name: value for name, value in changed.items() if name in _CHECKS}
        return dataclasses.replace(self.defaults, **known)

    def set(self, changes: dict[str, Any]) -> LimitValues:
        if self.overrides is None:
            raise InvalidLimit("limits can be changed only with the control plane on")
        self.overrides.set(check_limits(changes))
        return self.current()

    def clear(self) -> None:
        if self.overrides is not None:
            self.overrides.clear()


def routes(services: Services) -> Sequence[BaseRoute]:
    """``GET/PUT/DELETE /limits``."""
    limits = services.limits
    plane = services.control
    assert plane is not None

    def answer() -> Response:
        return control_json({"limits": dataclasses.asdict(limits.current()),
                             "defaults": dataclasses.asdict(limits.defaults)})

    @control_endpoint
    async def handle(request: Request) -> Response:
        if request.method == "PUT":
            changes = await read_json(request)
            try:
                limits.set(changes)
            except InvalidLimit as exc:
                raise ControlError(400, "INVALID_LIMIT", str(exc)) from exc
            plane.publish("limits.changed", {"limits": changes})
        elif request.method == "DELETE":
            limits.clear()
            plane.publish("limits.changed", {"limits": "defaults"})
        return answer()

    return [Route("/limits", handle, methods=["GET", "PUT", "DELETE"])]
