"""The Job Status page over plain HTTP, as a script or a browser without JavaScript sees it: the
session cookie, the CSRF token every change needs, what another user's job gives away (nothing),
Cancel's per-job results and limit beside the Cancel Job API's, and that the page reads the store
rather than the status endpoint (no status window spent, no burst counted).

One live server for the module, with the control plane on so that a test can change a limit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from vaultjobs.testing import LiveServer, run_demo

V = "/api/v26.1"
#: API sessions by user name, signed in once for the module's server: the auth limit counts every login.
_tokens: dict[str, str] = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = LiveServer(tmp_path_factory.mktemp("ui-http"), status_window=0.5, poll_interval=0.1, workers=2,
                     control_plane="1")
    srv.start()
    srv.add_user("alice", "alice-password", timezone="Europe/Paris")
    srv.add_user("bob", "bob-password")
    _tokens.clear()  # sessions of an earlier server
    yield srv
    srv.stop()


@pytest.fixture
def clients() -> Iterator[list[httpx.Client]]:
    made: list[httpx.Client] = []
    yield made
    for client in made:
        client.close()


class Browser:
    """A signed-in page session: the cookie the login form set, and the CSRF token its pages carry."""

    def __init__(self, http: httpx.Client, login: httpx.Response) -> None:
        self.http = http
        self.login = login
        self.session = login.cookies["vaultjobs_ui_session"]
        self.csrf = csrf_of(http.get("/ui/").text)

    def act(self, action: str, ids: list[int], *, confirm: bool = True, csrf: str | None = "") -> httpx.Response:
        form: dict[str, Any] = {"job_id": [str(i) for i in ids]}
        if confirm:
            form["confirm"] = "yes"
        if csrf is not None:
            form["csrf_token"] = csrf or self.csrf
        return self.http.post(f"/ui/actions/{action}", data=form)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, html[:500]
    return found.group(1)


def sign_in(server: LiveServer, clients: list[httpx.Client], username: str = "admin",
            password: str | None = None) -> Browser:
    http = server.client()
    clients.append(http)
    login = http.post("/ui/login", data={"username": username, "password": password or server.admin_password,
                                         "next": "/ui/"})
    assert login.status_code == 303 and login.headers["location"] == "/ui/", login.text
    return Browser(http, login)


def api(server: LiveServer, clients: list[httpx.Client], username: str = "admin",
        password: str | None = None) -> tuple[httpx.Client, str]:
    token = _tokens.get(username) or _tokens.setdefault(username, server.login(username, password))
    http = server.client(headers={"Authorization": token, "Accept": "application/json"})
    clients.append(http)
    return http, token


def scheduled(http: httpx.Client, title: str) -> int:
    """A job that stays SCHEDULED (for 2099) until it is started or cancelled."""
    body = http.post(f"{V}/services/jobs/processors/demo/actions/run",
                     json={"parameters": {"items": 1, "item_seconds": 0}, "schedule_at": "2099-01-01T00:00:00Z",
                           "title": title}).json()
    assert body["responseStatus"] == "SUCCESS", body
    return int(body["job_id"])


def status_of(server: LiveServer, job_id: int) -> str:
    token = _tokens.get("admin") or _tokens.setdefault("admin", server.login())
    data = server.wait_for_status(token, job_id, lambda s: True)
    return str(data["status"])


def results(html: str) -> dict[int, tuple[str, str]]:
    """The results page's rows: job id → (responseStatus, "TYPE: message" or "")."""
    rows = re.findall(r'<tr id="result-(\d+)">.*?<td class="result">(\w+)</td>\s*<td>(.*?)</td></tr>', html, re.S)
    return {int(job_id): (status, error.strip()) for job_id, status, error in rows}


def first_event(http: httpx.Client, path: str, name: str = "update") -> str:
    """The data of the first ``name`` event of the live stream at ``path``."""
    with http.stream("GET", path) as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        event, data = "", []
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event, data = line[len("event: "):], []
            elif line.startswith("data: "):
                data.append(line[len("data: "):])
            elif not line and event == name:
                return "\n".join(data)
    raise AssertionError(f"the stream ended before a {name} event")


