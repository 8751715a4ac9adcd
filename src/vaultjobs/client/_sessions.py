"""Saved sessions of the ``vaultjobs`` CLI: ``$XDG_CONFIG_HOME/vaultjobs/sessions.json`` (default
``~/.config/vaultjobs/sessions.json``), a JSON object keyed by Vault base URL, file mode 0600 in a
0700 directory. Written by ``vaultjobs login``; read by every other command."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import orjson

__all__ = ["SavedSession", "load_session", "save_session", "sessions_path"]

SavedSession = dict[str, Any]


def sessions_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "vaultjobs" / "sessions.json"


def _read(path: Path) -> dict[str, SavedSession]:
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def load_session(base_url: str) -> SavedSession | None:
    entry = _read(sessions_path()).get(base_url)
    return entry if isinstance(entry, dict) and isinstance(entry.get("session_id"), str) else None


def save_session(base_url: str, *, session_id: str, username: str | None, user_id: int | None) -> Path:
    path = sessions_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = _read(path)
    data[base_url] = {
        "session_id": session_id,
        "username": username,
        "user_id": user_id,
        "saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path
