"""A small typed client of the control plane (``/_vaultjobs/``), for tests of Vault integrations.

It needs nothing but httpx: a test suite imports it without the server's dependencies. One
:class:`ControlClient` per server; its parts mirror the control plane's: :attr:`~ControlClient.clock`,
:attr:`~ControlClient.limits`, :attr:`~ControlClient.transitions`, :attr:`~ControlClient.jobs`,
:attr:`~ControlClient.faults`, :attr:`~ControlClient.requests`, plus :meth:`~ControlClient.reset`,
:meth:`~ControlClient.seed`, :meth:`~ControlClient.events` and :meth:`~ControlClient.wait_for`,
which listens to the event stream instead of polling.

Bodies are the control plane's plain JSON (see docs/testing.md); times are aware datetimes going in
and ISO 8601 strings coming out, as the server writes them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
import orjson

__all__ = [
    "ClockState",
    "ControlClient",
    "ControlPlaneError",
    "Event",
    "JobEndedOtherwise",
]

TOKEN_HEADER = "X-Vaultjobs-Control-Token"


class ControlPlaneError(Exception):
    """The control plane refused a call: ``status``, ``type`` (``INVALID_FAULT`` …) and ``message``."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(f"{status} {error_type}: {message}")
        self.status = status
        self.type = error_type
        self.message = message


class JobEndedOtherwise(Exception):
    """:meth:`ControlClient.wait_for` saw the job end in another status than the one waited for."""

    def __init__(self, job_id: int, status: str) -> None:
        super().__init__(f"job {job_id} ended {status}")
        self.job_id = job_id
        self.status = status


