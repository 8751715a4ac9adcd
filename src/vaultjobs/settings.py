"""Every knob of the service in one frozen value, read once from flags and the environment.

Each field has an environment variable ``VAULTJOBS_<FIELD>``; command-line flags win over it.
Durations are seconds (tests shorten them to keep the suite fast).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PREFIX = "VAULTJOBS_"


@dataclass(frozen=True, kw_only=True)
class Settings:
    data_dir: Path = Path("vaultjobs-data")
    host: str = "127.0.0.1"
    port: int = 8080
    #: Worker threads in this process (0 = API only).
    workers: int = 4
    #: ``sqlite:///path`` or ``postgresql://…``; empty means ``<data_dir>/vaultjobs.db``.
    database_url: str = ""
    #: Connections each node keeps to PostgreSQL at most.
    database_pool_size: int = 10
    admin_password: str | None = None
    #: Length of the job-status rate-limit window (Vault: 10 s).
    status_window: float = 10.0
    #: Session inactivity expiry and hard maximum age.
    session_idle_timeout: float = 20 * 60.0
    session_max_age: float = 48 * 3600.0
    #: Auth attempts per username per minute (Vault's auth burst limit).
    auth_attempts_per_minute: int = 20
    #: Consecutive failed logins that lock a user out, and for how long.
    lockout_attempts: int = 10
    lockout_seconds: float = 15 * 60.0
    #: How often a worker process writes its heartbeat, and after how long silence it counts as dead.
    heartbeat_interval: float = 5.0
    heartbeat_timeout: float = 30.0
    #: How often idle workers and the scheduler look at the store when nobody woke them.
    poll_interval: float = 1.0
    #: Most units of work (jobs to start or complete, tasks) a worker thread claims at once.
    claim_batch: int = 32
    #: How long one unit of a batch may run before the units claimed with it and not started yet
    #: are handed back for other threads and workers to take.
    batch_hold: float = 0.2
    #: How long a SCHEDULED instance may be late before it is MISSED_SCHEDULE.
    schedule_grace: float = 15 * 60.0
    #: How long in-flight tasks may finish on shutdown before the process leaves them.
    shutdown_grace: float = 10.0
    #: "vault": every processed request answers HTTP 200, as Vault does; "rest": failures map to 4xx.
    http_status_codes: str = "vault"
    #: Modules whose processors are loaded in addition to the entry-point group.
    processors: tuple[str, ...] = ()
    #: Finished jobs, their tasks and logs are purged this many days after they ended.
    retention_days: float = 30.0
    #: Job definitions (schedules) file, TOML; reloaded on SIGHUP.
    definitions: Path | None = None
    #: Largest request body accepted, in bytes.
    max_body_bytes: int = 1024 * 1024

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
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _cast(f.name, f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _cast(name: str, type_name: Any, raw: str) -> Any:
    text = str(type_name)
    try:
        if "Path" in text:
            return Path(raw)
        if "tuple" in text:
            return tuple(part for part in raw.replace(",", " ").split() if part)
        if text == "int":
            return int(raw)
        if text == "float":
            return float(raw)
        return raw
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}{name.upper()}: cannot read {raw!r} as {text}") from exc
