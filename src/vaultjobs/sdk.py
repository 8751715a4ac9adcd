"""The processor API users implement: the Python form of Vault SDK job processors.

A processor turns a job's parameters into items (``init``), the service cuts the items into tasks of
``chunk_size`` that run in parallel on any worker (``process``), and once every task has ended the
processor sees the outcome (``complete``)::

    from vaultjobs.sdk import processor, JobContext, Task, JobResult

    @processor("copy_records", chunk_size=100, idempotent=True, timeout="2h")
    class CopyRecords:
        def init(self, ctx: JobContext) -> list[dict]:
            return [{"id": n} for n in range(ctx.parameters["count"])]

        def process(self, ctx: JobContext, task: Task) -> None:
            for item in task.items:
                ...
            # task.fail("why") marks the task ERRORS_ENCOUNTERED

        def complete(self, ctx: JobContext, result: JobResult) -> None:
            ctx.log(f"{result.tasks_succeeded} of {result.tasks_total} tasks succeeded")

Vault's limits hold: chunk size 1–500 items, at most 5,000 tasks a job, task payloads up to
128 KB, parameters up to 8 KB.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

from vaultjobs.timeutil import parse_duration

if TYPE_CHECKING:
    from vaultjobs.content.files import UserStaging
    from vaultjobs.content.repository import ContentRepository

MAX_CHUNK_SIZE = 500
MAX_TASKS = 5_000
MAX_TASK_PAYLOAD_BYTES = 128 * 1024
MAX_PARAMETERS_BYTES = 8 * 1024
DEFAULT_TIMEOUT = 4 * 3600.0
DEFAULT_INACTIVITY_TIMEOUT = 3600.0


class ProcessorError(Exception):
    """A processor is declared wrongly or broke one of the SDK's limits."""


