"""What the Job Status page shows, read from the store: the tabs, their filters and rows, one job.

The page reads the store directly (never through the status endpoint), so it spends nobody's status
window. The History tab pages by key (``after``/``before`` in the query string: the finish time and
id of the row the page follows or precedes), one index range at any depth on either database, and
counts up to :data:`HISTORY_COUNT_CAP` where the store cannot count exactly for free (PostgreSQL).
A bookmarked page number without a key is found by offset where the store seeks offsets at a
constant cost (SQLite's bucket counts, see :mod:`vaultjobs.store.history`). Admins see every job,
other users their own, by the same rules as the API (:mod:`vaultjobs.jobs`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from vaultjobs import errors
from vaultjobs.api.job_payloads import job_status_data, job_title, planned_start
from vaultjobs.api.versions import NEWEST_VERSION
from vaultjobs.jobs import may_access, visible_creator
from vaultjobs.models import Definition, Job, LogLine, Task, Transition, User
from vaultjobs.status import TERMINAL_JOB_STATUSES, JobStatus, TaskState
from vaultjobs.store import Store
from vaultjobs.store.history import HistoryKey, Window
from vaultjobs.store.overview import WorkerRow
from vaultjobs.timeutil import zone
from vaultjobs.ui.chart import FAILURES, HOURS, Hour, hours_of

#: Rows a page shows unless the query string's ``per_page`` asks for another of :data:`PAGE_SIZES`.
PAGE_SIZE = 50
PAGE_SIZES = (25, 50, 100, 200)
#: The History tab counts this many jobs at most where counting is not free (PostgreSQL): "10000+".
HISTORY_COUNT_CAP = 10_000
MAX_PAGE = 1_000_000
#: Vault's most jobs for one Cancel; the page takes the limit in force from the API's limits
#: (the control plane may change it), and reads a form of at least this many ids.
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
    per_page: int = PAGE_SIZE
    #: History keys (:class:`~vaultjobs.store.history.HistoryKey`): the page follows ``after`` or precedes ``before``.
    after: str = ""
    before: str = ""
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
        raw_size = query.get("per_page", "").strip()
        per_page = PAGE_SIZE
        if raw_size.isdigit() and int(raw_size) in PAGE_SIZES:
            per_page = int(raw_size)
        elif raw_size:
            problems.append(f"Invalid value for [per_page]: [{raw_size[:40]}]; expected "
                            f"{', '.join(str(n) for n in PAGE_SIZES[:-1])} or {PAGE_SIZES[-1]}")
        keys = {}
        for name in ("after", "before"):
            raw = query.get(name, "").strip()
            if raw and (tab != "history" or HistoryKey.parse(raw) is None):
                problems.append(f"Invalid value for [{name}]: [{raw[:40]}] is not a key of the History tab")
                raw = ""
            keys[name] = raw
        return cls(
            tab=tab, statuses=tuple(chosen), date_from=dates["from"], date_to=dates["to"],
            title=query.get("title", "").strip()[:255], job_id=job_id,
            created_by=query.get("created_by", "").strip()[:150], page=page, per_page=per_page, after=keys["after"],
            before="" if keys["after"] else keys["before"], problems=tuple(problems),
        )

    def params(self, **changes: Any) -> list[tuple[str, str]]:
        values = {
            "tab": self.tab, "status": [s.value.lower() for s in self.statuses], "from": self.date_from,
            "to": self.date_to, "title": self.title, "job_id": self.job_id, "created_by": self.created_by,
            "page": str(self.page) if self.page > 1 else "", "after": self.after, "before": self.before,
            "per_page": str(self.per_page) if self.per_page != PAGE_SIZE else "",
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
    #: The jobs matching, counted up to :data:`HISTORY_COUNT_CAP` when not ``exact``.
    total: int
    #: The number of pages; None when the total is not exact.
    pages: int | None
    tab_counts: dict[str, str]
    problems: list[str] = field(default_factory=list)
    exact: bool = True
    #: Query strings of the next and the previous page; None where there is none.
    next_query: str | None = None
    previous_query: str | None = None


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

    def tab_counts(self, viewer: User) -> dict[str, str]:
        """Each tab's count as its badge shows it: History's is capped (``10000+``) where counting is not free."""
        creator = visible_creator(viewer)
        unfinished = self.store.overview.unfinished_counts(creator)
        history, exact = self.store.history.history_count(created_by=creator, statuses=None, start=None, end=None,
                                                          cap=HISTORY_COUNT_CAP)
        return {
            "scheduled": str(sum(unfinished.get(s, 0) for s in TAB_STATUSES["scheduled"])),
            "running": str(sum(unfinished.get(s, 0) for s in TAB_STATUSES["running"])),
            "history": f"{history}" if exact else f"{history}+",
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
        listing = Listing(filters=filters, rows=[], total=0, pages=1, problems=problems,
                          tab_counts=self.tab_counts(viewer) if tab_counts else {})
        jobs: list[Job] = []
        if empty:
            pass
        elif filters.job_id:
            job = self.store.jobs.get_job(int(filters.job_id))
            if job is not None and may_access(viewer, job) and job.status in statuses and (
                creator is None or job.created_by == creator
            ):
                jobs, listing.total = [job], 1
        elif filters.tab == "history":
            jobs = self._history_page(listing, creator, statuses if filters.statuses else None, start, end)
        else:
            page = self.store.history.job_monitors(
                created_by=creator, statuses=frozenset(statuses), start=start, end=end, limit=filters.per_page,
                offset=(filters.page - 1) * filters.per_page, title=filters.title or None,
            )
            jobs, listing.total = list(page.items), page.total
            listing.pages = max(1, -(-page.total // filters.per_page))
            if filters.page > 1:
                listing.previous_query = filters.query(page=filters.page - 1)
            if filters.page < listing.pages:
                listing.next_query = filters.query(page=filters.page + 1)
        listing.rows = self.rows(jobs, now, names)
        return listing

    def _history_page(
        self, listing: Listing, creator: int | None, statuses: Sequence[JobStatus] | None,
        start: datetime | None, end: datetime | None,
    ) -> list[Job]:
        """One page of the History tab, read by key (or, for a bare page number, by an offset the store
        seeks at a constant cost); the links to its neighbours carry their keys."""
        filters = listing.filters
        history = self.store.history
        title = filters.title or None
        after = HistoryKey.parse(filters.after) if filters.after else None
        before = HistoryKey.parse(filters.before) if filters.before else None
        number = filters.page
        size = filters.per_page
        if after is None and before is None and number > 1 and history.seeks_offsets:
            page = history.job_histories(created_by=creator, status=None, statuses=statuses, start=start, end=end,
                                         limit=size, offset=(number - 1) * size, title=title)
            window = Window(items=list(page.items), older=number * size < page.total, newer=True)
        else:
            if after is None and before is None and number > 1:
                listing.problems.append(f"Page {number} is reached from page 1 with Next (this database pages "
                                        "History by key); here is page 1")
                number = 1
                filters = listing.filters = dataclasses.replace(filters, page=1)
            window = history.history_window(created_by=creator, statuses=statuses, start=start, end=end,
                                            limit=size, after=after, before=before, title=title)
        listing.total, listing.exact = history.history_count(created_by=creator, statuses=statuses, start=start,
                                                             end=end, cap=HISTORY_COUNT_CAP, title=title)
        listing.pages = max(1, -(-listing.total // size)) if listing.exact else None
        jobs = window.items
        if jobs and window.older:
            listing.next_query = filters.query(page=number + 1, after=str(HistoryKey.of(jobs[-1])), before="")
        if number > 1 and (not jobs or window.newer):
            previous = ({"after": "", "before": ""} if number == 2 or not jobs
                        else {"after": "", "before": str(HistoryKey.of(jobs[0]))})
            listing.previous_query = filters.query(page=max(1, number - 1), **previous)
        return jobs

    def summary(self, viewer: User, now: datetime) -> Summary:
        """Counts per status (unfinished jobs now, jobs finished in the last 24 hours) and the hours of
        the last 24 hours with their completions and failures, from one read of each."""
        creator = visible_creator(viewer)
        since = now - timedelta(hours=HOURS)
        per_hour = self.store.overview.finished_per_hour(creator, since)
        counts = dict(self.store.overview.unfinished_counts(creator))
        chart: dict[int, tuple[int, int]] = {}
        for hour, statuses in per_hour.items():
            for status, n in statuses.items():
                counts[status] = counts.get(status, 0) + n
            slot = min(hour, HOURS - 1)  # finished in this very millisecond's future: the newest hour
            done, failed = chart.get(slot, (0, 0))
            chart[slot] = (done + statuses.get(S.SUCCESS, 0),
                           failed + sum(statuses.get(S(f), 0) for f in FAILURES))
        return Summary(counts=[(s, counts.get(s, 0)) for s in JobStatus], hours=hours_of(chart, since))

    def workers(self) -> list[WorkerRow]:
        return self.store.overview.workers()

    def statuses(self, viewer: User, job_ids: Sequence[int], now: datetime) -> list[Row]:
        """The jobs ``viewer`` may see among ``job_ids``, in that order (the results of an action)."""
        found = self.store.jobs.get_jobs(list(job_ids))
        return self.rows([found[i] for i in job_ids if i in found and may_access(viewer, found[i])], now)


@dataclass(frozen=True)
class Summary:
    """The summary strip: counts per status, and the chart's hours (oldest first)."""

    counts: list[tuple[JobStatus, int]]
    hours: list[Hour]


