"""Fixtures of the in-process API tests: a whole node (store, accounts, engine, app) in the test's own
process, spoken to over httpx without a socket.

The app runs on one event loop in a thread of its own (an anyio blocking portal), as uvicorn would
run it, and its engine threads run jobs against the real store: SQLite or PostgreSQL, like every
other store test. Only what needs a real process (restart, kill, cluster, start-up, CLI) keeps a
live server; everything here is the same API, minus the process start and the TCP round trips.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import pytest
from argon2 import PasswordHasher

from vaultjobs import accounts
from vaultjobs.node import Node, bootstrap_admin, build_node, load_definitions_file
from vaultjobs.settings import Settings
from vaultjobs.testing import ADMIN_PASSWORD, V
from vaultjobs.timeutil import Clock

#: Where ``sample_processors`` (shared with the live-server tests) lives.
SAMPLE_PROCESSORS = Path(__file__).parents[1] / "integration"
CONTENT_PROCESSORS = ("vaultjobs.processors.export_documents", "vaultjobs.processors.binder_export",
                      "vaultjobs.processors.import_submission")
BASE_URL = "http://testserver"


class PortalTransport(httpx.BaseTransport):
    """A synchronous httpx transport to an ASGI app running on ``portal``'s event loop.

    Each request's body is read here and handed, chunk by chunk as it was sent, to
    :class:`httpx.ASGITransport` on the loop, whose whole answer is read there; any number of threads
    may use it at once, as clients of a real server would. Closing a client leaves the transport
    (shared by every client of one app) open. (Starlette's TestClient does the same, but wants the
    ``httpx2`` fork from Starlette 1.x on.)
    """

    def __init__(self, app: Any, portal: anyio.from_thread.BlockingPortal) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        chunks = list(request.stream)  # type: ignore[arg-type]

        async def body() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        async def send() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            forwarded = httpx.Request(request.method, request.url, headers=request.headers, content=body())
            response = await self._asgi.handle_async_request(forwarded)
            content = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
            return response.status_code, response.headers.raw, content

        status, headers, content = self._portal.call(send)
        return httpx.Response(status, headers=headers, content=content, request=request)


class AppServer:
    """A node running in this process, with the conveniences of :class:`vaultjobs.testing.LiveServer`.

    ``settings`` are :class:`~vaultjobs.settings.Settings` fields; ``clock`` replaces the system clock
    for the API and the engine alike. Tests log in often, so the auth burst limit is 1000 a minute
    unless a test sets it (then its delay of half a second starts at 500, not at 10).
    """

    def __init__(self, data_dir: Path, *, clock: Clock | None = None, **settings: Any) -> None:
        settings.setdefault("admin_password", ADMIN_PASSWORD)
        settings.setdefault("auth_attempts_per_minute", 1000)
        self.settings = Settings(data_dir=data_dir, **settings)
        self.data_dir = data_dir
        self.admin_password = ADMIN_PASSWORD
        self.clock = clock
        self.url = BASE_URL
        self._stack = ExitStack()
        self.node: Node | None = None
        self._transport: PortalTransport | None = None

    def start(self) -> AppServer:
        node = build_node(self.settings, clock=self.clock)
        self._stack.callback(node.store.close)
        bootstrap_admin(node.accounts, self.settings)
        load_definitions_file(node)
        portal = self._stack.enter_context(anyio.from_thread.start_blocking_portal())
        # What ``serve`` does in the app's lifespan: the engine runs while the app answers.
        node.engine.start()
        self._stack.callback(node.engine.stop)
        self.node = node
        self._transport = PortalTransport(node.app, portal)
        return self

    def stop(self) -> None:
        self._stack.close()
        self.node = None

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- conveniences for tests (as LiveServer's) -------------------------------------------

    def client(self, **kwargs: Any) -> httpx.Client:
        assert self._transport is not None, "the server is not started"
        return httpx.Client(transport=self._transport, base_url=BASE_URL, **kwargs)

    @property
    def running(self) -> Node:
        assert self.node is not None, "the server is not started"
        return self.node

    def login(self, username: str = "admin", password: str | None = None, version: str = V) -> str:
        with self.client() as http:
            body = http.post(
                f"/api/{version}/auth", data={"username": username, "password": password or self.admin_password}
            ).json()
        if body.get("responseStatus") != "SUCCESS":
            raise RuntimeError(f"login as {username} failed: {body}")
        return str(body["sessionId"])

    def add_user(self, name: str, password: str, *, timezone: str = "UTC", admin: bool = False) -> None:
        self.running.accounts.add_user(name, password, timezone=timezone, is_admin=admin)

    def deactivate_user(self, name: str) -> None:
        store = self.running.store
        user = store.users.get_user_by_name(name)
        assert user is not None
        store.users.set_active(user.id, False)

    def wait_for_status(
        self, token: str, job_id: int, predicate: Callable[[str], bool], timeout: float = 30.0
    ) -> dict[str, Any]:
        """Poll the status endpoint until ``predicate(status)``; return ``data``.

        A job that does not exist yet (a schedule's next instance, say) is waited for too.
        """
        deadline = time.monotonic() + timeout
        with self.client(headers={"Authorization": token}) as http:
            while True:
                body = http.get(f"/api/{V}/services/jobs/{job_id}").json()
                if body["responseStatus"] == "SUCCESS":
                    data: dict[str, Any] = body["data"]
                    if predicate(data["status"]):
                        return data
                elif body["errors"][0]["type"] not in ("API_LIMIT_EXCEEDED", "INVALID_DATA") or (
                    body["errors"][0]["type"] == "INVALID_DATA" and "does not exist" not in body["errors"][0]["message"]
                ):
                    raise RuntimeError(f"status of job {job_id} failed: {body}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"job {job_id} did not reach the wanted status; last: {body}")
                time.sleep(0.02)


AppServerFactory = Callable[..., AbstractContextManager[AppServer]]


@contextmanager
def asgi_client(app: Any, **kwargs: Any) -> Iterator[httpx.Client]:
    """An httpx client of ``app`` run on an event loop of its own, for apps without a node."""
    with anyio.from_thread.start_blocking_portal() as portal, httpx.Client(
        transport=PortalTransport(app, portal), base_url=BASE_URL, **kwargs
    ) as client:
        yield client


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Argon2 with its lowest cost: these tests log in hundreds of times, and the hashing cost (tuned
    to slow down password guessing) is not what they test. The hashes are real argon2 hashes."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        yield


@pytest.fixture(scope="session")
def sample_processors() -> str:
    """The name of the module of sample processors the live-server tests load too."""
    if str(SAMPLE_PROCESSORS) not in sys.path:
        sys.path.insert(0, str(SAMPLE_PROCESSORS))
    return "sample_processors"


@pytest.fixture(scope="session")
def app_server_factory(vaultjobs_new_database: Callable[[], str]) -> AppServerFactory:
    """``make(folder, **settings)``: an :class:`AppServer` on a fresh database of this backend, to use
    as a context manager (module fixtures share one; a test that needs its own settings makes one)."""

    def make(folder: Path, **settings: Any) -> AppServer:
        settings.setdefault("database_url", vaultjobs_new_database())
        return AppServer(folder, **settings)

    return make


@pytest.fixture(scope="module")
def app_server(
    tmp_path_factory: pytest.TempPathFactory, app_server_factory: AppServerFactory
) -> Iterator[AppServer]:
    """One in-process node per test module, status window 0.5 s."""
    with app_server_factory(tmp_path_factory.mktemp("app"), status_window=0.5, workers=2, poll_interval=0.2) as srv:
        yield srv


@pytest.fixture
def app_client(app_server: AppServer) -> Iterator[httpx.Client]:
    """An httpx client of the module's in-process node."""
    with app_server.client() as client:
        yield client


@pytest.fixture(scope="session")
def content_server(app_server_factory: AppServerFactory) -> Callable[..., AbstractContextManager[AppServer]]:
    """``content_server(folder, status_window=…)``: a node with the document, binder and submission
    processors, and the users ``alice`` and ``bob`` besides ``admin``."""
    @contextmanager
    def make(folder: Path, **settings: Any) -> Iterator[AppServer]:
        with app_server_factory(folder, processors=CONTENT_PROCESSORS, **settings) as srv:
            srv.add_user("alice", "alice-password")
            srv.add_user("bob", "bob-password")
            yield srv

    return make