def test_the_session_cookie_is_the_apis_session_httponly_and_same_site(
    server: LiveServer, clients: list[httpx.Client]
) -> None:
    page = sign_in(server, clients)
    cookie = page.login.headers["set-cookie"]
    assert cookie.startswith("vaultjobs_ui_session=")
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
    assert "httponly" in attributes and attributes["samesite"].lower() == "samesite=strict"
    assert attributes["path"] == "Path=/ui" and "secure" not in attributes  # plain HTTP here
    # the same session as the API's: it reads the API, and ending it through the API ends the page's
    with server.client(headers={"Authorization": page.session, "Accept": "application/json"}) as http:
        me = http.get(f"{V}/objects/users/me").json()
        assert me["responseStatus"] == "SUCCESS" and me["users"][0]["user"]["user_name__v"] == "admin"
        assert http.delete(f"{V}/session").json()["responseStatus"] == "SUCCESS"
    after = page.http.get("/ui/?tab=history")
    assert after.status_code == 303 and after.headers["location"] == "/ui/login?next=%2Fui%2F%3Ftab%3Dhistory"
    assert page.http.get("/ui/fragment?view=list").status_code == 401


def test_every_change_needs_the_forms_csrf_token(server: LiveServer, clients: list[httpx.Client]) -> None:
    http, _ = api(server, clients)
    job_id = scheduled(http, "CSRF target")
    admin = sign_in(server, clients)
    alice = sign_in(server, clients, "alice", "alice-password")
    for action in ("cancel", "start-now"):
        for token in (None, "forged", alice.csrf):  # none, a made-up one, another session's
            refused = admin.act(action, [job_id], csrf=token)
            assert refused.status_code == 403 and "CSRF" in refused.text, (action, token)
            refused = admin.act(action, [job_id], confirm=False, csrf=token)  # the confirmation too
            assert refused.status_code == 403, (action, token)
    assert status_of(server, job_id) == "SCHEDULED"
    # signing out is a change too
    assert admin.http.post("/ui/logout", data={"csrf_token": "forged"}).status_code == 403
    assert admin.http.post("/ui/logout").status_code == 403
    assert admin.http.get("/ui/").status_code == 200  # still signed in
    out = admin.http.post("/ui/logout", data={"csrf_token": admin.csrf})
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    assert admin.http.get("/ui/").status_code == 303
    # and the session has ended for the API as well
    with server.client(headers={"Authorization": admin.session, "Accept": "application/json"}) as api_client:
        body = api_client.get(f"{V}/objects/users/me").json()
    assert body["errors"][0]["type"] == "INVALID_SESSION_ID"
    http.post(f"{V}/services/jobs/actions/cancel", json=[{"job_id": job_id}])


