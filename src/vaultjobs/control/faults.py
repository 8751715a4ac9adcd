"""Faults on purpose: rules that make chosen Vault calls fail the way Vault (or the network) can.

``POST /_vaultjobs/faults`` stores a rule: what it **matches** (a route template or an operation
name from :mod:`vaultjobs.control.operations`, optionally a method, a job id in the path, the
session's user), **when** it fires (the Nth matching call, the next N, every Nth, or with a seeded
probability: the same calls fire on every run) and what it **answers** (a Vault error in Vault's own
envelope, an HTTP status with ``Retry-After``, added latency before the real answer, or a dropped
connection). Rules live in the store, and each matching call takes its number there atomically, so
a rule set through one replica fires on every replica and its counts are the cluster's.

Rules are tried oldest first. A latency rule delays the call and lets the next rules see it; the
first other rule that fires answers the call, and the rules after it never see it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from vaultjobs import errors
from vaultjobs.api.endpoint import Call
from vaultjobs.api.failures import failure_response
from vaultjobs.api.services import Services
from vaultjobs.control.operations import OPERATION_NAMES, ResolvedRoute, template_of
from vaultjobs.control.responses import ControlError, control_endpoint, control_json, read_json
from vaultjobs.store import Store
from vaultjobs.store.control_faults import StoredFault

T = TypeVar("T")

#: The most latency a rule may add, in seconds: a test waits for it in real time.
MAX_LATENCY = 300.0
#: ``Retry-After`` of an API_LIMIT_EXCEEDED answer whose rule names none: Vault's status window.
DEFAULT_RETRY_AFTER = 10


def invalid(message: str) -> ControlError:
    return ControlError(400, "INVALID_FAULT", message)


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid(f"{what} must be a whole number of at least 1, not {value!r}")
    return value


def _seconds(value: Any, what: str, *, most: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= most:
        raise invalid(f"{what} must be a number of seconds from 0 to {most:g}, not {value!r}")
    return float(value)


def _only(section: Mapping[str, Any], what: str, allowed: set[str]) -> None:
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise invalid(f"unknown key(s) in {what}: {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _section(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    section = body.get(name, {})
    if not isinstance(section, dict):
        raise invalid(f"{name} must be an object")
    return section


@dataclass(frozen=True)
class Match:
    """Which calls a rule sees; every field left out matches anything."""

    route: str | None = None
    operation: str | None = None
    method: str | None = None
    job_id: int | None = None
    user: str | None = None

    @classmethod
    def parse(cls, section: Mapping[str, Any]) -> Match:
        _only(section, "match", {"route", "operation", "method", "job_id", "user"})
        route, operation, method, user = (section.get(k) for k in ("route", "operation", "method", "user"))
        for name, value in (("route", route), ("operation", operation), ("method", method), ("user", user)):
            if value is not None and (not isinstance(value, str) or not value):
                raise invalid(f"match.{name} must be a non-empty string")
        if route is None and operation is None:
            raise invalid("match needs a route (a template such as /api/{version}/services/jobs/{job_id}) "
                          "or an operation (such as retrieve_job_status)")
        if operation is not None and operation not in OPERATION_NAMES:
            raise invalid(f"unknown operation [{operation}]; known: {', '.join(sorted(OPERATION_NAMES))}")
        job_id = section.get("job_id")
        if job_id is not None:
            job_id = _positive_int(job_id, "match.job_id")
        return cls(route=None if route is None else template_of(route), operation=operation,
                   method=None if method is None else method.upper(), job_id=job_id, user=user)

    def accepts(self, call: CallFacts) -> bool:
        return (
            (self.route is None or self.route == call.route.template)
            and (self.operation is None or self.operation == call.route.operation)
            and (self.method is None or self.method == call.method)
            and (self.job_id is None or str(self.job_id) == str(call.route.path_params.get("job_id")))
            and (self.user is None or self.user == call.user)
        )


@dataclass(frozen=True)
class When:
    """Which of the matching calls (numbered from 1, across the cluster) the rule answers."""

    nth: int | None = None
    next: int | None = None
    every: int | None = None
    probability: float | None = None
    seed: int = 0

    @classmethod
    def parse(cls, section: Mapping[str, Any]) -> When:
        _only(section, "when", {"nth", "next", "every", "probability", "seed"})
        triggers = [k for k in ("nth", "next", "every", "probability") if k in section]
        if len(triggers) > 1:
            raise invalid(f"when takes one of nth, next, every or probability, not {' and '.join(triggers)}")
        if "seed" in section and triggers != ["probability"]:
            raise invalid("when.seed goes with when.probability")
        if not triggers:
            return cls(every=1)
        trigger = triggers[0]
        if trigger == "probability":
            p = section["probability"]
            if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
                raise invalid(f"when.probability must be a number from 0 to 1, not {p!r}")
            seed = section.get("seed", 0)
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise invalid(f"when.seed must be an integer, not {seed!r}")
            return cls(probability=float(p), seed=seed)
        return cls(**{trigger: _positive_int(section[trigger], f"when.{trigger}")})

    def fires(self, call_number: int) -> bool:
        if self.nth is not None:
            return call_number == self.nth
        if self.next is not None:
            return call_number <= self.next
        if self.every is not None:
            return call_number % self.every == 0
        assert self.probability is not None
        # One draw per call number: reproducible whichever replica the call reaches.
        return random.Random(f"{self.seed}:{call_number}").random() < self.probability


@dataclass(frozen=True)
class Answer:
    """What a firing rule does: exactly one of a Vault error, an HTTP status, latency or a drop."""

    vault_error: str | None = None
    message: str | None = None
    status: int | None = None
    retry_after: int | None = None
    latency: float | None = None
    drop: bool = False

    @classmethod
    def parse(cls, section: Mapping[str, Any]) -> Answer:
        _only(section, "answer", {"vault_error", "message", "status", "retry_after", "latency", "drop"})
        kinds = [k for k in ("vault_error", "status", "latency", "drop") if k in section]
        if len(kinds) != 1:
            raise invalid("answer takes exactly one of vault_error, status, latency or drop")
        kind = kinds[0]
        retry_after = section.get("retry_after")
        if retry_after is not None:
            if kind not in ("vault_error", "status"):
                raise invalid("answer.retry_after goes with answer.status or answer.vault_error")
            retry_after = int(_seconds(retry_after, "answer.retry_after", most=86_400))
        if "message" in section and kind != "vault_error":
            raise invalid("answer.message goes with answer.vault_error")
        if kind == "vault_error":
            error_type, message = section["vault_error"], section.get("message")
            if not isinstance(error_type, str) or not error_type.isidentifier() or not error_type.isupper():
                raise invalid(f"answer.vault_error must be a Vault error type such as API_LIMIT_EXCEEDED, "
                              f"not {error_type!r}")
            if message is not None and not isinstance(message, str):
                raise invalid("answer.message must be a string")
            return cls(vault_error=error_type, message=message, retry_after=retry_after)
        if kind == "status":
            status = section["status"]
            if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
                raise invalid(f"answer.status must be an HTTP error status from 400 to 599, not {status!r}")
            return cls(status=status, retry_after=retry_after)
        if kind == "latency":
            return cls(latency=_seconds(section["latency"], "answer.latency", most=MAX_LATENCY))
        if section["drop"] is not True:
            raise invalid("answer.drop must be true")
        return cls(drop=True)

    @property
    def kind(self) -> str:
        if self.vault_error is not None:
            return "vault_error"
        if self.status is not None:
            return "status"
        return "latency" if self.latency is not None else "drop"


@dataclass(frozen=True)
class FaultRule:
    match: Match
    when: When
    answer: Answer

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> FaultRule:
        _only(body, "the rule", {"match", "when", "answer"})
        if "answer" not in body:
            raise invalid("a rule needs an answer")
        return cls(Match.parse(_section(body, "match")), When.parse(_section(body, "when")),
                   Answer.parse(_section(body, "answer")))

    def to_json(self) -> dict[str, Any]:
        def present(value: Any) -> dict[str, Any]:
            return {k: v for k, v in value.__dict__.items() if v is not None and v is not False}

        when = present(self.when)
        if self.when.probability is None:
            when.pop("seed", None)
        return {"match": present(self.match), "when": when, "answer": present(self.answer)}


@dataclass(frozen=True)
class CallFacts:
    """What a rule can match a call on."""

    method: str
    route: ResolvedRoute
    user: str | None


def vault_error_class(error_type: str) -> type[errors.VaultError]:
    """The class answering ``error_type``: vaultjobs' own where it has one (the most general), or a
    new one for any other type a test wants to see."""
    pending: list[type[errors.VaultError]] = [errors.VaultError]
    while pending:
        cls = pending.pop(0)
        if cls.type == error_type:
            return cls
        pending.extend(cls.__subclasses__())
    return type(error_type.title().replace("_", ""), (errors.VaultError,), {"type": error_type, "__doc__": None})


def vault_error(answer: Answer) -> errors.VaultError:
    assert answer.vault_error is not None
    cls = vault_error_class(answer.vault_error)
    if issubclass(cls, errors.ApiLimitExceeded):
        retry_after = DEFAULT_RETRY_AFTER if answer.retry_after is None else answer.retry_after
        return cls(answer.message, retry_after=retry_after)
    return cls(answer.message or f"{answer.vault_error} (a fault rule's answer)")


async def drop_connection(receive: Receive, send: Send) -> None:
    """End the call with the connection closed and no response at all.

    Under uvicorn the transport is closed directly (the client sees the server disconnect without
    a response); elsewhere, a response start promising a body that never comes, then the end of the
    call, which makes the server close the connection mid-response.
    """
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is not None and hasattr(transport, "close"):
        transport.close()
        # Wait for the server to notice, so that it neither answers nor complains.
        with anyio.move_on_after(5):
            while (await receive())["type"] != "http.disconnect":
                pass
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1")]})


async def store_call(store: Store, fn: Callable[..., T], *args: Any, writes: bool = False) -> T:
    """A store call made for a request: a read on the event loop where the store answers in
    microseconds (its ``inline``); writes, which may wait for the database's lock, in a worker thread."""
    if store.dialect.inline and not writes:
        return fn(*args)
    return await anyio.to_thread.run_sync(fn, *args)


