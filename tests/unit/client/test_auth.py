from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from vaultjobs.client import (
    AuthenticationFailed,
    InvalidSession,
    SessionExpired,
    VaultClient,
)
from vaultjobs.client.testing import FakeVault


def test_logs_in_lazily_on_first_call_and_sends_the_session(client: VaultClient, vault: FakeVault) -> None:
    assert client.session is None
    list(client.histories())
    assert vault.logins == 1
    auth, call = vault.requests
    assert auth.url.path == "/api/v25.3/auth"
    assert auth.headers["content-type"] == "application/x-www-form-urlencoded"
    assert client.session is not None
    assert call.headers["authorization"] == client.session.session_id


def test_login_returns_the_session(client: VaultClient) -> None:
    session = client.login()
    assert session.user_id == 61603 and session.vault_id == 1776
    assert "session_id" not in repr(session)  # the secret is not printed


def test_bad_password_raises_authentication_failed(make_client: Callable[..., VaultClient]) -> None:
    client = make_client(password="wrong")
    with pytest.raises(AuthenticationFailed) as info:
        list(client.histories())
    assert info.value.type == "USERNAME_OR_PASSWORD_INCORRECT"
    assert info.value.body["errorType"] == "AUTHENTICATION_FAILED"


def test_invalid_session_re_authenticates_once_and_replays(client: VaultClient, vault: FakeVault) -> None:
    client.login()
    vault.expire_sessions()
    entries = list(client.histories())
    assert entries == []
    assert vault.logins == 2
    paths = [r.url.path for r in vault.requests]
    assert paths == [
        "/api/v25.3/auth",
        "/api/v25.3/services/jobs/histories",  # INVALID_SESSION_ID
        "/api/v25.3/auth",
        "/api/v25.3/services/jobs/histories",  # replayed with the new session
    ]
    assert vault.requests[-1].headers["authorization"] in vault.sessions


def test_replay_keeps_the_request_body(client: VaultClient, vault: FakeVault) -> None:
    job_id = vault.add_job(["SCHEDULED"])
    client.login()
    vault.expire_sessions()
    [outcome] = client.cancel(job_id)
    assert outcome.accepted
    assert (
        vault.requests[-1].content
        == vault.requests[-3].content
        == b'[{"job_id":' + str(job_id).encode() + b"}]"
    )


def test_second_invalid_session_after_re_auth_is_raised(client: VaultClient, vault: FakeVault) -> None:
    client.login()
    vault.fail_next("INVALID_SESSION_ID")
    vault.fail_next_raw(
        httpx.Response(200, json={"responseStatus": "SUCCESS", "sessionId": "new", "userId": 1})
    )
    vault.fail_next("INVALID_SESSION_ID")
    with pytest.raises(InvalidSession) as info:
        list(client.histories())
    assert not isinstance(info.value, SessionExpired)
    assert len(vault.requests) == 4  # login, call, re-login, replay; nothing more


def test_session_id_only_raises_session_expired(
    make_client: Callable[..., VaultClient], vault: FakeVault
) -> None:
    client = make_client(session_id="stale")
    with pytest.raises(SessionExpired) as info:
        list(client.histories())
    assert info.value.type == "INVALID_SESSION_ID"
    assert vault.logins == 0
    assert [r.url.path for r in vault.requests] == ["/api/v25.3/services/jobs/histories"]


def test_session_id_works_without_logging_in(
    make_client: Callable[..., VaultClient], vault: FakeVault
) -> None:
    session_id = vault.new_session()
    client = make_client(session_id=session_id)
    list(client.histories())
    assert vault.logins == 0
    assert vault.requests[0].headers["authorization"] == session_id


def test_saved_session_falls_back_to_credentials(
    make_client: Callable[..., VaultClient], vault: FakeVault
) -> None:
    client = make_client(session_id="stale", username="user", password="pass")
    list(client.histories())
    assert vault.logins == 1
    assert client.session is not None and client.session.session_id != "stale"