def test_nothing_of_another_users_job_reaches_a_user(server: LiveServer, clients: list[httpx.Client]) -> None:
    alice_api, alice_token = api(server, clients, "alice", "alice-password")
    secret = "Secret plan of Alice"  # nothing HTML escapes
    job_id = scheduled(alice_api, secret)
    done = run_demo(alice_api, alice_token, items=1, item_seconds=0)
    server.wait_for_status(alice_token, done, lambda s: s == "SUCCESS")
    bob = sign_in(server, clients, "bob", "bob-password")
    get = bob.http.get
    for query in ("tab=scheduled", f"tab=scheduled&job_id={job_id}", "tab=scheduled&created_by=alice",
                  f"tab=history&job_id={done}", "tab=history&created_by=alice"):
        html = get(f"/ui/?{query}").text
        assert f'id="job-{job_id}"' not in html and f'id="job-{done}"' not in html and secret not in html, query
        fragment = get(f"/ui/fragment?view=list&{query}").text
        assert f'id="job-{job_id}"' not in fragment and f'id="job-{done}"' not in fragment, query
    detail = get(f"/ui/jobs/{job_id}")
    assert detail.status_code == 403 and "INSUFFICIENT_ACCESS" in detail.text and secret not in detail.text
    for path in (f"/ui/jobs/{job_id}/log", f"/ui/jobs/{job_id}/status.json", f"/ui/jobs/{done}/links/0",
                 f"/ui/jobs/{done}/links/1"):
        answer = get(path)
        assert answer.status_code == 404 and secret not in answer.text, path
    fragment = get(f"/ui/fragment?view=job&job_id={job_id}").text
    assert "INSUFFICIENT_ACCESS" in fragment and secret not in fragment
    assert f"job-{job_id}" not in get(f"/ui/fragment?view=statuses&ids={job_id},{done}").text
    streamed = first_event(bob.http, f"/ui/live?view=job&job_id={job_id}")
    assert "INSUFFICIENT_ACCESS" in streamed and secret not in streamed
    assert f"job-{job_id}" not in first_event(bob.http, f"/ui/live?view=statuses&ids={job_id}")
    exported = get("/ui/export.csv").text
    assert exported.startswith("job_id,") and f"\n{done}," not in exported
    # Nor can Bob act on it: the confirmation does not show it, and each action fails as the API's would.
    assert f'id="job-{job_id}"' not in bob.act("cancel", [job_id], confirm=False).text
    for action in ("cancel", "start-now"):
        (result,) = results(bob.act(action, [job_id]).text).values()
        assert result[0] == "FAILURE" and result[1].startswith("INSUFFICIENT_ACCESS: "), (action, result)
    assert status_of(server, job_id) == "SCHEDULED"
    # Alice herself, and an admin, see it all.
    for page in (sign_in(server, clients, "alice", "alice-password"), sign_in(server, clients)):
        assert secret in page.http.get(f"/ui/jobs/{job_id}").text
        assert f"\n{done}," in page.http.get("/ui/export.csv").text
    alice_api.post(f"{V}/services/jobs/actions/cancel", json=[{"job_id": job_id}])


def test_cancel_reports_each_job_as_the_cancel_job_api_does(server: LiveServer, clients: list[httpx.Client]) -> None:
    admin_api, _ = api(server, clients)
    alice_api, alice_token = api(server, clients, "alice", "alice-password")
    finished = run_demo(alice_api, alice_token, items=1, item_seconds=0)
    server.wait_for_status(alice_token, finished, lambda s: s == "SUCCESS")
    admins = scheduled(admin_api, "not Alice's")
    unknown = 987_654_321
    mine = [scheduled(alice_api, "mine"), scheduled(alice_api, "mine too")]
    alice = sign_in(server, clients, "alice", "alice-password")
    confirm = alice.act("cancel", [finished, unknown, admins, mine[0]], confirm=False)
    assert confirm.status_code == 200 and "Cancel 4 jobs?" in confirm.text
    shown = results(alice.act("cancel", [finished, unknown, admins, mine[0]]).text)
    answered = alice_api.post(f"{V}/services/jobs/actions/cancel",
                              json=[{"job_id": i} for i in (finished, unknown, admins, mine[1])]).json()["data"]

    def as_page(item: dict[str, Any]) -> tuple[str, str]:
        error = item.get("errors")
        return item["responseStatus"], f"{error['type']}: {error['message']}" if error else ""

    assert [shown[i] for i in (finished, unknown, admins)] == [as_page(item) for item in answered[:3]]
    assert [status for status, _ in shown.values()] == ["FAILURE", "FAILURE", "FAILURE", "SUCCESS"]
    assert answered[3]["responseStatus"] == "SUCCESS"
    assert status_of(server, mine[0]) == status_of(server, mine[1]) == "CANCELLED"
    assert status_of(server, admins) == "SCHEDULED"
    admin_api.post(f"{V}/services/jobs/actions/cancel", json=[{"job_id": admins}])


