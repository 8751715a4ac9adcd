"""What the Job Status page shows, read from the store: the tabs, their filters and rows, one job.

The page reads the store directly (never through the status endpoint), so it spends nobody's status
window. Listings page through the store's histories and monitors, whose History pages cost the same at
any depth (see :mod:`vaultjobs.store.history`). Admins see every job, other users their own, by the
same rules as the API (:mod:`vaultjobs.jobs`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from vaultjobs import errors
from vaultjobs.api.job_payloads import job_status_data, job_title, planned_start
from vaultjobs.api.versions import NEWEST_VERSION
from vaultjobs.jobs import may_access, visible_creator
from vaultjobs.models import Job, LogLine, Task, User
from vaultjobs.status import TERMINAL_JOB_STATUSES, JobStatus, TaskState
from vaultjobs.store import Store
from vaultjobs.store.overview import WorkerRow
from vaultjobs.timeutil import zone

PAGE_SIZE = 50
MAX_PAGE = 1_000_000
#: The most jobs one Cancel may name: the Cancel Job API's limit.
MAX_CANCEL = 500
LOG_TAIL_LINES = 200
TASKS_PER_PAGE = 100

S = JobStatus
TAB_STATUSES: dict[str, tuple[JobStatus, ...]] = {
    "scheduled": (S.SCHEDULED,),
    "running": (S.QUEUEING, S.QUEUED, S.RUNNING, S.CANCELLING),
    "history": tuple(s for s in JobStatus if s in TERMINAL_JOB_STATUSES),
}
TAB_TITLES = {"scheduled": "Scheduled", "running": "Running", "history": "History"}
#: Statuses a cancel is accepted in (a RUNNING job only when its processor is cancellable).
CANCELLABLE = frozenset({S.SCHEDULED, S.QUEUEING, S.QUEUED, S.RUNNING})


@dataclass(frozen=True)
class Filters:
    """One listing's tab, filters and page, as read from the query string (which bookmarks it)."""

    tab: str = "running"
    statuses: tuple[JobStatus, ...] = ()
    date_from: str = ""
    date_to: str = ""
    title: str = ""
    job_id: str = ""
    created_by: str = ""
    page: int = 1
    problems: tuple[str, ...] = ()

    @classmethod
    def parse(cls, query: Mapping[str, str], statuses: Sequence[str]) -> Filters:
        """Read the query string; what cannot be read is dropped and named in ``problems``."""
        problems: list[str] = []
        tab = query.get("tab", "running")
        if tab not in TAB_STATUSES:
            problems.append(f"Invalid value for [tab]: [{tab[:40]}]; expected scheduled, running or history")
            tab = "running"
        chosen: list[JobStatus] = []
        for raw in statuses:
            try:
                status = JobStatus(raw.strip().upper())
            except ValueError:
                status = None
            if status is None or status not in TAB_STATUSES[tab]:
                problems.append(f"Invalid value for [status]: [{raw[:40]}] is not a status of the {tab} tab")
            elif status not in chosen:
                chosen.append(status)
        dates = {}
        for name in ("from", "to"):
            raw = query.get(name, "").strip()
            if raw:
                try:
                    datetime.strptime(raw, "%Y-%m-%d")
                except ValueError:
                    problems.append(f"Invalid value for [{name}]: [{raw[:40]}] is not a date like 2026-01-31")
                    raw = ""
            dates[name] = raw
        job_id = query.get("job_id", "").strip()
        if job_id and not (job_id.isdigit() and 0 < int(job_id) < 2**63):
            problems.append(f"Invalid value for [job_id]: [{job_id[:40]}] is not a job id")
            job_id = ""
        raw_page = query.get("page", "1").strip() or "1"
        page = 1
        if raw_page.isdigit() and 1 <= int(raw_page) <= MAX_PAGE:
            page = int(raw_page)
        else:
            problems.append(f"Invalid value for [page]: [{raw_page[:40]}]; expected 1 to {MAX_PAGE}")
        return cls(
            tab=tab, statuses=tuple(chosen), date_from=dates["from"], date_to=dates["to"],
            title=query.get("title", "").strip()[:255], job_id=job_id,
            created_by=query.get("created_by", "").strip()[:150], page=page, problems=tuple(problems),
        )

    def params(self, **changes: Any) -> list[tuple[str, str]]:
        values = {
            "tab": self.tab, "status": [s.value.lower() for s in self.statuses], "from": self.date_from,
            "to": self.date_to, "title": self.title, "job_id": self.job_id, "created_by": self.created_by,
            "page": str(self.page) if self.page > 1 else "",
        }
        values.update(changes)
        pairs: list[tuple[str, str]] = []
        for name, value in values.items():
            for item in value if isinstance(value, list) else [value]:
                if item:
                    pairs.append((name, str(item)))
        return pairs

    def query(self, **changes: Any) -> str:
        """This listing's query string, with ``changes`` (``page=3``, ``tab="history"``…)."""
        return urlencode(self.params(**changes))

    def date_range(self, tz: str) -> tuple[datetime | None, datetime | None]:
        """``from`` and ``to`` as the start of the first day and the end of the last, in the viewer's zone."""
        where = zone(tz)

        def day(text: str) -> datetime:
            return datetime.combine(datetime.strptime(text, "%Y-%m-%d").date(), time(), tzinfo=where)

        start = day(self.date_from) if self.date_from else None
        end = day(self.date_to) + timedelta(days=1) if self.date_to else None
        return start, end


