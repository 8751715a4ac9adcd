"""Every knob of the service in one frozen value, read once from flags and the environment.

Each field has an environment variable ``VAULTJOBS_<FIELD>``; command-line flags win over it.
`Settings.from_env` is the only reader of those variables: the CLI passes its flags as overrides
and never reads them itself, so one rule parses each value (lists split on commas or whitespace).
Durations are seconds (tests shorten them to keep the suite fast). Each field's ``doc`` (its
metadata) is the text of ``--help`` and of ``docs/settings.md``.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ENV_PREFIX = "VAULTJOBS_"
LOG_LEVELS = ("debug", "info", "warning", "error")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

_T = TypeVar("_T")


def _setting(default: _T, doc: str) -> _T:
    """A field with its default and the one sentence that documents it."""
    return dataclasses.field(default=default, metadata={"doc": doc})


@dataclass(frozen=True, kw_only=True)
class Settings:
    data_dir: Path = _setting(Path("vaultjobs-data"), "Where vaultjobs keeps its database and files.")
    host: str = _setting("127.0.0.1", "Address to listen on.")
    port: int = _setting(8080, "Port, 0 for any free one.")
    workers: int = _setting(4, "Worker threads in this process (0: API only).")
    database_url: str = _setting(
        "", "sqlite:///path/file.db or postgresql://user@host/db; empty means <data dir>/vaultjobs.db."
    )
    database_pool_size: int = _setting(10, "Connections each node keeps to PostgreSQL at most.")
    content_blobs: str = _setting(
        "auto",
        "Where document files are kept: auto (in PostgreSQL when the store is, so every node of a cluster"
        " reads them; else <data dir>/files), or local (<data dir>/files; on PostgreSQL, single node only).",
    )
    admin_password: str | None = _setting(
        None, "Password of the admin user created on first start; random and saved in the data dir when unset."
    )
    status_window: float = _setting(10.0, "Job-status rate-limit window in seconds (Vault: 10).")
    session_idle_timeout: float = _setting(20 * 60.0, "Seconds without a request after which a session ends.")
    session_max_age: float = _setting(48 * 3600.0, "Seconds after which a session ends whatever its use.")
    auth_attempts_per_minute: int = _setting(20, "Auth calls per username per minute (Vault's auth burst limit).")
    lockout_attempts: int = _setting(10, "Consecutive failed logins that lock a user out.")
    lockout_seconds: float = _setting(15 * 60.0, "How long a locked-out user stays locked out.")
    heartbeat_interval: float = _setting(5.0, "How often a worker process writes its heartbeat.")
    heartbeat_timeout: float = _setting(30.0, "Silence after which a worker process counts as dead.")
    poll_interval: float = _setting(
        1.0, "How often idle workers and the scheduler look at the store when nobody woke them."
    )
    claim_batch: int = _setting(
        128, "Most units of work (jobs to start or complete, tasks) a worker thread claims at once."
    )
    batch_hold: float = _setting(
        0.2,
        "How long one unit of a batch may run before the units claimed with it and not started yet"
        " are handed back for other threads and workers to take.",
    )
    outcome_retry: float = _setting(
        30.0,
        "How long a worker thread retries writing an outcome (a task's end, a job's end) while the"
        " database is unreachable, before it goes on and a background writer keeps trying.",
    )
    schedule_grace: float = _setting(
        15 * 60.0, "How long a SCHEDULED instance may be late before it is MISSED_SCHEDULE."
    )
    shutdown_grace: float = _setting(
        10.0, "How long in-flight tasks may finish on shutdown before the process leaves them."
    )
    http_status_codes: str = _setting(
        "vault", "vault: every processed request answers HTTP 200, as Vault does; rest: failures as 4xx/429/500."
    )
    processors: tuple[str, ...] = _setting(
        (), "Modules whose @processor classes are loaded besides the entry-point group (comma or space separated)."
    )
    retention_days: float = _setting(30.0, "Purge finished jobs, their tasks and logs this many days after they ended.")
    mdl: tuple[str, ...] = _setting(
        (), "MDL scripts applied in order at start, after migrations; a CREATE of a component that exists is skipped."
    )
    definitions: Path | None = _setting(None, "TOML file of job definitions (schedules); reloaded on SIGHUP.")
    max_body_bytes: int = _setting(1024 * 1024, "Largest request body accepted, in bytes.")
    burst_limit: int = _setting(
        10_000_000,
        "Vault's burst limit: API requests the whole cluster answers per burst window before it delays"
        " answers (Vault's own example: 2000). The default never delays.",
    )
    burst_window: float = _setting(300.0, "The burst limit's fixed window, in seconds (Vault: five minutes).")
    burst_delay: float = _setting(0.5, "How long each answer is held back once the burst limit is reached.")
    log_level: str = _setting("info", "Logging level: debug, info, warning or error.")
    log_format: str = _setting("text", "Log line format: text, or json (one JSON object per line).")
    ui_read_only: bool = _setting(False, "The Job Status page (/ui/) shows jobs but offers no actions.")
    root_path: str = _setting(
        "", "URL prefix the service is reached under behind a reverse proxy that strips it, such as /jobs."
    )
    control_plane: bool = _setting(
        False, "Serve the test control plane under /_vaultjobs/ (reset, clock, faults, limits): never in production."
    )
    seed: Path | None = _setting(
        None, "Seed document (JSON or YAML) applied at start: users, definitions, records, documents; idempotent."
    )
    control_token: str | None = _setting(
        None, "Token that control-plane calls must send in X-Vaultjobs-Control-Token; required off loopback."
    )

    def __post_init__(self) -> None:
        if self.http_status_codes not in ("vault", "rest"):
            raise ValueError("http_status_codes must be 'vault' or 'rest'")
        if self.status_window < 0:
            raise ValueError("status_window cannot be negative")
        if self.workers < 0:
            raise ValueError("workers cannot be negative")
        if self.claim_batch < 1:
            raise ValueError("claim_batch must be at least 1")
        if self.batch_hold <= 0:
            raise ValueError("batch_hold must be positive")
        if self.outcome_retry < 0:
            raise ValueError("outcome_retry must not be negative")
        if self.burst_limit < 1 or self.burst_window <= 0 or self.burst_delay < 0:
            raise ValueError("burst_limit must be at least 1, burst_window positive and burst_delay not negative")
        if self.root_path and (not self.root_path.startswith("/") or self.root_path.endswith("/")):
            raise ValueError("root_path must start with / and not end with one, such as /jobs")
        if self.log_level.lower() not in LOG_LEVELS:
            raise ValueError(f"log_level must be one of {', '.join(LOG_LEVELS)}")
        if self.content_blobs not in ("auto", "local"):
            raise ValueError("content_blobs must be auto or local")
        if self.log_format not in ("text", "json"):
            raise ValueError("log_format must be text or json")
        if self.control_plane and not self.control_token and not self.listens_on_loopback:
            raise ValueError("the control plane off loopback needs a control token (--control-token)")

    @property
    def listens_on_loopback(self) -> bool:
        """Whether only this machine can reach the server (the control plane may then go without a token)."""
        return self.host in LOOPBACK_HOSTS

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'vaultjobs.db').resolve()}"

    def evolve(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``VAULTJOBS_*`` variables, then ``overrides`` that are not None."""
        values = cls.read_env(environ)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @classmethod
    def read_env(cls, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The fields set by non-empty ``VAULTJOBS_*`` variables, each parsed by its field's type."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(env_var(f.name))
            if raw is not None and raw != "":
                values[f.name] = _cast(f.name, raw)
        return values


def env_var(name: str) -> str:
    """The environment variable of setting ``name``."""
    return ENV_PREFIX + name.upper()


def describe(name: str) -> str:
    """The documentation sentence of setting ``name``."""
    return str(_FIELDS[name].metadata["doc"])


def default(name: str) -> Any:
    """The default value of setting ``name``."""
    return _FIELDS[name].default


def split_list(raw: str) -> tuple[str, ...]:
    """The list rule of every list setting: items separated by commas or whitespace."""
    return tuple(part for part in raw.replace(",", " ").split() if part)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_TYPES = typing.get_type_hints(Settings)


def _cast(name: str, raw: str) -> Any:
    kind = _TYPES[name]
    options = [t for t in typing.get_args(kind) if t is not type(None)] if typing.get_origin(kind) else []
    if typing.get_origin(kind) is tuple:
        return split_list(raw)
    if options:  # X | None
        kind = options[0]
    if kind is bool:
        if raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if raw.strip().lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{env_var(name)}: cannot read {raw!r} as a yes/no value (1, true, 0, false)")
    try:
        return kind(raw)
    except ValueError as exc:
        raise ValueError(f"{env_var(name)}: cannot read {raw!r} as {kind.__name__}") from exc