def test_one_cancel_names_at_most_the_cancel_job_apis_limit(server: LiveServer, clients: list[httpx.Client]) -> None:
    page = sign_in(server, clients)
    first = 900_000_000  # ids of no job: only the count matters
    too_many = page.act("cancel", list(range(first, first + 501)), confirm=False)
    assert too_many.status_code == 400 and "at most 500 jobs, got 501" in too_many.text
    assert "Cancel 500 jobs?" in page.act("cancel", list(range(first, first + 500)), confirm=False).text
    assert "(up to 500 jobs;" in page.http.get("/ui/?tab=scheduled").text
    # The limit in force is the API's: lowered (here through the control plane), the page follows.
    http, _ = api(server, clients)
    assert http.put("/_vaultjobs/limits", json={"cancel_batch_size": 2}).status_code == 200
    try:
        refused = page.act("cancel", [first, first + 1, first + 2])
        assert refused.status_code == 400 and "at most 2 jobs, got 3" in refused.text
        by_api = http.post(f"{V}/services/jobs/actions/cancel",
                           json=[{"job_id": i} for i in (first, first + 1, first + 2)]).json()
        assert "at most 2 jobs, got 3" in by_api["errors"][0]["message"]
        assert "(up to 2 jobs;" in page.http.get("/ui/?tab=scheduled").text
    finally:
        http.delete("/_vaultjobs/limits")


def test_the_page_spends_no_status_window_and_no_burst(server: LiveServer, clients: list[httpx.Client]) -> None:
    """The page reads the store: however often it looks at a job, the job's 10-second status window
    stays whole for the API's callers, and the burst limit does not count it."""
    http, _ = api(server, clients)
    assert http.put("/_vaultjobs/limits", json={"status_window": 60}).status_code == 200
    try:
        job_id = scheduled(http, "Watched")
        before = int(http.get(f"{V}/services/jobs/processors").headers["X-VaultAPI-BurstLimitRemaining"])
        page = sign_in(server, clients)
        for _ in range(10):
            assert page.http.get(f"/ui/jobs/{job_id}").status_code == 200
            assert page.http.get(f"/ui/fragment?view=job&job_id={job_id}").status_code == 200
            assert page.http.get(f"/ui/jobs/{job_id}/status.json").json()["data"]["status"] == "SCHEDULED"
            assert page.http.get("/ui/?tab=scheduled").status_code == 200
        assert "Watched" in first_event(page.http, f"/ui/live?view=job&job_id={job_id}")
        first = http.get(f"{V}/services/jobs/{job_id}")
        assert first.json()["responseStatus"] == "SUCCESS"  # the window was still whole
        assert int(first.headers["X-VaultAPI-BurstLimitRemaining"]) == before - 1  # the page's 41 reads: none
        again = http.get(f"{V}/services/jobs/{job_id}").json()
        assert again["errors"][0]["type"] == "API_LIMIT_EXCEEDED"  # and it is in force
        assert page.http.get(f"/ui/jobs/{job_id}/status.json").status_code == 200  # the page is not limited
        http.post(f"{V}/services/jobs/actions/cancel", json=[{"job_id": job_id}])
    finally:
        http.delete("/_vaultjobs/limits")


def test_export_csv_defuses_cells_a_spreadsheet_would_run(server: LiveServer, clients: list[httpx.Client],
                                                           tmp_path: Path) -> None:
    http, token = api(server, clients)
    body = http.post(f"{V}/services/jobs/processors/demo/actions/run",
                     json={"parameters": {"items": 1}, "title": '=HYPERLINK("http://evil.example","x")'}).json()
    job_id = int(body["job_id"])
    server.wait_for_status(token, job_id, lambda s: s == "SUCCESS")
    page = sign_in(server, clients)
    exported = page.http.get(f"/ui/export.csv?job_id={job_id}")
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.splitlines()
    assert lines[1].startswith(f'{job_id},"\'=HYPERLINK(""http://evil.example"",""x"")",demo,SUCCESS,admin,')