def test_needs_a_session_or_credentials(make_client: Callable[..., VaultClient]) -> None:
    with pytest.raises(ValueError):
        make_client(username=None, password=None)


def test_client_id_always_sent_and_reference_id_optional(
    make_client: Callable[..., VaultClient], vault: FakeVault
) -> None:
    list(make_client().histories())
    list(make_client(client_id="acme.etl-1", reference_id="run-42").histories())
    plain_auth, plain_call, ref_auth, ref_call = vault.requests
    for request in (plain_auth, plain_call):
        assert request.headers["x-vaultapi-clientid"] == "vaultjobs-client"
        assert "x-vaultapi-referenceid" not in request.headers
    for request in (ref_auth, ref_call):
        assert request.headers["x-vaultapi-clientid"] == "acme.etl-1"
        assert request.headers["x-vaultapi-referenceid"] == "run-42"
        assert request.headers["accept"] == "application/json"


@pytest.mark.parametrize("client_id", ["", "has space", "x" * 101, "ümlaut"])
def test_invalid_client_ids_are_rejected(make_client: Callable[..., VaultClient], client_id: str) -> None:
    with pytest.raises(ValueError):
        make_client(client_id=client_id)


def test_default_timeouts_are_short(make_client: Callable[..., VaultClient], vault: FakeVault) -> None:
    list(make_client().histories())
    for request in vault.requests:
        timeout = request.extensions["timeout"]
        assert timeout["connect"] == 5.0 and timeout["read"] == 30.0


def test_a_timeout_in_seconds_covers_every_phase(
    make_client: Callable[..., VaultClient], vault: FakeVault
) -> None:
    list(make_client(timeout=7.5).histories())
    assert set(vault.requests[-1].extensions["timeout"].values()) == {7.5}


def test_no_timeout_is_refused(connect: Callable[..., VaultClient]) -> None:
    with pytest.raises(ValueError):
        connect("https://x.veevavault.com", session_id="s", timeout=None)


def test_dns_builds_an_https_url(connect: Callable[..., VaultClient]) -> None:
    with connect(dns="myvault.veevavault.com", session_id="s", api_version="26.1") as client:
        assert client.base_url == "https://myvault.veevavault.com/"
        assert client.api_version == "v26.1"


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"url": "https://a", "dns": "b"}, {"url": "ftp://a"}, {"url": "https://a", "api_version": "latest"}],
)
def test_bad_locations_are_rejected(connect: Callable[..., VaultClient], kwargs: dict[str, str]) -> None:
    kwargs = dict(kwargs)  # the parameter is shared by the sync and the async run
    url = kwargs.pop("url", None)
    with pytest.raises(ValueError):
        connect(url, session_id="s", **kwargs)


def test_url_prefix_is_kept(connect: Callable[..., VaultClient]) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={"responseStatus": "SUCCESS", "sessionId": "s"})

    with connect("https://proxy.example/vault", username="u", password="p",
                 transport=httpx.MockTransport(handler)) as client:  # fmt: skip
        client.login()
        client.keep_alive()
    assert seen == ["/vault/api/v25.3/auth", "/vault/api/v25.3/keep-alive"]


def test_logout_ends_the_session(client: VaultClient, vault: FakeVault) -> None:
    client.login()
    client.logout()
    assert client.session is None
    assert vault.sessions == set()
    assert vault.requests[-1].method == "DELETE"


def test_cookies_the_server_sets_are_sent_back(connect: Callable[..., VaultClient]) -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        body = {"responseStatus": "SUCCESS", "sessionId": "s"}
        return httpx.Response(200, json=body, headers={"Set-Cookie": "lb=node-2; Path=/"})

    with connect("https://x.veevavault.com", username="u", password="p",
                 transport=httpx.MockTransport(handler)) as client:  # fmt: skip
        client.login()
        client.keep_alive()
    assert seen == [None, "lb=node-2"]  # a load balancer's affinity cookie, as a browser would
