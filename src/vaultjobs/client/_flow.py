"""Algorithms with I/O written once: flows that say what to do, and drivers that do it.

A flow is a generator (the shape of httpx's ``Auth.auth_flow``). It yields one step at a time and
receives the step's result:

* `Send` a request: receives the `httpx.Response` (errors, such as `TransportError`, are thrown in);
* `Sleep` so many seconds: receives None;
* run a flow `Exclusive`-ly, holding the client's lock (logging in once for many callers): receives
  what that flow returns. The inner flow must not ask for the lock again.

A flow ends by returning its result. `SyncDriver` runs flows with an ``httpx.Client``, a sleep function
and a thread lock; `AsyncDriver` the same ones with an ``httpx.AsyncClient``, an awaitable sleep and an
asyncio lock. Nothing else differs between `VaultClient` and `AsyncVaultClient`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Awaitable, Callable, Generator
from typing import Any, Generic, TypeAlias, TypeVar

import httpx

from ._errors import TransportError
from ._models import JobStarted

__all__ = ["AsyncDriver", "Exclusive", "Flow", "Send", "Sleep", "Step", "SyncDriver", "exclusive", "send", "sleep"]

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class Send:
    """Send this request as it is; the flow receives the response."""

    request: httpx.Request


@dataclasses.dataclass(frozen=True, slots=True)
class Sleep:
    """Sleep this many seconds (more than 0)."""

    seconds: float


@dataclasses.dataclass(frozen=True, slots=True)
class Exclusive:
    """Run this flow while holding the client's lock; the flow receives its result."""

    flow: Flow[Any]


Step: TypeAlias = Send | Sleep | Exclusive
#: A flow returning ``T``; what it is sent back depends on the step it yielded (see the module docstring).
Flow: TypeAlias = Generator[Step, Any, T]


def send(request: httpx.Request) -> Flow[httpx.Response]:
    """``response = yield from send(request)``."""
    response = yield Send(request)
    assert isinstance(response, httpx.Response)
    return response


def sleep(seconds: float) -> Flow[None]:
    """``yield from sleep(seconds)``; nothing for zero or less."""
    if seconds > 0:
        yield Sleep(seconds)


def exclusive(flow: Flow[T]) -> Flow[T]:
    """``result = yield from exclusive(flow)``: ``flow`` run under the client's lock."""
    result: T = yield Exclusive(flow)
    return result


def _transport_error(exc: httpx.TransportError, request: httpx.Request) -> TransportError:
    return TransportError(f"{type(exc).__name__}: {exc}", request=request)


@dataclasses.dataclass(frozen=True, slots=True)
class _Done(Generic[T]):
    value: T


def _resume(flow: Flow[T], result: Any, error: Exception | None) -> Step | _Done[T]:
    """Hand the flow the last step's result (or throw its error in); return its next step or its end."""
    try:
        return flow.throw(error) if error is not None else flow.send(result)
    except StopIteration as stop:
        return _Done(stop.value)


def _bound(value: T, waiter: Callable[..., Any] | None) -> T:
    """``value``, a ``JobStarted`` given the client's ``wait``."""
    if waiter is not None and isinstance(value, JobStarted) and value.waiter is None:
        return dataclasses.replace(value, waiter=waiter)
    return value


class SyncDriver:
    """Runs flows with blocking I/O."""

    def __init__(self, http: httpx.Client, sleep: Callable[[float], None]) -> None:
        self.http = http
        self._sleep = sleep
        self._lock = threading.Lock()
        #: The client's ``wait``, given to every ``JobStarted`` this driver answers.
        self.waiter: Callable[..., Any] | None = None

    def run(self, flow: Flow[T]) -> T:
        result: Any = None
        error: Exception | None = None
        with contextlib.closing(flow):
            while not isinstance(step := _resume(flow, result, error), _Done):
                try:
                    result, error = self._perform(step), None
                except Exception as exc:  # thrown into the flow, which raises it unless it handles it
                    result, error = None, exc
            return _bound(step.value, self.waiter)

    def _perform(self, step: Step) -> Any:
        if isinstance(step, Send):
            self.http.cookies.set_cookie_header(step.request)  # as httpx's own build_request does
            try:
                return self.http.send(step.request)
            except httpx.TransportError as exc:
                raise _transport_error(exc, step.request) from exc
        if isinstance(step, Sleep):
            self._sleep(step.seconds)
            return None
        with self._lock:
            return self.run(step.flow)


class AsyncDriver:
    """Runs flows with asyncio I/O."""

    def __init__(self, http: httpx.AsyncClient, sleep: Callable[[float], Awaitable[None]]) -> None:
        self.http = http
        self._sleep = sleep
        self._lock = asyncio.Lock()
        #: The client's ``wait``, given to every ``JobStarted`` this driver answers.
        self.waiter: Callable[..., Any] | None = None

    async def run(self, flow: Flow[T]) -> T:
        result: Any = None
        error: Exception | None = None
        with contextlib.closing(flow):
            while not isinstance(step := _resume(flow, result, error), _Done):
                try:
                    result, error = await self._perform(step), None
                except Exception as exc:  # thrown into the flow, which raises it unless it handles it
                    result, error = None, exc
            return _bound(step.value, self.waiter)

    async def _perform(self, step: Step) -> Any:
        if isinstance(step, Send):
            self.http.cookies.set_cookie_header(step.request)  # as httpx's own build_request does
            try:
                return await self.http.send(step.request)
            except httpx.TransportError as exc:
                raise _transport_error(exc, step.request) from exc
        if isinstance(step, Sleep):
            await self._sleep(step.seconds)
            return None
        async with self._lock:
            return await self.run(step.flow)