def test_the_page_presents_a_job_as_the_api_does(server: LiveServer, clients: list[httpx.Client]) -> None:
    """The page's ``self`` link is Retrieve Job Status's ``data``, from the same presenter, read from the store."""
    http, token = api(server, clients, "alice", "alice-password")
    job_id = run_demo(http, token, items=3, item_seconds=0, fail_items=[2])
    server.wait_for_status(token, job_id, lambda s: s == "ERRORS_ENCOUNTERED")
    page = sign_in(server, clients, "alice", "alice-password")
    shown = page.http.get(f"/ui/jobs/{job_id}/status.json").json()
    time.sleep(0.6)  # the job's status window (0.5 s here), which waiting for the job spent, opens again
    assert shown == http.get(f"{V}/services/jobs/{job_id}").json()


COLUMNS = ["Job ID", "Title / job type", "Status", "Created by", "Created", "Run start", "Run end", "Duration",
           "Progress"]


def test_each_tab_is_a_table_of_the_required_columns_under_its_count(
    server: LiveServer, clients: list[httpx.Client]
) -> None:
    http, _ = api(server, clients)
    job_id = scheduled(http, "Counted")
    page = sign_in(server, clients)
    for tab, extra in (("scheduled", ["Select"]), ("running", ["Select"]), ("history", [])):
        html = page.http.get(f"/ui/?tab={tab}").text
        headers = [re.sub(r"<[^>]+>", "", h).strip()
                   for h in re.findall(r'<th scope="col">(.*?)</th>', html.split('<table class="jobs">')[1])]
        assert headers == [*extra, *COLUMNS, "Actions"], tab
        count = re.search(rf'id="tab-{tab}"[^>]*>\s*\w+ <span class="count">(\d+)</span>', html)
        total = re.search(r'<p class="muted" id="total">(\d+) jobs?', html)
        assert count and total and count.group(1) == total.group(1), tab
    scheduled_html = page.http.get("/ui/?tab=scheduled").text
    assert f'id="start-now-{job_id}"' in scheduled_html and f'id="cancel-{job_id}"' in scheduled_html
    # 50 rows a page unless the filter form's "Rows per page" says otherwise
    assert '<option value="50" selected>' in scheduled_html
    assert '<option value="25" selected>' in page.http.get("/ui/?tab=history&per_page=25").text
    http.post(f"{V}/services/jobs/actions/cancel", json=[{"job_id": job_id}])


def test_pages_showing_the_same_thing_share_a_rendering_but_not_a_token(
    server: LiveServer, clients: list[httpx.Client]
) -> None:
    http, _ = api(server, clients)
    job_id = scheduled(http, "Shared")
    one, two = sign_in(server, clients), sign_in(server, clients)  # two sessions of one admin
    alice = sign_in(server, clients, "alice", "alice-password")
    path = "/ui/fragment?view=list&tab=scheduled"
    first, second, hers = (page.http.get(path).text for page in (one, two, alice))  # within the sharing time
    assert f'id="cancel-{job_id}"' in first and f'id="cancel-{job_id}"' in second
    assert one.csrf != two.csrf
    assert f'value="{one.csrf}"' in first and one.csrf not in second
    assert f'value="{two.csrf}"' in second and two.csrf not in first
    assert f'id="job-{job_id}"' not in hers and one.csrf not in hers  # Alice sees her own jobs only
    # the token each page got is the one its own actions take
    assert results(two.act("cancel", [job_id]).text)[job_id][0] == "SUCCESS"


def test_the_page_needs_nothing_but_its_own_files(server: LiveServer, clients: list[httpx.Client]) -> None:
    """No CDN: every script and stylesheet comes from the package, and the browser is told to run nothing else."""
    page = sign_in(server, clients)
    answer = page.http.get("/ui/")
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    files = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', answer.text)
    assert sorted(files) == ["/ui/static/htmx-ext-sse.min.js", "/ui/static/htmx.min.js", "/ui/static/ui.css",
                             "/ui/static/ui.js"]
    package = Path(__file__).parents[2] / "src" / "vaultjobs" / "ui" / "static"
    for path in files:
        served = page.http.get(path)
        assert served.status_code == 200 and served.content == (package / Path(path).name).read_bytes(), path
    for file in [*package.iterdir(), *(package.parent / "templates").iterdir()]:
        if file.suffix in (".js", ".css", ".html"):
            assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?(https?:)?//""", file.read_text()), file.name
