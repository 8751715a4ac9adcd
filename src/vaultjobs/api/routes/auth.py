"""Authentication and session endpoints: auth, keep-alive, session, users/me, and the version list."""

from __future__ import annotations

from typing import Any

from vaultjobs.api.endpoint import Call
from vaultjobs.api.services import Services
from vaultjobs.api.versions import SUPPORTED_VERSIONS


class AuthRoutes:
    def __init__(self, services: Services) -> None:
        self.s = services

    def _base_url(self, call: Call) -> str:
        return str(call.request.base_url).rstrip("/")

    def auth(self, call: Call) -> dict[str, Any]:
        login = self.s.accounts.login(call.form.get("username"), call.form.get("password"))
        call.user = login.user
        vault_id = 1
        return {
            "sessionId": login.token,
            "userId": login.user.id,
            "vaultIds": [{"id": vault_id, "name": "vaultjobs", "url": f"{self._base_url(call)}/api"}],
            "vaultId": vault_id,
        }

    def keep_alive(self, call: Call) -> dict[str, Any]:
        call.require_user()
        return {}

    def end_session(self, call: Call) -> dict[str, Any]:
        call.require_user()
        assert call.session_hash is not None
        self.s.accounts.logout(call.session_hash)
        return {}

    def me(self, call: Call) -> dict[str, Any]:
        user = call.require_user()
        return {
            "users": [
                {
                    "user": {
                        "id": user.id,
                        "user_name__v": user.username,
                        "user_timezone__v": user.timezone,
                        "active__v": user.active,
                        "security_profile__v": "system_admin__v" if user.is_admin else "document_user__v",
                        "vault_id__v": 1,
                    }
                }
            ]
        }

    def versions(self, call: Call) -> dict[str, Any]:
        call.require_user()
        base = self._base_url(call)
        return {"values": {v: f"{base}/api/{v}" for v in SUPPORTED_VERSIONS}}