class Faults:
    """The rules as the API's calls meet them (see :class:`~vaultjobs.control.intercept.ControlIntercept`)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.store = services.store
        self.rest_status_codes = services.settings.http_status_codes == "rest"

    async def decide(self, call: CallFacts) -> tuple[int, Answer] | None:
        """Apply the latency rules that fire for ``call``; the first other rule that fires and its answer
        (None when the API is to answer the call)."""
        stored: list[StoredFault] = await store_call(self.store, self.store.control_faults.list)
        for fault in stored:
            rule = FaultRule.parse(fault.rule)
            if not rule.match.accepts(call):
                continue
            fired = await store_call(self.store, self.store.control_faults.count_call, fault.id, rule.when.fires,
                                     writes=True)
            if not fired:
                continue
            await store_call(self.store, self._publish, fault.id, rule, call, writes=True)
            if rule.answer.latency is not None:
                await anyio.sleep(rule.answer.latency)
                continue
            return fault.id, rule.answer
        return None

    async def answer(self, answer: Answer, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the call as ``answer`` says, instead of the API."""
        if answer.drop:
            await drop_connection(receive, send)
            return
        response: Response
        if answer.vault_error is not None:
            call = Call(request=Request(scope, receive))
            response = failure_response(call.request, vault_error(answer), rest_status_codes=self.rest_status_codes,
                                        headers=call.headers())
        else:
            assert answer.status is not None
            response = Response(f"{answer.status} {HTTPStatus(answer.status).phrase}\n", status_code=answer.status,
                                media_type="text/plain")
            if answer.retry_after is not None:
                response.headers["Retry-After"] = str(answer.retry_after)
        await response(scope, receive, send)

    def _publish(self, fault_id: int, rule: FaultRule, call: CallFacts) -> None:
        job_id = call.route.path_params.get("job_id")
        self.store.control_events.publish(
            "fault.fired", self.services.clock.now(),
            {"rule_id": fault_id, "route": call.route.template, "operation": call.route.operation,
             "method": call.method, "answer": rule.answer.kind},
            job_id=int(job_id) if isinstance(job_id, int | str) and str(job_id).isdigit() else None,
        )


