"""Vault's file staging endpoints: list items at a path, download an item's content, create a file or
folder.

Paths are the caller's (see :class:`~vaultjobs.content.files.FileStaging`): a non-admin's ``/`` is
their own ``u{id}`` folder, an admin's is the root holding every user's folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from starlette.responses import FileResponse, Response

from vaultjobs import errors
from vaultjobs.api.endpoint import Call
from vaultjobs.api.params import int_param
from vaultjobs.api.routes.content_api import MAX_STAGING_UPLOAD_BYTES, ContentRoutes, parse_bool, read_upload
from vaultjobs.content.files import HIDDEN_PREFIX, BadPath, FileTooLarge
from vaultjobs.models import User
from vaultjobs.timeutil import from_ms, render_datetime

MAX_LIMIT = 1000


class FileStagingRoutes(ContentRoutes):
    def _resolve(self, user: User, path: str) -> Path:
        try:
            return self.repo.staging.resolve(user.id, user.is_admin, path)
        except BadPath as exc:
            raise errors.InvalidData(str(exc)) from exc

    def _item(self, user: User, disk: Path, stat: os.stat_result | None = None) -> dict[str, Any]:
        shown = self.repo.staging.shown_path(user.id, user.is_admin, disk)
        if disk.is_dir():
            return {"kind": "folder", "path": shown, "name": disk.name}
        stat = stat or disk.stat()
        return {
            "kind": "file",
            "path": shown,
            "name": disk.name,
            "size": stat.st_size,
            "modified_date": render_datetime(from_ms(int(stat.st_mtime * 1000))),
        }

    def _walk(self, user: User, folder: Path, recursive: bool) -> list[dict[str, Any]]:
        """Items in a folder, sorted by name; with ``recursive``, each folder followed by its contents."""
        items: list[dict[str, Any]] = []
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except FileNotFoundError:
            return items
        for entry in entries:
            if entry.name.startswith(HIDDEN_PREFIX):
                continue  # a copy being written
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                items.append(self._item(user, path))
                if recursive:
                    items.extend(self._walk(user, path, recursive))
            elif entry.is_file(follow_symlinks=False):
                items.append(self._item(user, path, entry.stat(follow_symlinks=False)))
        return items

    def list_items(self, call: Call) -> dict[str, Any]:
        """List Items at a Path (``recursive``, ``limit`` 1–1000, and the ``cursor`` of ``next_page``)."""
        user = call.require_user()
        path = str(call.path_params.get("item", ""))
        recursive = parse_bool(call.query, "recursive", False)
        limit = int_param(call.query, "limit", MAX_LIMIT, 1, MAX_LIMIT)
        cursor = int_param(call.query, "cursor", 0, 0, 10**9)
        disk = self._resolve(user, path)
        own_root = disk == self.repo.staging.base(user.id, user.is_admin)
        if disk.is_file():
            items = [self._item(user, disk)]
        elif disk.is_dir() or own_root:
            items = self._walk(user, disk, recursive)
        else:
            raise errors.InvalidData(f"The item [{path[:200]}] does not exist in file staging")
        payload: dict[str, Any] = {"data": items[cursor : cursor + limit]}
        if cursor + limit < len(items):
            query = urlencode({"cursor": cursor + limit, "limit": limit, "recursive": str(recursive).lower()})
            base = str(call.request.base_url).rstrip("/")
            shown = quote(path.strip("/"), safe="/")
            suffix = f"/{shown}" if shown else ""
            payload["responseDetails"] = {
                "next_page": f"{base}/api/{call.version}/services/file_staging/items{suffix}?{query}"
            }
        return payload

    def download(self, call: Call) -> Response:
        """Download Item Content (``Range`` requests answered with 206 and ``Content-Range``)."""
        user = call.require_user()
        path = str(call.path_params.get("item", ""))
        disk = self._resolve(user, path)
        if not disk.is_file():
            raise errors.InvalidData(f"The file [{path[:200]}] does not exist in file staging")
        return FileResponse(
            disk, media_type="application/octet-stream;charset=UTF-8", filename=disk.name,
            content_disposition_type="attachment",
        )

    def create(self, call: Call) -> dict[str, Any]:
        """Create Folder or File (multipart ``kind``, ``path``, ``overwrite``, ``file``; files up to 50 MB)."""
        user = call.require_user()
        upload = read_upload(call, MAX_STAGING_UPLOAD_BYTES + 1024 * 1024)
        try:
            kind = upload.fields.get("kind")
            path = upload.fields.get("path")
            if not kind:
                raise errors.ParameterRequired.named("kind")
            if not path:
                raise errors.ParameterRequired.named("path")
            if kind not in ("file", "folder"):
                raise errors.InvalidData("Invalid value for [kind]: file or folder")
            overwrite = parse_bool(upload.fields, "overwrite", False)
            disk = self._resolve(user, path)
            if disk == self.repo.staging.base(user.id, user.is_admin):
                raise errors.InvalidData("Invalid value for [path]: name a file or folder, not the root")
            shown = self.repo.staging.shown_path(user.id, user.is_admin, disk)
            if kind == "folder":
                if disk.exists():
                    raise errors.InvalidData(f"The item [{shown}] already exists")
                try:
                    disk.mkdir(parents=True)
                except OSError as exc:
                    raise errors.InvalidData(f"The folder [{shown}] cannot be created: {exc.strerror}") from exc
                return {"data": {"kind": "folder", "path": shown + "/", "name": disk.name}}
            if upload.file is None:
                raise errors.ParameterRequired.named("file")
            if disk.is_dir() or (disk.exists() and not overwrite):
                raise errors.InvalidData(f"The item [{shown}] already exists; send overwrite=true to replace a file")
            try:
                size, md5 = self.repo.staging.put(upload.file.file, disk, MAX_STAGING_UPLOAD_BYTES)
            except FileTooLarge as exc:
                raise errors.InvalidData(f"Files up to {MAX_STAGING_UPLOAD_BYTES} bytes can be uploaded") from exc
            except (NotADirectoryError, FileExistsError, IsADirectoryError) as exc:
                raise errors.InvalidData(f"The file [{shown}] cannot be created: {exc.strerror}") from exc
        finally:
            upload.close()
        return {"data": {"kind": "file", "path": shown, "name": disk.name, "size": size, "file_content_md5": md5}}
