"""The store: one query module per concern, each on the same :class:`~vaultjobs.store.dialect.Dialect`.

Callers reach a concern through its attribute (``store.jobs.get_job(…)``). Every method is one
atomic unit of work, and every change of a job's status goes through
:mod:`vaultjobs.store.job_status`, so that two nodes can never both move the same job.

A new concern is a module with a class taking the dialect: one attribute in :class:`Store` and one
line in :meth:`SqlStore.__init__`.
"""

from __future__ import annotations

from typing import Protocol

from vaultjobs.store.bursts import Bursts
from vaultjobs.store.content import Content
from vaultjobs.store.control_clock import ControlClock
from vaultjobs.store.control_events import ControlEvents
from vaultjobs.store.control_faults import ControlFaults
from vaultjobs.store.control_limits import ControlLimits
from vaultjobs.store.control_requests import ControlRequests
from vaultjobs.store.control_scripts import ControlScripts
from vaultjobs.store.dialect import Dialect
from vaultjobs.store.history import History
from vaultjobs.store.jobs import Jobs
from vaultjobs.store.nodes import Nodes
from vaultjobs.store.object_files import ObjectFiles
from vaultjobs.store.objects import Objects
from vaultjobs.store.overview import Overview
from vaultjobs.store.schedules import Schedules
from vaultjobs.store.status_windows import SharedStatusWindows, StatusWindows
from vaultjobs.store.users import Users
from vaultjobs.store.work import Work


class Store(Protocol):
    """What the engine and the API need from a store, whichever database is behind it."""

    dialect: Dialect
    users: Users
    jobs: Jobs
    work: Work
    schedules: Schedules
    nodes: Nodes
    history: History
    content: Content
    objects: Objects
    object_files: ObjectFiles
    bursts: Bursts
    overview: Overview
    status_windows: StatusWindows
    control_events: ControlEvents
    control_faults: ControlFaults
    control_requests: ControlRequests
    control_clock: ControlClock
    control_limits: ControlLimits
    control_scripts: ControlScripts

    def migrate(self) -> list[int]: ...
    def close(self) -> None: ...


class SqlStore:
    """The query modules on one dialect; :class:`~vaultjobs.store.sqlite.SqliteStore` and
    :class:`~vaultjobs.store.postgres.PostgresStore` choose the dialect and the histories."""

    def __init__(self, dialect: Dialect, history: History, status_windows: StatusWindows | None = None) -> None:
        self.dialect = dialect
        self.users = Users(dialect)
        self.jobs = Jobs(dialect)
        self.work = Work(dialect)
        self.schedules = Schedules(dialect)
        self.nodes = Nodes(dialect)
        self.history = history
        self.content = Content(dialect)
        self.objects = Objects(dialect)
        self.object_files = ObjectFiles(dialect)
        self.bursts = Bursts(dialect)
        self.overview = Overview(dialect)
        self.status_windows = status_windows or SharedStatusWindows(dialect)
        self.control_events = ControlEvents(dialect)
        self.control_faults = ControlFaults(dialect)
        self.control_requests = ControlRequests(dialect)
        self.control_clock = ControlClock(dialect)
        self.control_limits = ControlLimits(dialect)
        self.control_scripts = ControlScripts(dialect)

    def migrate(self) -> list[int]:
        """Apply the migrations not applied yet, in order; return the versions applied now."""
        return self.dialect.migrate()

    def close(self) -> None:
        self.jobs.close()
        self.status_windows.close()
        self.dialect.close()