def rule_view(fault: StoredFault) -> dict[str, Any]:
    return {"id": fault.id, **fault.rule, "hits": fault.hits, "calls": fault.calls}


def routes(services: Services) -> list[BaseRoute]:
    """``/faults``: add, list and remove the rules."""
    faults = services.store.control_faults

    @control_endpoint
    async def add(request: Request) -> Response:
        rule = FaultRule.parse(await read_json(request))
        stored = await anyio.to_thread.run_sync(faults.add, rule.to_json())
        return control_json(rule_view(stored), 201)

    @control_endpoint
    async def list_rules(request: Request) -> Response:
        stored = await anyio.to_thread.run_sync(faults.list)
        return control_json({"faults": [rule_view(fault) for fault in stored]})

    @control_endpoint
    async def clear(request: Request) -> Response:
        await anyio.to_thread.run_sync(faults.clear)
        return control_json({"deleted": True})

    @control_endpoint
    async def delete(request: Request) -> Response:
        raw = request.path_params["fault_id"]
        if not raw.isdigit() or not await anyio.to_thread.run_sync(faults.delete, int(raw)):
            raise ControlError(404, "FAULT_NOT_FOUND", f"no fault rule with id [{raw}]")
        return control_json({"deleted": True})

    return [
        Route("/faults", add, methods=["POST"]),
        Route("/faults", list_rules, methods=["GET"]),
        Route("/faults", clear, methods=["DELETE"]),
        Route("/faults/{fault_id}", delete, methods=["DELETE"]),
    ]