class ParameterError(ValueError):
    """A job parameter is missing or has a bad value; the run request is refused with INVALID_DATA."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(f"Invalid value for parameter [{name}]: {message}")


@dataclass(frozen=True, kw_only=True)
class ProcessorSpec:
    """What ``@processor`` declares about a processor class."""

    name: str
    chunk_size: int = 1
    idempotent: bool = False
    #: Seconds a job may run before it ends TIMEOUT.
    timeout: float = DEFAULT_TIMEOUT
    #: Seconds without progress before a job ends COMPLETED_DUE_TO_INACTIVITY.
    inactivity_timeout: float = DEFAULT_INACTIVITY_TIMEOUT
    admin_cancellable: bool = True
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").isalnum() or not self.name.isascii():
            raise ProcessorError(f"processor name [{self.name}] must be letters, digits and underscores")
        check_chunk_size(self.chunk_size)
        if self.timeout <= 0 or self.inactivity_timeout <= 0:
            raise ProcessorError(f"processor [{self.name}]: timeouts must be positive")


def check_chunk_size(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CHUNK_SIZE:
        raise ProcessorError(f"chunk_size must be an integer from 1 to {MAX_CHUNK_SIZE}, got {value!r}")
    return value


@dataclass(frozen=True, kw_only=True)
class TaskFailure:
    task_id: str
    message: str


@dataclass(frozen=True, kw_only=True)
class JobResult:
    """What ``complete`` is told about the tasks (Vault's ``JobResult``)."""

    tasks_total: int
    tasks_succeeded: int
    tasks_failed: int
    failures: list[TaskFailure] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.tasks_failed == 0


class JobContext:
    """What a processor sees of its job: parameters, the log, cancellation and progress."""

    def __init__(
        self,
        *,
        job_id: int,
        parameters: Mapping[str, Any],
        chunk_size: int,
        log: Callable[[str], None],
        heartbeat: Callable[[], None],
        stop_requested: Callable[[], bool],
        created_by: int,
        content: ContentRepository | None = None,
        files: UserStaging | None = None,
    ) -> None:
        self.job_id = job_id
        self.parameters: Mapping[str, Any] = parameters
        self.created_by = created_by
        #: The content repository (documents, binders), when the node's store holds one.
        self.content = content
        #: The file staging folder of the user who started the job: where output files go.
        self.files = files
        self._chunk_size = chunk_size
        self._log = log
        self._heartbeat = heartbeat
        self._stop_requested = stop_requested

    @property
    def chunk_size(self) -> int:
        """Items per task; ``init`` may change it for this job (1–500)."""
        return self._chunk_size

    @chunk_size.setter
    def chunk_size(self, value: int) -> None:
        self._chunk_size = check_chunk_size(value)

    @property
    def cancelled(self) -> bool:
        """True once the job should stop (cancelled, timed out, or the worker is shutting down).

        Cooperative: a processor looks at it between items and returns early; what a stopped task
        did is not counted as success.
        """
        return self._stop_requested()

    def log(self, message: str) -> None:
        """Append a line to the job log (``GET …/services/jobs/{id}/log``)."""
        self._log(str(message))

    def heartbeat(self) -> None:
        """Tell the service the job is making progress although no task has finished."""
        self._heartbeat()


class Task:
    """One chunk of items handed to ``process``."""

    def __init__(self, *, task_id: str, items: list[dict[str, Any]], attempt: int) -> None:
        self.id = task_id
        self.items = items
        #: 1 the first time; more when an idempotent task runs again after its worker died (but 1
        #: again for the only task of a job run through in one go, which runs again from ``init``).
        self.attempt = attempt
        self.failure: str | None = None
        self.output: dict[str, Any] = {}

    def fail(self, message: str) -> None:
        """Mark the task ERRORS_ENCOUNTERED (the job then ends ERRORS_ENCOUNTERED)."""
        self.failure = str(message) or "task failed"

    def set_value(self, key: str, value: Any) -> None:
        """Record an output value of the task (kept with the task, JSON-serialisable)."""
        self.output[key] = value


@runtime_checkable
class Processor(Protocol):
    """The methods a processor class provides (``validate`` and ``complete`` are optional)."""

    def init(self, ctx: JobContext) -> list[dict[str, Any]]: ...

    def process(self, ctx: JobContext, task: Task) -> None: ...


C = TypeVar("C", bound=type)

SPEC_ATTRIBUTE = "__vaultjobs_processor__"


def processor(
    name: str,
    *,
    chunk_size: int = 1,
    idempotent: bool = False,
    timeout: str | float = DEFAULT_TIMEOUT,
    inactivity_timeout: str | float = DEFAULT_INACTIVITY_TIMEOUT,
    admin_cancellable: bool = True,
) -> Callable[[C], C]:
    """Declare a class as the processor called ``name``."""

    def decorate(cls: C) -> C:
        for method in ("init", "process"):
            if not callable(getattr(cls, method, None)):
                raise ProcessorError(f"processor [{name}] must define {method}()")
        doc = (cls.__doc__ or "").strip().splitlines()
        spec = ProcessorSpec(
            name=name,
            chunk_size=chunk_size,
            idempotent=idempotent,
            timeout=parse_duration(timeout),
            inactivity_timeout=parse_duration(inactivity_timeout),
            admin_cancellable=admin_cancellable,
            description=doc[0] if doc else "",
        )
        setattr(cls, SPEC_ATTRIBUTE, spec)
        return cls

    return decorate


def spec_of(cls: type) -> ProcessorSpec:
    """The spec ``@processor`` attached to ``cls``."""
    spec = getattr(cls, SPEC_ATTRIBUTE, None)
    if not isinstance(spec, ProcessorSpec):
        raise ProcessorError(f"{cls!r} is not decorated with @processor")
    return spec


class ParameterReader:
    """Small helpers for ``validate``: read one parameter with a type and bounds, or say why not."""

    missing: ClassVar[object] = object()

    def __init__(self, parameters: Mapping[str, Any]) -> None:
        self.parameters = parameters

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.parameters.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ParameterError(name, f"must be an integer from {low} to {high}")
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        value = self.parameters.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise ParameterError(name, f"must be a number from {low:g} to {high:g}")
        return float(value)

    def integer_list(self, name: str, low: int, high: int) -> list[int]:
        value = self.parameters.get(name, [])
        if not isinstance(value, list) or any(
            isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high for v in value
        ):
            raise ParameterError(name, f"must be a list of integers from {low} to {high}")
        return list(value)

    def only(self, *names: str) -> None:
        unknown = sorted(set(self.parameters) - set(names))
        if unknown:
            raise ParameterError(unknown[0], f"is not a parameter of this processor (known: {', '.join(names)})")
