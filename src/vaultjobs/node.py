"""One vaultjobs node: store, processors, accounts, engine and API wired together, and how it runs."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import os
import secrets
import signal
import socket
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette

from vaultjobs.accounts import Accounts
from vaultjobs.api import create_app
from vaultjobs.api.services import Services
from vaultjobs.control import transitions
from vaultjobs.control.clock import StoreClock
from vaultjobs.control.limits import Limits
from vaultjobs.control.plane import ControlPlane
from vaultjobs.definitions import DefinitionError, load_definitions
from vaultjobs.engine import Engine
from vaultjobs.registry import Registry
from vaultjobs.settings import Settings
from vaultjobs.store import Store, StoreError, UserExists, open_store
from vaultjobs.timeutil import Clock, SystemClock

logger = logging.getLogger(__name__)

ADMIN_USERNAME = "admin"


@dataclass
class Node:
    settings: Settings
    store: Store
    registry: Registry
    accounts: Accounts
    engine: Engine
    app: Starlette
    clock: Clock


def open_migrated_store(settings: Settings) -> Store:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.resolved_database_url, pool_size=settings.database_pool_size)
    try:
        applied = store.migrate()
    except StoreError:
        store.close()
        raise
    except Exception as exc:
        store.close()
        raise StoreError(f"cannot migrate the store: {exc}") from exc
    if applied:
        logger.info("applied schema migrations %s", applied)
    return store


def bootstrap_admin(accounts: Accounts, settings: Settings) -> str | None:
    """Create ``admin`` on first start; return the password when it was generated here.

    Nodes that start together on one empty store all find no user and all try; the first to
    commit creates ``admin`` and the others take the user it made, so every replica comes up.
    """
    if accounts.store.users.count_users():
        return None
    generated = settings.admin_password is None
    password = settings.admin_password or secrets.token_urlsafe(18)
    try:
        accounts.add_user(ADMIN_USERNAME, password, timezone="UTC", is_admin=True)
    except UserExists:
        if accounts.store.users.get_user_by_name(ADMIN_USERNAME) is None:
            raise
        logger.info("user '%s' was created by another node starting at the same time", ADMIN_USERNAME)
        return None
    if not generated:
        return None
    path = settings.data_dir / "admin-password"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    os.chmod(path, 0o600)
    return password


def build_node(settings: Settings, *, clock: Clock | None = None, run_scheduler: bool = True) -> Node:
    """The node's parts. With the control plane on, its clock is the store's virtual clock (``clock``,
    or the system clock, keeps the nodes' own bookkeeping) and its limits may be changed at run time."""
    real = clock or SystemClock()
    store = open_migrated_store(settings)
    registry = Registry.discover(settings.processors)
    plane = None
    limits = Limits(settings)
    if settings.control_plane:
        limits = Limits(settings, store.control_limits)
        clock = StoreClock(store.control_clock, real)
        plane = ControlPlane(store=store, settings=settings, clock=clock, limits=limits)
    clock = clock or real
    accounts = Accounts(store, settings, clock, limits=limits)
    hold = None if plane is None else functools.partial(transitions.holder, plane)
    engine = Engine(store=store, registry=registry, settings=settings, clock=clock, run_scheduler=run_scheduler,
                    limits=limits, infra_clock=real, hold=hold)
    if plane is not None:
        plane.engine = engine
        engine.time_hooks.append(lambda now: transitions.step_due(plane, now))
    services = Services(
        store=store, accounts=accounts, registry=registry, settings=settings, clock=clock, notify=engine.notify,
        limits=limits, control=plane,
        notify_queued=engine.notify_queued,
    )
    app = create_app(services)
    return Node(settings=settings, store=store, registry=registry, accounts=accounts, engine=engine, app=app,
                clock=clock)


def load_definitions_file(node: Node) -> None:
    """Load the definitions file named by the settings (if any) and wake the scheduler."""
    path = node.settings.definitions
    if path is None:
        return
    report = load_definitions(path, node.store, node.clock.now())
    logger.info("job definitions loaded from %s: %s%s", path, ", ".join(report.loaded) or "none",
                f"; disabled {', '.join(report.disabled)}" if report.disabled else "")
    node.engine.notify()


def reload_on_sighup(node: Node) -> None:
    """SIGHUP reloads the definitions file; a broken file is logged and the loaded definitions stay."""
    if node.settings.definitions is None or not hasattr(signal, "SIGHUP"):
        return

    def reload() -> None:
        try:
            load_definitions_file(node)
        except DefinitionError as exc:
            logger.error("definitions not reloaded: %s", exc)

    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=reload, name="vaultjobs-reload").start())


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only for sockets
    # whose protocol says TCP, and without it every response waits out delayed ACKs (~40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def server_stack() -> tuple[Literal["httptools", "h11"], Literal["uvloop", "asyncio"]]:
    """uvicorn's C HTTP parser and event loop where they are installed (the ``server`` extra brings them):
    several times less CPU per request than its pure-Python ``h11`` and asyncio defaults."""
    http_c = importlib.util.find_spec("httptools") is not None
    loop_c = importlib.util.find_spec("uvloop") is not None
    return ("httptools" if http_c else "h11"), ("uvloop" if loop_c else "asyncio")


def serve(settings: Settings, *, announce: bool = True) -> None:
    """Run API, scheduler and workers in this process until SIGINT/SIGTERM."""
    node = build_node(settings)
    generated = bootstrap_admin(node.accounts, settings)
    load_definitions_file(node)
    if settings.seed is not None:
        from vaultjobs.control.seed import apply_seed_file

        created = apply_seed_file(settings.seed, node.store, settings, node.clock)
        logger.info("seed %s applied: %s", settings.seed, created.answer()["created"])
    reload_on_sighup(node)
    if generated and announce:
        print(
            f"Created user 'admin' with password {generated}\n"
            f"(saved in {Path(settings.data_dir) / 'admin-password'}, readable only by you)",
            flush=True,
        )
    sock = bind_socket(settings.host, settings.port)
    host, port = sock.getsockname()[:2]

    closing = threading.Lock()
    closed = False

    def close_store() -> None:
        nonlocal closed
        with closing:
            if not closed:
                closed = True
                node.store.close()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Inside the server's own lifespan, so that the engine stops and the store closes (a sole user
        # of the SQLite status windows writes them out) before uvicorn re-raises the signal that
        # stopped it, which ends the process.
        node.engine.start()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(node.engine.stop)
            await anyio.to_thread.run_sync(close_store)

    node.app.router.lifespan_context = lifespan
    http, loop = server_stack()
    config = uvicorn.Config(
        node.app,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=5,
        http=http,
        loop=loop,
        root_path=settings.root_path,
    )
    server = uvicorn.Server(config)
    # Long answers (the control plane's event stream) end when they see this, not at the grace timeout.
    node.app.state.stopping = lambda: server.should_exit
    shown_host = f"[{host}]" if ":" in host else host
    if announce:
        print(f"vaultjobs listening on http://{shown_host}:{port}", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        close_store()
        sock.close()


def run_worker(settings: Settings) -> None:
    """Run only workers (and the sweeper) in this process until SIGINT/SIGTERM."""
    node = build_node(settings, run_scheduler=False)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    node.engine.start()
    print(f"vaultjobs worker {node.engine.worker_id} running {settings.workers} threads", flush=True)
    try:
        stop.wait()
    finally:
        node.engine.stop()
        node.store.close()
