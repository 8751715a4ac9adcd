"""The Job Status page in a real Chromium (Debian's, driven by Playwright) against a live server.

One SQLite server for the module (plus a read-only one, and a two-replica PostgreSQL cluster where
PostgreSQL is installed); each test signs in in a fresh browser context. With
``VAULTJOBS_UI_SCREENSHOTS=1`` the tests also refresh the screenshots of ``docs/ui.md``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from vaultjobs.testing import LiveServer, PostgresServer, run_demo

playwright_sync = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, BrowserContext, Page, expect  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = os.environ.get("VAULTJOBS_UI_SCREENSHOTS") == "1"
DOCS = Path(__file__).parents[2] / "docs" / "ui"
#: Where ``sample_processors`` (shared with the integration tests) lives.
SAMPLES = Path(__file__).parents[1] / "integration"
#: How long the page may take to show a change: one live interval and a margin for a loaded machine.
LIVE = 15_000

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed (apt-get chromium)")
expect.set_options(timeout=LIVE)


def shoot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with playwright_sync.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


def _server(folder: Path, **settings: Any) -> LiveServer:
    # One unit of work per claim, so that every running demo job gets a thread soon.
    path = os.pathsep.join(p for p in (str(SAMPLES), os.environ.get("PYTHONPATH", "")) if p)
    # Every test signs in (page and API) as admin: more than the auth limit's 20 a minute.
    server = LiveServer(folder, status_window=0.5, poll_interval=0.1, workers=4, claim_batch=1,
                        processors="sample_processors", extra_env={"PYTHONPATH": path},
                        auth_attempts_per_minute=1000, **settings)
    server.start()
    server.add_user("alice", "alice-password", timezone="Europe/Paris")
    server.add_user("bob", "bob-password")
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = _server(tmp_path_factory.mktemp("ui"))
    yield srv
    srv.stop()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 900})
    ctx.set_default_timeout(LIVE)
    yield ctx
    ctx.close()  # before the server stops: an open event stream would hold its shutdown


def sign_in(context: BrowserContext, server: LiveServer, username: str = "admin", password: str | None = None,
            path: str = "/ui/") -> Page:
    page = context.new_page()
    page.goto(server.url + path)
    expect(page).to_have_url(re.compile(r"/ui/login\?next="))
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password or server.admin_password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#username")).to_have_text(username)
    return page


_clients: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def api(server: LiveServer, username: str = "admin", password: str | None = None) -> tuple[httpx.Client, str]:
    """An API client signed in as ``username`` (closed after the test)."""
    token = server.login(username, password)
    _clients.append(server.client(headers={"Authorization": token, "Accept": "application/json"}))
    return _clients[-1], token


def long_job(http: httpx.Client, token: str) -> int:
    """A job of one long task: it runs on one worker thread until it is cancelled."""
    return run_demo(http, token, items=1, item_seconds=300, chunk_size=1)


def row(page: Page, job_id: int) -> Any:
    return page.locator(f"#job-{job_id}")


def test_sign_in_and_watch_a_running_job_progress_without_reloading(
    context: BrowserContext, server: LiveServer
) -> None:
    http, token = api(server)
    # Long enough (48 tasks of 0.5 s) to be still running once a slow machine has signed in.
    job_id = run_demo(http, token, items=96, item_seconds=0.25, chunk_size=2)
    page = sign_in(context, server)
    page.evaluate("window.vjNotReloaded = true")
    expect(page.locator("#live-mode")).to_have_text("live (events)")
    done = row(page, job_id).locator(".progress .done")
    expect(row(page, job_id).locator(".progress .total")).to_have_text("48")
    first = int(done.text_content() or "0")
    page.wait_for_function(
        "([sel, n]) => { const e = document.querySelector(sel); return e && Number(e.textContent) > n "
        "&& Number(e.textContent) < 48 }", arg=[f"#job-{job_id} .progress .done", first],
    )
    expect(page.locator("#tab-running .count")).not_to_have_text("0")
    shoot(page, "running")
    # The job leaves the Running tab for History, still without a reload.
    expect(row(page, job_id)).to_have_count(0, timeout=60_000)
    assert page.evaluate("window.vjNotReloaded") is True


def test_without_event_streams_the_page_polls_and_pause_stops_it(context: BrowserContext, server: LiveServer) -> None:
    context.add_init_script("delete window.EventSource")
    http, token = api(server)
    job_id = run_demo(http, token, items=48, item_seconds=0.25, chunk_size=2)
    page = sign_in(context, server)
    expect(page.locator("#live-mode")).to_have_text("live (polling)")
    before = page.locator("#last-updated").text_content()
    expect(page.locator("#last-updated")).not_to_have_text(before or "")
    expect(row(page, job_id)).to_have_count(0, timeout=60_000)  # finished: gone from Running by polling
    page.get_by_label("Pause live updates").check()
    expect(page.locator("#live-mode")).to_have_text("paused")
    run_demo(http, token, items=1, item_seconds=0)
    paused_at = page.locator("#last-updated").text_content()
    page.wait_for_timeout(4_000)  # more than one polling period
    assert page.locator("#last-updated").text_content() == paused_at


def test_a_jobs_page_updates_by_itself_and_pause_holds_it(context: BrowserContext, server: LiveServer) -> None:
    http, token = api(server)
    later = [int(http.post("/api/v26.1/services/jobs/processors/demo/actions/run",
                           json={"parameters": {"items": 1}, "schedule_at": "2099-01-01T00:00:00Z"}).json()["job_id"])
             for _ in range(2)]
    page = sign_in(context, server, path=f"/ui/jobs/{later[0]}")
    expect(page.locator("#live-mode")).to_have_text("live (events)")
    expect(page.locator("#job-status")).to_have_text("SCHEDULED")
    http.post(f"/api/v26.1/services/jobs/start_now/{later[0]}")
    expect(page.locator("#job-status")).to_have_text("SUCCESS")  # no reload: the event stream
    expect(page.locator("ol.timeline li")).to_have_count(5)
    # Paused, the page holds still while the job changes …
    page.goto(f"{server.url}/ui/jobs/{later[1]}")
    expect(page.locator("#live-mode")).to_have_text("live (events)")
    page.get_by_label("Pause live updates").check()
    expect(page.locator("#live-mode")).to_have_text("paused")
    stamp = page.locator("#last-updated").text_content()
    http.post("/api/v26.1/services/jobs/actions/cancel", json=[{"job_id": later[1]}])
    page.wait_for_timeout(2_500)  # the stream's update came, and was held
    expect(page.locator("#job-status")).to_have_text("SCHEDULED")
    assert page.locator("#last-updated").text_content() == stamp
    # … and shows what it missed as soon as it runs again, though nothing changes after.
    page.get_by_label("Pause live updates").uncheck()
    expect(page.locator("#job-status")).to_have_text("CANCELLED")
    expect(page.locator("#last-updated")).not_to_have_text(stamp or "")


def test_a_wrong_password_is_refused_on_the_form(context: BrowserContext, server: LiveServer) -> None:
    page = context.new_page()
    page.goto(server.url + "/ui/login")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_contain_text("USERNAME_OR_PASSWORD_INCORRECT")
    cookie = [c for c in context.cookies() if c["name"] == "vaultjobs_ui_session"]
    assert cookie == []


def finished_jobs(server: LiveServer) -> dict[str, int]:
    """One job each ending SUCCESS, ERRORS_ENCOUNTERED and CANCELLED; their ids by status."""
    http, token = api(server)
    ok = run_demo(http, token, items=2, item_seconds=0)
    failed = run_demo(http, token, items=2, item_seconds=0, fail_items=[1])
    response = http.post("/api/v26.1/services/jobs/processors/demo/actions/run",
                         json={"parameters": {"items": 2}, "schedule_at": "2099-01-01T00:00:00Z"})
    cancelled = int(response.json()["job_id"])
    http.post("/api/v26.1/services/jobs/actions/cancel", json=[{"job_id": cancelled}])
    for job_id in (ok, failed):
        server.wait_for_status(token, job_id, lambda s: s not in ("QUEUED", "RUNNING"))
    return {"SUCCESS": ok, "ERRORS_ENCOUNTERED": failed, "CANCELLED": cancelled}


def test_filter_history_by_two_statuses_in_the_query_string(context: BrowserContext, server: LiveServer) -> None:
    ids = finished_jobs(server)
    page = sign_in(context, server)
    page.locator("#tab-history").click()
    expect(row(page, ids["ERRORS_ENCOUNTERED"])).to_be_visible()
    # The summary's chart: every job here finished within the hour, so its newest bar holds them all.
    chart = page.locator("svg.chart")
    expect(chart.locator("g")).to_have_count(24)
    shown = page.evaluate("""() => {
        const bars = [...document.querySelectorAll('svg.chart g')];
        const n = s => Number(document.querySelector(`.summary .n[data-status=${s}]`)?.textContent || 0);
        return {completed: bars.map(g => Number(g.dataset.completed)), failed: bars.map(g => Number(g.dataset.failed)),
                success: n('SUCCESS'), errors: n('ERRORS_ENCOUNTERED')};
    }""")
    assert shown["completed"][:23] == [0] * 23 and shown["completed"][23] == shown["success"] >= 1
    assert shown["failed"][23] >= shown["errors"] >= 1
    expect(chart).to_have_attribute("aria-label", re.compile(r"^Last 24 hours: \d+ completed, \d+ failed$"))
    shoot(page, "history")
    page.get_by_label("SUCCESS", exact=True).check()
    page.get_by_label("CANCELLED", exact=True).check()
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"tab=history.*status=success&status=cancelled"))
    expect(row(page, ids["SUCCESS"])).to_be_visible()
    expect(row(page, ids["CANCELLED"])).to_be_visible()
    expect(row(page, ids["ERRORS_ENCOUNTERED"])).to_have_count(0)
    statuses = set(page.locator("table.jobs tbody tr").evaluate_all("rows => rows.map(r => r.dataset.status)"))
    assert statuses <= {"SUCCESS", "CANCELLED"}
    # The same URL is a bookmark: it works on its own, and without JavaScript.
    bare = context.browser.new_context(java_script_enabled=False)  # type: ignore[union-attr]
    bare.add_cookies(context.cookies())
    plain = bare.new_page()
    plain.goto(page.url)
    expect(plain.locator(f"#job-{ids['CANCELLED']}")).to_be_visible()
    expect(plain.locator(f"#job-{ids['ERRORS_ENCOUNTERED']}")).to_have_count(0)
    csv_text = plain.request.get(server.url + "/ui/export.csv?status=success&status=cancelled").text()
    assert csv_text.startswith("job_id,title,job_type,status")
    assert f"\n{ids['SUCCESS']},demo,demo,SUCCESS," in csv_text
    assert ",ERRORS_ENCOUNTERED," not in csv_text
    bare.close()


def test_open_a_job_and_download_its_log(context: BrowserContext, server: LiveServer) -> None:
    ids = finished_jobs(server)
    page = sign_in(context, server, path="/ui/?tab=history")
    row(page, ids["ERRORS_ENCOUNTERED"]).get_by_role("link", name=str(ids["ERRORS_ENCOUNTERED"])).click()
    expect(page.locator("#job-status")).to_have_text("ERRORS_ENCOUNTERED")
    expect(page.locator("table.tasks")).to_contain_text("items [1] failed")
    expect(page.locator("#log-tail")).to_contain_text("demo: 2 items in tasks of 5")
    # the timeline is the store's record of each change, with who or what made it
    timeline = page.locator("ol.timeline li")
    expect(timeline.nth(0)).to_contain_text("Created QUEUED by admin")
    expect(timeline.nth(1)).to_contain_text("QUEUED → RUNNING by worker ")
    expect(timeline.nth(2)).to_contain_text("RUNNING → ERRORS_ENCOUNTERED by worker ")
    expect(timeline).to_have_count(3)
    expect(page.locator("pre.json").first).to_contain_text('"fail_items"')
    shoot(page, "job")
    with page.expect_download() as download:
        page.locator("#download-log").click()
    text = Path(download.value.path()).read_text()
    assert "demo: 2 items in tasks of 5" in text and "1 failed" in text
    with page.expect_download() as download:
        page.locator("a[data-rel=self]").click()
    assert '"status": "ERRORS_ENCOUNTERED"' in Path(download.value.path()).read_text()


def test_a_jobs_artifacts_link_downloads_what_the_api_answers(context: BrowserContext, server: LiveServer) -> None:
    """The API's links need an Authorization header; the page hands them to the API with the viewer's session."""
    http, token = api(server)
    script = "CREATE Object ui_thing__c (label('UI Thing'), label_plural('UI Things'));"
    job_id = int(http.post("/api/mdl/execute_async", content=script).json()["job_id"])
    page = sign_in(context, server, path=f"/ui/jobs/{job_id}")
    expect(page.locator("#job-status")).to_have_text("SUCCESS")
    with page.expect_download() as download:
        page.locator("a[data-rel=artifacts]").click()
    body = Path(download.value.path()).read_text()
    assert '"responseStatus":"SUCCESS"' in body.replace(" ", "") and "ui_thing__c" in body
    # Bob may not see the job, so he gets nothing through its links either.
    bob = context.browser.new_context()  # type: ignore[union-attr]
    bob_page = sign_in(bob, server, "bob", "bob-password")
    assert bob_page.request.get(f"{server.url}/ui/jobs/{job_id}/links/1").status == 404
    bob.close()


def test_start_now_a_scheduled_job(context: BrowserContext, server: LiveServer) -> None:
    http, token = api(server)
    response = http.post("/api/v26.1/services/jobs/processors/demo/actions/run",
                         json={"parameters": {"items": 2, "item_seconds": 0}, "schedule_at": "2099-06-01T00:00:00Z",
                               "title": "Start me"})
    job_id = int(response.json()["job_id"])
    page = sign_in(context, server, path="/ui/?tab=scheduled")
    expect(row(page, job_id).locator(".status")).to_have_text("SCHEDULED")
    shoot(page, "scheduled")
    row(page, job_id).get_by_role("button", name="Start Now").click()
    expect(page.locator("h1")).to_have_text("Start now 1 job?")
    page.locator("#confirm").click()
    expect(page.locator(f"#result-{job_id} .result")).to_have_text("SUCCESS")
    expect(row(page, job_id).locator(".status")).to_have_text("SUCCESS")
    page.goto(f"{server.url}/ui/jobs/{job_id}")
    expect(page.locator("ol.timeline")).to_contain_text("SCHEDULED → QUEUEING by admin")
    expect(page.locator("ol.timeline")).to_contain_text("QUEUEING → QUEUED by scheduler")
    # Once started it is no longer SCHEDULED: a second Start Now fails as the API says.
    assert http.post(f"/api/v26.1/services/jobs/start_now/{job_id}").json()["responseStatus"] == "FAILURE"


def test_bulk_cancel_three_running_jobs(context: BrowserContext, server: LiveServer, tmp_path: Path) -> None:
    http, token = api(server)
    # Jobs that stop only once the test releases them: CANCELLING is shown for as long as it lasts.
    release = tmp_path / "release"
    ids = [int(http.post("/api/v26.1/services/jobs/processors/slow_to_stop/actions/run",
                         json={"parameters": {"release": str(release)}}).json()["job_id"])
           for _ in range(3)]  # three of the server's four threads
    page = sign_in(context, server)
    for job_id in ids:
        expect(row(page, job_id).locator(".status")).to_have_text("RUNNING")
        row(page, job_id).get_by_role("checkbox").check()
    # A live update in between keeps the selection.
    page.wait_for_timeout(1500)
    for job_id in ids:
        expect(row(page, job_id).get_by_role("checkbox")).to_be_checked()
    page.locator("#cancel-selected").click()
    expect(page.locator("h1")).to_have_text("Cancel 3 jobs?")
    page.locator("#confirm").click()
    for job_id in ids:
        expect(page.locator(f"#result-{job_id} .result")).to_have_text("SUCCESS")
    for job_id in ids:
        expect(row(page, job_id).locator(".status")).to_have_text("CANCELLING")
    shoot(page, "cancelling")
    release.touch()
    for job_id in ids:
        expect(row(page, job_id).locator(".status")).to_have_text("CANCELLED")


def test_csrf_refusal_and_sign_out(context: BrowserContext, server: LiveServer) -> None:
    http, token = api(server)
    job_id = long_job(http, token)
    page = sign_in(context, server)
    refused = page.request.post(server.url + "/ui/actions/cancel",
                                form={"job_id": str(job_id), "confirm": "yes", "csrf_token": "forged"})
    assert refused.status == 403 and "CSRF" in refused.text()
    missing = page.request.post(server.url + "/ui/actions/cancel", form={"job_id": str(job_id), "confirm": "yes"})
    assert missing.status == 403
    status = http.get("/api/v26.1/services/jobs/histories?status=cancelled").json()
    assert job_id not in [j["job_id"] for j in status["jobs"]]
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/ui/login$"))
    page.goto(server.url + "/ui/")
    expect(page).to_have_url(re.compile(r"/ui/login\?next="))
    assert page.request.get(server.url + "/ui/fragment?view=list").status == 401
    http.post("/api/v26.1/services/jobs/actions/cancel", json=[{"job_id": job_id}])


def test_another_users_job_is_invisible(context: BrowserContext, server: LiveServer) -> None:
    alice, alice_token = api(server, "alice", "alice-password")
    job_id = long_job(alice, alice_token)
    bob_page = sign_in(context, server, "bob", "bob-password")
    expect(bob_page.locator("#total")).to_be_visible()
    expect(row(bob_page, job_id)).to_have_count(0)
    bob_page.goto(f"{server.url}/ui/?tab=running&job_id={job_id}")
    expect(bob_page.locator("#total")).to_have_text("0 jobs")
    bob_page.goto(f"{server.url}/ui/jobs/{job_id}")
    expect(bob_page.locator("#message")).to_contain_text("INSUFFICIENT_ACCESS")
    assert bob_page.request.get(f"{server.url}/ui/jobs/{job_id}/log").status == 404
    # Alice sees her job with her own time zone; admins see it too.
    alice_page = sign_in(context.browser.new_context(), server, "alice", "alice-password")  # type: ignore[union-attr]
    expect(row(alice_page, job_id)).to_be_visible()
    expect(alice_page.locator(".who")).to_contain_text("Europe/Paris")
    # her dates are in her zone, with UTC in the title (shown on hover)
    created = row(alice_page, job_id).locator("time").first
    utc = datetime.fromisoformat(created.get_attribute("datetime") or "")
    expect(created).to_have_text(f"{utc.astimezone(ZoneInfo('Europe/Paris')):%Y-%m-%d %H:%M:%S}")
    expect(created).to_have_attribute("title", f"{utc:%Y-%m-%d %H:%M:%S} UTC")
    alice_page.context.close()
    alice.post("/api/v26.1/services/jobs/actions/cancel", json=[{"job_id": job_id}])


def test_workers_view(context: BrowserContext, server: LiveServer) -> None:
    http, token = api(server)
    job_id = long_job(http, token)
    page = sign_in(context, server, path="/ui/workers")
    workers = page.locator("table.workers tbody tr")
    expect(workers.first).to_contain_text("running")
    expect(workers.first.locator("td").nth(1)).to_have_text(socket.gethostname())
    # its units: the long job's task runs on one of them
    page.wait_for_function("""() => [...document.querySelectorAll('table.workers tbody tr')]
        .some(tr => Number(tr.cells[6].textContent) >= 1)""")
    heartbeat = workers.first.locator("td").nth(4)
    expect(heartbeat).not_to_have_text(heartbeat.text_content() or "")  # heartbeats come in, live
    shoot(page, "workers")
    http.post("/api/v26.1/services/jobs/actions/cancel", json=[{"job_id": job_id}])


#: The page's controls that have no accessible name (no text, label or aria-label): none should.
NAMELESS = """() => [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea')]
    .filter(el => !(el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') ||
                    (['A', 'BUTTON'].includes(el.tagName) ? el.textContent.trim() : el.labels && el.labels.length)))
    .map(el => el.outerHTML)"""


def test_keyboard_focus_and_selection_survive_live_updates(context: BrowserContext, server: LiveServer) -> None:
    http, token = api(server)
    job_id = long_job(http, token)  # running: its duration, so its row, changes every second
    page = sign_in(context, server)
    page.goto(server.url + "/ui/")
    # The first Tab reaches the skip link, which leads to the content; focus is drawn.
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("#main$"))
    page.keyboard.press("Tab")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    expect(row(page, job_id).locator(".status")).to_have_text("RUNNING")
    duration = row(page, job_id).locator("td").nth(8)

    def after_an_update() -> None:
        expect(duration).not_to_have_text(duration.text_content() or "")

    # A checkbox ticked from the keyboard keeps both its tick and the focus through live updates …
    page.locator(f"#select-{job_id}").focus()
    page.keyboard.press("Space")
    after_an_update()
    assert page.evaluate("document.activeElement.id") == f"select-{job_id}"
    expect(page.locator(f"#select-{job_id}")).to_be_checked()
    # … and so does a row's button, which Enter then presses.
    page.locator(f"#cancel-{job_id}").focus()
    after_an_update()
    assert page.evaluate("document.activeElement.id") == f"cancel-{job_id}"
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Cancel 1 job?")
    page.locator("#confirm").focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"#result-{job_id} .result")).to_have_text("SUCCESS")


def _count_updates(page: Page) -> None:
    page.evaluate("""() => { window.vjUpdates = 0; document.addEventListener('htmx:sseBeforeMessage', e => {
        if (e.detail.type === 'update') window.vjUpdates++; }); }""")


def _press(page: Page, locator: Any) -> None:
    box = locator.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()


def _an_update_came(page: Page) -> None:
    seen = page.evaluate("window.vjUpdates")
    page.wait_for_function("seen => window.vjUpdates > seen", arg=seen, timeout=LIVE)


def test_a_live_update_waits_while_a_pointer_is_pressed(context: BrowserContext, server: LiveServer) -> None:
    """A live update that replaced the button under a pressed pointer would lose the click (press
    and release on two elements): the update waits for the release, then shows what it missed."""
    http, token = api(server)
    later = int(http.post("/api/v26.1/services/jobs/processors/demo/actions/run",
                          json={"parameters": {"items": 1}, "schedule_at": "2099-01-01T00:00:00Z"}).json()["job_id"])
    page = sign_in(context, server, path=f"/ui/jobs/{later}")
    expect(page.locator("#live-mode")).to_have_text("live (events)")
    expect(page.locator("#job-status")).to_have_text("SCHEDULED")
    _count_updates(page)
    _press(page, page.locator("h1"))
    http.post("/api/v26.1/services/jobs/actions/cancel", json=[{"job_id": later}])
    _an_update_came(page)
    expect(page.locator("#job-status")).to_have_text("SCHEDULED")  # held while pressed …
    page.mouse.up()
    expect(page.locator("#job-status")).to_have_text("CANCELLED")  # … and fetched once released
    # A running job's part changes every second (its duration): a press on Cancel survives that.
    job_id = long_job(http, token)
    page.goto(f"{server.url}/ui/jobs/{job_id}")
    expect(page.locator("#live-mode")).to_have_text("live (events)")
    expect(page.locator("#job-status")).to_have_text("RUNNING")
    _count_updates(page)
    button = page.locator(f"#cancel-{job_id}")
    button.evaluate("b => b.dataset.pressed = 'yes'")
    _press(page, button)
    _an_update_came(page)
    assert button.get_attribute("data-pressed") == "yes"  # the very element pressed
    page.mouse.up()
    expect(page.locator("h1")).to_have_text("Cancel 1 job?")
    page.locator("#confirm").click()
    expect(page.locator(f"#result-{job_id} .result")).to_have_text("SUCCESS")


def test_a_live_update_waits_while_space_is_held_on_a_button(context: BrowserContext, server: LiveServer) -> None:
    """Space presses a focused button when it is let go: a swap while it is held down would leave the
    release on a new button that never saw the press, and the press would do nothing."""
    http, token = api(server)
    job_id = long_job(http, token)  # running: its part changes every second
    page = sign_in(context, server, path=f"/ui/jobs/{job_id}")
    expect(page.locator("#live-mode")).to_have_text("live (events)")
    expect(page.locator("#job-status")).to_have_text("RUNNING")
    _count_updates(page)
    button = page.locator(f"#cancel-{job_id}")
    button.evaluate("b => b.dataset.pressed = 'yes'")
    button.focus()
    page.keyboard.down(" ")
    _an_update_came(page)
    assert button.get_attribute("data-pressed") == "yes"  # the very element pressed
    page.keyboard.up(" ")
    expect(page.locator("h1")).to_have_text("Cancel 1 job?")
    page.locator("#confirm").click()
    expect(page.locator(f"#result-{job_id} .result")).to_have_text("SUCCESS")


def test_every_control_has_a_name_and_every_header_a_scope(context: BrowserContext, server: LiveServer) -> None:
    http, token = api(server)
    job_id = run_demo(http, token, items=2, item_seconds=0, fail_items=[1])
    server.wait_for_status(token, job_id, lambda s: s == "ERRORS_ENCOUNTERED")
    page = context.new_page()
    page.goto(server.url + "/ui/login")
    assert page.evaluate(NAMELESS) == []
    page = sign_in(context, server)
    for path in ("/ui/?tab=scheduled", "/ui/?tab=running", "/ui/?tab=history", f"/ui/jobs/{job_id}",
                 "/ui/workers"):
        page.goto(server.url + path)
        expect(page.locator("#live-mode")).not_to_have_text("connecting…")
        assert page.evaluate(NAMELESS) == [], path
        expect(page.locator("th:not([scope])")).to_have_count(0)
    page.goto(server.url + "/ui/?tab=history")
    expect(page.locator("#tab-history")).to_have_attribute("aria-current", "page")
    expect(page.get_by_label("Title or job type")).to_be_editable()


def test_dark_mode_follows_the_system_setting(browser: Browser, server: LiveServer) -> None:
    for scheme, background in (("light", "rgb(255, 255, 255)"), ("dark", "rgb(20, 23, 28)")):
        ctx = browser.new_context(color_scheme=scheme, viewport={"width": 1400, "height": 900})
        ctx.set_default_timeout(LIVE)
        try:
            page = sign_in(ctx, server, path="/ui/?tab=history")
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") == background
            if scheme == "dark":
                shoot(page, "dark")
        finally:
            ctx.close()


def test_read_only_mode_shows_no_actions(browser: Browser, tmp_path: Path) -> None:
    srv = _server(tmp_path / "ro", ui_read_only="true")
    ctx = browser.new_context()
    ctx.set_default_timeout(LIVE)
    try:
        http, token = api(srv)
        job_id = long_job(http, token)
        later = int(http.post("/api/v26.1/services/jobs/processors/demo/actions/run",
                              json={"parameters": {}, "schedule_at": "2099-01-01T00:00:00Z"}).json()["job_id"])
        page = sign_in(ctx, srv)
        for tab in ("running", "scheduled"):
            page.goto(f"{srv.url}/ui/?tab={tab}")
            expect(page.locator("table.jobs tbody tr").first).to_have_attribute("data-status", re.compile("."))
            expect(page.locator(".readonly")).to_have_text("read-only")
            expect(page.locator("button.action")).to_have_count(0)
            expect(page.locator("input[type=checkbox][name=job_id]")).to_have_count(0)
        page.goto(f"{srv.url}/ui/jobs/{job_id}")
        expect(page.locator("#job-status")).to_have_text(re.compile("QUEUED|RUNNING"))
        expect(page.locator("button.action")).to_have_count(0)
        csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
        refused = page.request.post(srv.url + "/ui/actions/cancel",
                                    form={"job_id": str(job_id), "confirm": "yes", "csrf_token": csrf or ""})
        assert refused.status == 403 and "read-only" in refused.text()
        for action in ("start-now", "cancel"):  # the confirmation is refused too
            refused = page.request.post(f"{srv.url}/ui/actions/{action}",
                                        form={"job_id": str(later), "csrf_token": csrf or ""})
            assert refused.status == 403 and "read-only" in refused.text()
        status = http.get(f"/api/v26.1/services/jobs/{later}").json()["data"]["status"]
        assert status == "SCHEDULED"
        http.post("/api/v26.1/services/jobs/actions/cancel", json=[{"job_id": job_id}, {"job_id": later}])
    finally:
        ctx.close()
        srv.stop()


def test_a_change_on_one_replica_reaches_a_browser_on_another(
    browser: Browser, tmp_path: Path, postgres_server: PostgresServer
) -> None:
    """Two API replicas on one PostgreSQL database: the page on one shows a cancel made on the other."""
    url = postgres_server.create_database("ui_cluster")
    one = _server(tmp_path / "one", database_url=url)
    two = LiveServer(tmp_path / "two", status_window=0.5, poll_interval=0.1, workers=0, database_url=url)
    two.start()
    ctx = browser.new_context()
    ctx.set_default_timeout(LIVE)
    try:
        http, token = api(one)
        job_id = long_job(http, token)
        page = sign_in(ctx, two)
        expect(row(page, job_id)).to_be_visible()
        http.post("/api/v26.1/services/jobs/actions/cancel", json=[{"job_id": job_id}])
        expect(row(page, job_id)).to_have_count(0)
        page.locator("#tab-history").click()
        expect(row(page, job_id).locator(".status")).to_have_text("CANCELLED")
    finally:
        ctx.close()
        two.stop()
        one.stop()


class StrippingProxy:
    """A reverse proxy that serves ``backend`` under ``prefix`` and strips the prefix from what it
    passes on (nginx's ``location /jobs/ { proxy_pass http://backend/; }``), streaming the answers
    (event streams included) until the browser goes away. Runs in a thread; ``url`` once started."""

    def __init__(self, backend: str, prefix: str) -> None:
        self.backend = backend
        self.prefix = prefix
        self.url = ""
        self.server = uvicorn.Server(uvicorn.Config(self, host="127.0.0.1", port=0, lifespan="off", ws="none",
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> StrippingProxy:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the proxy did not start"
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope["path"])
        if not path.startswith(self.prefix + "/"):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"not under the prefix"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in (b"host", b"connection")]
        async with httpx.AsyncClient(base_url=self.backend, timeout=None) as client, \
                anyio.create_task_group() as group:

            async def until_the_browser_leaves() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(until_the_browser_leaves)
            request = client.build_request(scope["method"], path[len(self.prefix):], headers=headers, content=body,
                                           params=scope["query_string"].decode())
            answer = await client.send(request, stream=True)
            await send({"type": "http.response.start", "status": answer.status_code, "headers": [
                (k, v) for k, v in answer.headers.raw if k.lower() not in (b"connection", b"transfer-encoding")]})
            async for chunk in answer.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            await answer.aclose()
            group.cancel_scope.cancel()


def test_the_page_works_in_a_browser_behind_a_proxy_under_a_url_prefix(browser: Browser, tmp_path: Path) -> None:
    """Behind a proxy that strips ``/jobs``: everything the browser follows (redirects, links, the
    event stream, forms, downloads, the cookie) stays under the prefix."""
    srv = _server(tmp_path / "prefixed", root_path="/jobs")
    ctx = browser.new_context(accept_downloads=True)
    ctx.set_default_timeout(LIVE)
    try:
        http, token = api(srv)
        job_id = long_job(http, token)
        with StrippingProxy(srv.url, "/jobs") as proxy:
            page = ctx.new_page()
            page.goto(proxy.url + "/jobs/ui/")
            expect(page).to_have_url(f"{proxy.url}/jobs/ui/login?next=%2Fjobs%2Fui%2F")
            page.get_by_label("User name").fill("admin")
            page.get_by_label("Password").fill(srv.admin_password)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(f"{proxy.url}/jobs/ui/")
            expect(page.locator("#live-mode")).to_have_text("live (events)")
            expect(row(page, job_id).locator(".status")).to_have_text("RUNNING")
            assert {c["path"] for c in ctx.cookies() if c["name"] == "vaultjobs_ui_session"} == {"/jobs/ui"}
            page.locator(f"#open-{job_id}").click()
            expect(page).to_have_url(f"{proxy.url}/jobs/ui/jobs/{job_id}")
            with page.expect_download() as download:
                page.locator("#download-log").click()
            assert "demo: 1 items" in Path(download.value.path()).read_text()
            page.locator(f"#cancel-{job_id}").click()
            page.locator("#confirm").click()
            expect(page).to_have_url(f"{proxy.url}/jobs/ui/actions/cancel")
            expect(page.locator(f"#result-{job_id} .result")).to_have_text("SUCCESS")
            expect(row(page, job_id).locator(".status")).to_have_text("CANCELLED")  # over the event stream
            page.get_by_role("button", name="Sign out").click()
            expect(page).to_have_url(f"{proxy.url}/jobs/ui/login")
            page.close()
    finally:
        ctx.close()
        srv.stop()


def test_the_page_works_under_a_url_prefix(tmp_path: Path) -> None:
    """Behind a proxy that strips ``/jobs``: links, redirects and the cookie carry the prefix."""
    srv = LiveServer(tmp_path / "prefixed", root_path="/jobs", workers=0)
    srv.start()
    try:
        with srv.client() as http:
            login = http.get("/ui/")
            assert login.status_code == 303 and login.headers["location"].startswith("/jobs/ui/login")
            signed = http.post("/ui/login", data={"username": "admin", "password": srv.admin_password,
                                                  "next": "/jobs/ui/?tab=history"})
            assert signed.status_code == 303 and signed.headers["location"] == "/jobs/ui/?tab=history"
            assert "Path=/jobs/ui" in signed.headers["set-cookie"]
            http.cookies.set("vaultjobs_ui_session", signed.cookies["vaultjobs_ui_session"])
            page = http.get("/ui/?tab=history").text
            assert 'href="/jobs/ui/static/ui.css"' in page and 'sse-connect="/jobs/ui/live?' in page
            assert http.get("/ui/static/htmx.min.js").status_code == 200
    finally:
        srv.stop()

