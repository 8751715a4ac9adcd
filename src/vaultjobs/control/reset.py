"""``POST /reset``: the server back to a known state, then a seed applied.

Reset empties jobs (with their tasks, logs and schedules), sessions, status windows, content
(file staging included), object records (the catalog goes back to the standard objects), limits,
scripts, fault rules and the request journal (one transaction,
:func:`~vaultjobs.store.control_reset.wipe`), and resets the clock; the admin user stays, with its
password. Every replica's per-process state follows: the session caches through the session
epoch, the cached catalog through its revision, the status windows of a SQLite side file through
the file itself. The event log stays, so that an event stream misses nothing that came just before a reset; the
``reset`` event marks it.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vaultjobs.content.files import HIDDEN_PREFIX, FileStaging
from vaultjobs.control.responses import control_endpoint, control_json, read_json
from vaultjobs.control.seed import ADMIN, SeedError, seeder_of
from vaultjobs.objects.catalog import Catalog
from vaultjobs.objects.codec import catalog_to_json
from vaultjobs.store.control_reset import wipe

if TYPE_CHECKING:
    from vaultjobs.api.services import Services

#: The ``default`` seed: a second user, two studies, two documents with files and a binder of them.
DEFAULT_SEED: dict[str, Any] = {
    "users": [{"username": "vault.user", "password": "vault-user-password", "timezone": "America/New_York"}],
    "records": {"study__v": [{"name__v": "CHOLECAP-301"}, {"name__v": "CHOLECAP-302"}]},
    "documents": [
        {"fields": {"name__v": "Cholecap Brochure", "type__v": "Promotional Piece",
                    "lifecycle__v": "General Lifecycle"},
         "file": {"filename": "cholecap-brochure.txt", "text": "Cholecap: the brochure.\n"}},
        {"fields": {"name__v": "Cholecap Protocol", "type__v": "Trial Document", "lifecycle__v": "General Lifecycle"},
         "file": {"filename": "cholecap-protocol.txt", "text": "Cholecap 301: the protocol.\n"}},
    ],
    "binders": [
        {"fields": {"name__v": "Cholecap Binder", "type__v": "Binder", "lifecycle__v": "Binder Lifecycle"},
         "documents": ["Cholecap Brochure", "Cholecap Protocol"]},
    ],
}
SEEDS: dict[str, dict[str, Any]] = {"empty": {}, "default": DEFAULT_SEED}


def reset(services: Services) -> None:
    """Empty the store and every node's caches of it; the admin user stays."""
    plane = services.control
    assert plane is not None
    store = services.store
    with contextlib.ExitStack() as held:
        for hold in plane.around_reset:
            held.enter_context(hold())
        wipe(store.dialect, keep_user=ADMIN, standard_catalog=catalog_to_json(Catalog.standard()),
             now=plane.clock.now())
    store.status_windows.clear()
    empty_file_staging(FileStaging(services.settings.data_dir).root)
    plane.publish("reset", {})
    plane.wake_engine()


def empty_file_staging(root: Path) -> None:
    """Remove every item of file staging (exports, uploads; every user's folder); the folder stays, with
    the hidden one where files being written wait (a cluster's nodes share it)."""
    if not root.is_dir():
        return
    for item in root.iterdir():
        if item.name.startswith(HIDDEN_PREFIX):
            continue
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item, ignore_errors=True)
        else:
            item.unlink(missing_ok=True)


def routes(services: Services) -> Sequence[BaseRoute]:
    """``POST /reset`` with an optional ``{"seed": "empty" | "default" | <seed document>}``."""
    import anyio.to_thread

    plane = services.control
    assert plane is not None
    seeder = seeder_of(services)

    @control_endpoint
    async def reset_and_seed(request: Request) -> Response:
        seed = (await read_json(request, required=False)).get("seed", "default")
        if isinstance(seed, str):
            if seed not in SEEDS:
                raise SeedError(f"seed [{seed}] is not empty, default or a seed document")
            seed = SEEDS[seed]
        if not isinstance(seed, dict):
            raise SeedError("seed must be empty, default or a seed document")
        await anyio.to_thread.run_sync(reset, services)
        created = await anyio.to_thread.run_sync(seeder.apply, seed)
        plane.publish("seed", created.answer()["created"])
        return control_json({"reset": True, "seeded": created.answer()})

    return [Route("/reset", reset_and_seed, methods=["POST"])]