def _iso(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("a naive datetime is ambiguous; give it a time zone")
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class ClockState:
    """The server's clock; after an ``advance``, also what fell due and fired on the way."""

    now: datetime
    frozen: bool
    offset_seconds: float
    fired: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> ClockState:
        return cls(parse_time(body["now"]), bool(body["frozen"]), float(body.get("offset_seconds", 0.0)),
                   list(body.get("fired", [])))


@dataclass(frozen=True)
class Event:
    """One event of ``GET /_vaultjobs/events``; ``id`` is None for an observed job transition."""

    id: int | None
    kind: str
    data: dict[str, Any]

    @property
    def job_id(self) -> int | None:
        job_id = self.data.get("job_id")
        return None if job_id is None else int(job_id)


class _Part:
    def __init__(self, control: ControlClient) -> None:
        self._control = control

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        return self._control.call(method, path, body, **params)


class Clock(_Part):
    """``/clock``: read, freeze, advance and resume the server's virtual clock."""

    def get(self) -> ClockState:
        return ClockState.of(self._call("GET", "/clock"))

    def now(self) -> datetime:
        return self.get().now

    def freeze(self, at: datetime | str | None = None) -> ClockState:
        return ClockState.of(self._call("POST", "/clock/freeze", {"at": _iso(at)} if at is not None else {}))

    def advance(self, seconds: float | None = None, *, to: datetime | str | None = None) -> ClockState:
        """Move the clock forward by ``seconds`` or ``to`` an instant; what fell due fires first."""
        if (seconds is None) == (to is None):
            raise ValueError("advance takes seconds or to, not both or neither")
        body = {"seconds": seconds} if seconds is not None else {"to": _iso(to)}  # type: ignore[arg-type]
        return ClockState.of(self._call("POST", "/clock/advance", body))

    def resume(self) -> ClockState:
        return ClockState.of(self._call("POST", "/clock/resume"))


class Limits(_Part):
    """``/limits``: the server's time and rate limits, changed for a test."""

    def get(self) -> dict[str, Any]:
        return dict(self._call("GET", "/limits")["limits"])

    def defaults(self) -> dict[str, Any]:
        return dict(self._call("GET", "/limits")["defaults"])

    def set(self, **limits: Any) -> dict[str, Any]:
        """Change some limits (``status_window=2``, ``session_idle_timeout=60`` …); the others stay."""
        return dict(self._call("PUT", "/limits", limits)["limits"])

    def restore(self) -> dict[str, Any]:
        return dict(self._call("DELETE", "/limits")["limits"])


class Transitions(_Part):
    """``/transitions``: scripts that new jobs of a processor follow instead of running."""

    def script(self, processor: str, steps: list[dict[str, Any]],
               advance_on: Literal["poll", "clock"] = "poll") -> dict[str, Any]:
        return dict(self._call("PUT", f"/transitions/{processor}", {"steps": steps, "advance_on": advance_on}))

    def list(self) -> Any:
        return self._call("GET", "/transitions")

    def remove(self, processor: str | None = None) -> None:
        self._call("DELETE", "/transitions" if processor is None else f"/transitions/{processor}")


class Jobs(_Part):
    """``/jobs``: read a job without touching any status window, or force its status."""

    def get(self, job_id: int) -> dict[str, Any]:
        """``{"job": {…}, "timeline": [...], "tasks": [...]}``."""
        return dict(self._call("GET", f"/jobs/{job_id}"))

    def status(self, job_id: int) -> str:
        return str(self.get(job_id)["job"]["status"])

    def transition(self, job_id: int, status: str, *, force: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"status": status}
        if force:
            body["force"] = True
        return dict(self._call("POST", f"/jobs/{job_id}/transition", body))


class Faults(_Part):
    """``/faults``: rules that make chosen Vault calls fail (see docs/testing.md for their shape)."""

    def add(
        self,
        *,
        answer: Mapping[str, Any],
        route: str | None = None,
        operation: str | None = None,
        method: str | None = None,
        job_id: int | None = None,
        user: str | None = None,
        when: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add a rule; it answers with its ``id`` and ``hits``. ``when`` is ``{"nth": n}``, ``{"next": n}``,
        ``{"every": n}`` or ``{"probability": p, "seed": s}`` (every call when left out)."""
        match = {k: v for k, v in (("route", route), ("operation", operation), ("method", method),
                                   ("job_id", job_id), ("user", user)) if v is not None}
        body: dict[str, Any] = {"match": match, "answer": dict(answer)}
        if when is not None:
            body["when"] = dict(when)
        return dict(self._call("POST", "/faults", body))

    def list(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/faults")["faults"])

    def hits(self, rule_id: int) -> int:
        return int(next(rule["hits"] for rule in self.list() if rule["id"] == rule_id))

    def remove(self, rule_id: int) -> None:
        self._call("DELETE", f"/faults/{rule_id}")

    def clear(self) -> None:
        self._call("DELETE", "/faults")


class Requests(_Part):
    """``/requests``: the journal of the Vault API calls the server answered."""

    def list(self, *, route: str | None = None, operation: str | None = None, method: str | None = None,
             status: int | None = None, error_type: str | None = None,
             since: datetime | str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("route", route), ("operation", operation), ("method", method),
                                    ("status", status), ("error_type", error_type),
                                    ("since", None if since is None else _iso(since))) if v is not None}
        return list(self._call("GET", "/requests", **params)["requests"])

    def clear(self) -> None:
        self._call("DELETE", "/requests")


class ControlClient:
    """The control plane of the vaultjobs at ``base_url`` (its root, without ``/_vaultjobs``)."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {TOKEN_HEADER: token} if token else {}
        self._http = httpx.Client(base_url=self.base_url + "/_vaultjobs", headers=headers, timeout=timeout,
                                  transport=transport)
        self.clock = Clock(self)
        self.limits = Limits(self)
        self.transitions = Transitions(self)
        self.jobs = Jobs(self)
        self.faults = Faults(self)
        self.requests = Requests(self)

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """One control-plane call; its JSON answer, or :class:`ControlPlaneError`."""
        response = self._http.request(method, path, json=body, params=params or None)
        return self._answer(response)

    @staticmethod
    def _answer(response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "responseStatus" in body:
            # A Vault envelope: the server answered as for an unknown path.
            raise ControlPlaneError(response.status_code, "CONTROL_PLANE_OFF",
                                    f"{response.request.url.path} is not there: the server runs without "
                                    "--control-plane (or is a vaultjobs without this call). It answered "
                                    + response.text[:300])
        if response.is_success:
            return body
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            raise ControlPlaneError(response.status_code, str(error.get("type")), str(error.get("message")))
        raise ControlPlaneError(response.status_code, "UNEXPECTED_ANSWER", response.text[:500])

    def describe(self) -> dict[str, Any]:
        """``GET /control``: whether the control plane is on and whether it wants a token."""
        return dict(self.call("GET", "/control"))

    def reset(self, seed: Literal["empty", "default"] | Mapping[str, Any] = "default") -> dict[str, Any]:
        """Empty the server (jobs, sessions, content, objects, faults, journal), reset its clock and
        apply ``seed``."""
        return dict(self.call("POST", "/reset", {"seed": seed if isinstance(seed, str) else dict(seed)}))

    def seed(self, document: Mapping[str, Any] | Path | str) -> dict[str, Any]:
        """Add what a seed document lists: a mapping, or a JSON or YAML file."""
        if isinstance(document, Mapping):
            return dict(self.call("POST", "/seed", dict(document)))
        path = Path(document)
        text = path.read_bytes()
        media = "application/yaml" if path.suffix.lower() in (".yaml", ".yml") else "application/json"
        return dict(self._answer(self._http.post("/seed", content=text, headers={"Content-Type": media})))

    def export_seed(self) -> dict[str, Any]:
        return dict(self.call("GET", "/seed"))

    @contextlib.contextmanager
    def events(self, *, after: int | None = None, heartbeat: float | None = None,
               read_timeout: float | None = None) -> Iterator[EventStream]:
        """The event stream, from now (or after event ``after``); iterate it for :class:`Event`s."""
        params: dict[str, Any] = {}
        if heartbeat is not None:
            params["heartbeat"] = heartbeat
        headers = {"Last-Event-ID": str(after)} if after is not None else {}
        timeout = httpx.Timeout(self._http.timeout.connect, read=read_timeout)
        with self._http.stream("GET", "/events", params=params, headers=headers, timeout=timeout) as response:
            if not response.is_success:
                response.read()
                self._answer(response)
            yield EventStream(response)

    def wait_for(self, job_id: int, status: str, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until job ``job_id`` is in ``status`` (listening to the event stream); the job's view
        (``jobs.get``). Raises :class:`JobEndedOtherwise` when it ends in another status, and
        ``TimeoutError`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self.events(heartbeat=min(1.0, max(0.05, timeout / 4)), read_timeout=timeout) as stream:
            events = stream.until(deadline)
            next(events, None)  # the greeting: from here the stream follows the jobs
            view = self.jobs.get(job_id)
            current = str(view["job"]["status"])
            if current == status:
                return view
            for event in events:
                if current in _TERMINAL:
                    raise JobEndedOtherwise(job_id, current)
                if event is not None and event.kind == "job.transition" and event.job_id == job_id:
                    current = str(event.data["to"])
                    if current == status:
                        return self.jobs.get(job_id)
            if current in _TERMINAL:
                raise JobEndedOtherwise(job_id, current)
        raise TimeoutError(f"job {job_id} did not reach {status} within {timeout} s; it is {current}")


_TERMINAL = frozenset({"SUCCESS", "ERRORS_ENCOUNTERED", "CANCELLED", "FAILED_TO_RUN", "TIMEOUT",
                       "COMPLETED_DUE_TO_INACTIVITY", "MISSED_SCHEDULE"})


class EventStream:
    """The events of one ``GET /events`` answer, as they arrive."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.iter_lines()
        #: The id of the last event read: where a new stream resumes (``events(after=…)``).
        self.last_id: int | None = None

    def __iter__(self) -> Iterator[Event]:
        for event in self._read():
            if event is not None:
                yield event

    def until(self, deadline: float) -> Iterator[Event | None]:
        """The events until ``deadline`` (a ``time.monotonic()`` reading), with a None for each comment
        (the greeting first, then each heartbeat), so that the reader can look at the clock."""
        for event in self._read():
            if time.monotonic() >= deadline:
                return
            yield event

    def _read(self) -> Iterator[Event | None]:
        event_id: int | None = None
        kind = "message"
        data: list[str] = []
        for line in self._lines:
            if line == "":
                if data:
                    event = Event(event_id, kind, orjson.loads("\n".join(data)))
                    if event_id is not None:
                        self.last_id = event_id
                    yield event
                event_id, kind, data = None, "message", []
            elif line.startswith(":"):
                yield None  # a comment: the connection's greeting, or a heartbeat
            else:
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "id" and value.isdigit():
                    event_id = int(value)
                elif name == "event":
                    kind = value
                elif name == "data":
                    data.append(value)