@dataclass(frozen=True)
class Row:
    """One job as a table row shows it."""

    job: Job
    title: str
    created_by: str
    run_start: datetime | None
    done: int
    failed: int
    total: int
    duration: str
    cancellable: bool
    startable: bool


@dataclass
class Listing:
    filters: Filters
    rows: list[Row]
    total: int
    pages: int
    tab_counts: dict[str, int]
    problems: list[str] = field(default_factory=list)


def duration(start: datetime | None, end: datetime | None, now: datetime) -> str:
    """``1h 02m 03s``, ``4m 05s`` or ``6s``; empty when the job has not started."""
    if start is None:
        return ""
    seconds = max(0, int(((end or now) - start).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {seconds:02d}s"
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def can_cancel(job: Job) -> bool:
    return job.status in CANCELLABLE and (job.status is not S.RUNNING or job.cancellable)


class Views:
    """Reads what each part of the page shows, for one viewer at a time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def usernames(self) -> dict[int, str]:
        return {u.id: u.username for u in self.store.users.list_users()}

    def rows(self, jobs: Sequence[Job], now: datetime, names: Mapping[int, str] | None = None) -> list[Row]:
        names = self.usernames() if names is None else names
        counts = self.store.jobs.statuses_and_task_counts([j.id for j in jobs])
        rows = []
        for job in jobs:
            tasks = counts.get(job.id, (job.status, {}))[1]
            rows.append(Row(
                job=job,
                title=job_title(job),
                created_by=names.get(job.created_by, str(job.created_by)),
                run_start=planned_start(job),
                done=tasks.get(TaskState.SUCCESS, 0),
                failed=tasks.get(TaskState.ERRORS_ENCOUNTERED, 0),
                total=sum(tasks.values()),
                duration=duration(job.run_start, job.run_end, now),
                cancellable=can_cancel(job),
                startable=job.status is S.SCHEDULED,
            ))
        return rows

    def tab_counts(self, viewer: User) -> dict[str, int]:
        creator = visible_creator(viewer)
        unfinished = self.store.overview.unfinished_counts(creator)
        history = self.store.history.job_histories(created_by=creator, status=None, start=None, end=None,
                                                   limit=1, offset=0)
        return {
            "scheduled": sum(unfinished.get(s, 0) for s in TAB_STATUSES["scheduled"]),
            "running": sum(unfinished.get(s, 0) for s in TAB_STATUSES["running"]),
            "history": history.total,
        }

    def listing(self, viewer: User, filters: Filters, now: datetime, *, tab_counts: bool = True) -> Listing:
        """One page of a tab as ``filters`` ask; ``tab_counts`` False leaves the tabs' counts out (exports)."""
        problems = list(filters.problems)
        names = self.usernames()
        creator = visible_creator(viewer)
        empty = False
        if filters.created_by:
            found = next((uid for uid, name in names.items() if name.lower() == filters.created_by.lower()), None)
            if found is None:
                problems.append(f"Invalid value for [created_by]: there is no user [{filters.created_by}]")
                empty = True
            elif creator is not None and found != creator:
                empty = True  # others' jobs are not this viewer's to see
            else:
                creator = found
        start, end = filters.date_range(viewer.timezone)
        statuses = filters.statuses or TAB_STATUSES[filters.tab]
        jobs: list[Job] = []
        total = 0
        if empty:
            pass
        elif filters.job_id:
            job = self.store.jobs.get_job(int(filters.job_id))
            if job is not None and may_access(viewer, job) and job.status in statuses and (
                creator is None or job.created_by == creator
            ):
                jobs, total = [job], 1
        else:
            offset = (filters.page - 1) * PAGE_SIZE
            if filters.tab == "history":
                page = self.store.history.job_histories(
                    created_by=creator, status=None, statuses=statuses if filters.statuses else None,
                    start=start, end=end, limit=PAGE_SIZE, offset=offset, title=filters.title or None,
                )
            else:
                page = self.store.history.job_monitors(
                    created_by=creator, statuses=frozenset(statuses), start=start, end=end, limit=PAGE_SIZE,
                    offset=offset, title=filters.title or None,
                )
            jobs, total = list(page.items), page.total
        return Listing(
            filters=filters,
            rows=self.rows(jobs, now, names),
            total=total,
            pages=max(1, -(-total // PAGE_SIZE)),
            tab_counts=self.tab_counts(viewer) if tab_counts else {},
            problems=problems,
        )

    def summary(self, viewer: User, now: datetime) -> list[tuple[JobStatus, int]]:
        """Counts per status: unfinished jobs now, and jobs finished in the last 24 hours."""
        creator = visible_creator(viewer)
        counts = {**self.store.overview.unfinished_counts(creator),
                  **self.store.overview.finished_counts_since(creator, now - timedelta(hours=24))}
        return [(s, counts.get(s, 0)) for s in JobStatus]

    def workers(self) -> list[WorkerRow]:
        return self.store.overview.workers()

    def statuses(self, viewer: User, job_ids: Sequence[int], now: datetime) -> list[Row]:
        """The jobs ``viewer`` may see among ``job_ids``, in that order (the results of an action)."""
        found = self.store.jobs.get_jobs(list(job_ids))
        return self.rows([found[i] for i in job_ids if i in found and may_access(viewer, found[i])], now)


@dataclass
class JobDetail:
    row: Row
    status_data: dict[str, Any]
    tasks: list[Task]
    tasks_total: int
    next_tasks: int | None
    log: list[LogLine]
    log_total: int
    timeline: list[tuple[str, datetime]]


def job_detail(store: Store, viewer: User, job_id: int, now: datetime, tasks_after: int = 0) -> JobDetail:
    """Job ``job_id`` for ``viewer``: JobNotFound or JobAccessDenied as in the API."""
    found = store.jobs.job_and_task_counts(job_id)
    if found is None:
        raise errors.JobNotFound(job_id)
    job, counts = found
    if not may_access(viewer, job):
        raise errors.JobAccessDenied(job_id)
    views = Views(store)
    (row,) = views.rows([job], now)
    tasks = store.jobs.list_tasks(job.id, TASKS_PER_PAGE, tasks_after)
    log, log_total = store.overview.log_tail(job.id, LOG_TAIL_LINES)
    timeline: list[tuple[str, datetime]] = [("Created", job.created_at)]
    if job.scheduled_for is not None:
        timeline.append(("Scheduled for", job.scheduled_for))
    if job.run_start is not None:
        timeline.append(("Run started (RUNNING)", job.run_start))
    timeline += [(line.message, line.at) for line in log if _is_transition(line.message)]
    if job.run_end is not None:
        timeline.append((f"Run ended ({job.status.value})", job.run_end))
    elif job.status.is_terminal:
        timeline.append((f"Ended ({job.status.value})", job.modified_at))
    timeline.sort(key=lambda item: item[1])
    last = tasks.items[-1].seq if tasks.items else 0
    return JobDetail(
        row=row,
        status_data=job_status_data(job, counts, NEWEST_VERSION, viewer),
        tasks=list(tasks.items),
        tasks_total=tasks.total,
        next_tasks=last if last and last < tasks.total and len(tasks.items) == TASKS_PER_PAGE else None,
        log=log,
        log_total=log_total,
        timeline=timeline,
    )


def _is_transition(message: str) -> bool:
    """Log lines that record a change of status (cancel, start now, ends)."""
    return message.startswith(("cancel", "started now", "job ended", "worker ")) or "cancelled by" in message