@dataclass
class JobDetail:
    row: Row
    status_data: dict[str, Any]
    tasks: list[Task]
    tasks_total: int
    next_tasks: int | None
    log: list[LogLine]
    log_total: int
    #: The job's status changes as the store recorded them: what, and when.
    timeline: list[tuple[str, datetime]]
    #: The definition whose schedule made the job, as it stands now (None for other jobs, or when it is gone).
    definition: Definition | None = None
    #: The user name of the definition's owner.
    definition_owner: str = ""


def job_detail(store: Store, viewer: User, job_id: int, now: datetime, tasks_after: int = 0) -> JobDetail:
    """Job ``job_id`` for ``viewer``: JobNotFound or JobAccessDenied as in the API."""
    found = store.jobs.job_and_task_counts(job_id)
    if found is None:
        raise errors.JobNotFound(job_id)
    job, counts = found
    if not may_access(viewer, job):
        raise errors.JobAccessDenied(job_id)
    views = Views(store)
    names = views.usernames()
    (row,) = views.rows([job], now, names)
    tasks = store.jobs.list_tasks(job.id, TASKS_PER_PAGE, tasks_after)
    log, log_total = store.overview.log_tail(job.id, LOG_TAIL_LINES)
    timeline = [(describe(t, names), t.at) for t in store.jobs.transitions(job.id)]
    last = tasks.items[-1].seq if tasks.items else 0
    definition = None
    if job.definition:
        definition = next((d for d in store.schedules.list_definitions() if d.name == job.definition), None)
    return JobDetail(
        row=row,
        status_data=job_status_data(job, counts, NEWEST_VERSION, viewer),
        tasks=list(tasks.items),
        tasks_total=tasks.total,
        next_tasks=last if last and last < tasks.total and len(tasks.items) == TASKS_PER_PAGE else None,
        log=log,
        log_total=log_total,
        timeline=timeline,
        definition=definition,
        definition_owner=names.get(definition.owner_id, str(definition.owner_id)) if definition else "",
    )


def describe(transition: Transition, names: Mapping[int, str]) -> str:
    """``QUEUED → RUNNING by worker w1``, ``Created SCHEDULED by admin``: one line of the timeline."""
    moved = (f"{transition.from_status.value} → {transition.to_status.value}" if transition.from_status
             else f"Created {transition.to_status.value}")
    user_id = transition.user_id
    if user_id is not None:
        return f"{moved} by {names.get(user_id, f'user {user_id}')}"
    if transition.actor:
        return f"{moved} by {transition.actor.replace(':', ' ', 1)}"
    return moved
