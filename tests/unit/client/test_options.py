from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import get_type_hints

import pytest

from vaultjobs.client import AsyncVaultClient, ClientOptions, PollGate, VaultClient
from vaultjobs.client._options import ClientOptionArgs
from vaultjobs.client.testing import FakeClock, FakeVault

URL = "https://fake.vault"


def test_keywords_are_the_option_fields_but_the_url() -> None:
    fields = {field.name for field in dataclasses.fields(ClientOptions)}
    assert set(get_type_hints(ClientOptionArgs)) == fields - {"url"}


def test_options_configure_the_client(connect: Callable[..., VaultClient], vault: FakeVault) -> None:
    options = ClientOptions(url=URL, session_id=vault.new_session(), client_id="acme", poll_margin=0.0)
    client = connect(options=options, transport=vault.transport())
    list(client.histories())
    assert vault.requests[0].headers["x-vaultapi-clientid"] == "acme"
    assert dataclasses.replace(client.options, clock=options.clock) == options  # connect() adds the fake clock


def test_url_and_keywords_override_the_options(connect: Callable[..., VaultClient], vault: FakeVault) -> None:
    options = ClientOptions(url="https://elsewhere", username="user", password="pass", client_id="acme")
    client = connect(URL, options=options, client_id="acme-2", transport=vault.transport())
    list(client.histories())
    assert client.base_url == URL + "/"
    assert vault.requests[-1].headers["x-vaultapi-clientid"] == "acme-2"
    assert options.client_id == "acme"  # options are a value: not changed by the client


def test_a_url_with_options_that_name_a_dns_is_refused(connect: Callable[..., VaultClient]) -> None:
    with pytest.raises(ValueError, match="not both"):
        connect(URL, options=ClientOptions(dns="myvault.veevavault.com", session_id="s"))


def test_an_unknown_keyword_is_refused(connect: Callable[..., VaultClient]) -> None:
    with pytest.raises(TypeError):
        connect(URL, session_id="s", poll_intervall=20)


def test_options_are_checked_when_a_client_is_built(connect: Callable[..., VaultClient]) -> None:
    options = ClientOptions(url=URL, session_id="s", poll_interval=5.0)  # a value; not checked yet
    with pytest.raises(ValueError, match="below the minimum"):
        connect(options=options)


def test_secrets_are_not_in_the_repr() -> None:
    text = repr(ClientOptions(url=URL, username="me", password="hunter2", session_id="sess-secret"))
    assert "hunter2" not in text and "sess-secret" not in text and "me" in text


def test_one_options_value_serves_both_clients(clock: FakeClock, vault: FakeVault) -> None:
    import asyncio

    gate = PollGate(10.0, clock=clock)
    options = ClientOptions(url=URL, username="user", password="pass", clock=clock, poll_gate=gate)
    job_id = vault.add_job(["RUNNING"])
    with VaultClient(options=options, transport=vault.transport(), sleep=clock.sleep) as sync_client:
        sync_client.status(job_id)

    async def main() -> None:
        async with AsyncVaultClient(options=options, transport=vault.transport(), sleep=clock.async_sleep) as client:
            await client.status(job_id)

    asyncio.run(main())
    assert vault.status_calls[job_id] == [1000.0, 1010.0]  # the shared gate spaced the two clients
