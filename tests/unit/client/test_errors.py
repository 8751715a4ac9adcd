from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from vaultjobs.client import (
    AccessDenied,
    AuthenticationFailed,
    HTTPStatusError,
    InvalidRequest,
    InvalidSession,
    OperationNotAllowed,
    RateLimited,
    ServerError,
    SessionExpired,
    TransportError,
    UnexpectedResponse,
    VaultClient,
    VaultClientError,
    VaultError,
)
from vaultjobs.client.testing import FakeVault

# Every error type Vault documents, and the class the client raises for it.
DOCUMENTED = [
    ("UNEXPECTED_ERROR", ServerError),
    ("MALFORMED_URL", InvalidRequest),
    ("METHOD_NOT_SUPPORTED", InvalidRequest),
    ("INACTIVE_USER", AuthenticationFailed),
    ("NO_PASSWORD_PROVIDED", AuthenticationFailed),
    ("USERNAME_OR_PASSWORD_INCORRECT", AuthenticationFailed),
    ("USER_LOCKED_OUT", AuthenticationFailed),
    ("PASSWORD_CHANGE_REQUIRED", AuthenticationFailed),
    ("INVALID_SESSION_ID", InvalidSession),
    ("PARAMETER_REQUIRED", InvalidRequest),
    ("INVALID_DATA", InvalidRequest),
    ("INSUFFICIENT_ACCESS", AccessDenied),
    ("OPERATION_NOT_ALLOWED", OperationNotAllowed),
    ("ATTRIBUTE_NOT_SUPPORTED", InvalidRequest),
    ("INVALID_FILTER", InvalidRequest),
    ("INCORRECT_QUERY_SYNTAX_ERROR", InvalidRequest),
    ("RACE_CONDITION", OperationNotAllowed),
    ("EXCEEDS_FILE_MAX_SIZE", InvalidRequest),
    ("API_LIMIT_EXCEEDED", RateLimited),
    ("CONFIGURATION_MODE_ENABLED", OperationNotAllowed),
    ("SDK_ERROR", ServerError),
    ("OPERATION_IN_PROGRESS", OperationNotAllowed),
    ("ITEM_NAME_EXISTS", InvalidRequest),
    ("USER_NOT_FOUND", InvalidRequest),
    ("FEDERATED_ID_ALREADY_EXISTS", InvalidRequest),
]


@pytest.mark.parametrize(("error_type", "error_class"), DOCUMENTED)
def test_each_documented_error_type_raises_its_class(
    make_client: Callable[..., VaultClient], vault: FakeVault, error_type: str, error_class: type[VaultError]
) -> None:
    # A session-id client, so INVALID_SESSION_ID is not retried (with a password it would be; see test_auth).
    client = make_client(session_id=vault.new_session())
    if error_class is InvalidSession:
        error_class = SessionExpired  # the InvalidSession raised when there is nothing to log in with
    vault.fail_next(error_type, f"message for {error_type}")
    with pytest.raises(error_class) as info:
        client.request("GET", "services/jobs/histories")
    error = info.value
    assert type(error) is error_class  # never collapsed into a generic error
    assert error.type == error_type
    assert error.errors[0].message == f"message for {error_type}"
    assert b"message for" in error.raw
    assert isinstance(error, VaultClientError)


def test_unlisted_error_type_is_a_plain_vault_error_with_its_type(
    client: VaultClient, vault: FakeVault
) -> None:
    client.login()
    vault.fail_next("SOMETHING_NEW")
    with pytest.raises(VaultError) as info:
        client.request("GET", "services/jobs/histories")
    assert type(info.value) is VaultError and info.value.type == "SOMETHING_NEW"


def test_exception_status_without_known_type_is_a_server_error(client: VaultClient, vault: FakeVault) -> None:
    client.login()
    vault.fail_next("WHO_KNOWS", response_status="EXCEPTION")
    with pytest.raises(ServerError):
        client.request("GET", "services/jobs/histories")


def test_error_keeps_every_error_warning_and_the_raw_body(client: VaultClient, vault: FakeVault) -> None:
    client.login()
    body = {
        "responseStatus": "FAILURE",
        "errors": [
            {"type": "PARAMETER_REQUIRED", "message": "Missing required parameter [a]"},
            {"type": "INVALID_DATA", "message": "bad b"},
        ],
        "warnings": [{"warning_type": "NO_DATA_CHANGES", "message": "w1"}, {"type": "LEVEL_MISMATCH"}],
    }
    vault.fail_next_raw(httpx.Response(200, json=body, headers={"X-VaultAPI-ExecutionId": "exec-9"}))
    with pytest.raises(InvalidRequest) as info:
        client.request("GET", "services/jobs/histories")
    error = info.value
    assert [e.type for e in error.errors] == ["PARAMETER_REQUIRED", "INVALID_DATA"]
    assert [w.type for w in error.warnings] == ["NO_DATA_CHANGES", "LEVEL_MISMATCH"]
    assert error.body == body
    assert error.rate_limit.execution_id == "exec-9"
    assert "Missing required parameter [a]" in str(error)


def test_invalid_session_and_rate_limit_win_over_the_first_error(
    client: VaultClient, vault: FakeVault
) -> None:
    client.login()
    body = {
        "responseStatus": "FAILURE",
        "errors": [{"type": "INVALID_DATA"}, {"type": "API_LIMIT_EXCEEDED"}],
    }
    vault.fail_next_raw(httpx.Response(200, json=body))
    with pytest.raises(RateLimited) as info:
        client.request("GET", "services/jobs/histories")
    assert info.value.type == "INVALID_DATA"  # the first error's type is still reported as is


def test_authentication_failed_flag_without_a_known_type(client: VaultClient, vault: FakeVault) -> None:
    vault.fail_next_raw(
        httpx.Response(
            200,
            json={
                "responseStatus": "FAILURE",
                "errors": [{"type": "X"}],
                "errorType": "AUTHENTICATION_FAILED",
            },
        )
    )
    with pytest.raises(AuthenticationFailed):
        client.login()


def test_rate_limited_body_with_http_429(client: VaultClient, vault: FakeVault) -> None:
    client.login()
    vault.fail_next("API_LIMIT_EXCEEDED", http_status=429, headers={"Retry-After": "4"})
    with pytest.raises(RateLimited) as info:
        client.request("GET", "services/jobs/histories")
    assert info.value.retry_after == 4.0


def test_bare_http_429_is_rate_limited(client: VaultClient, vault: FakeVault) -> None:
    client.login()
    vault.fail_next_raw(httpx.Response(429, text="slow down"))
    with pytest.raises(RateLimited) as info:
        client.request("GET", "services/jobs/histories")
    assert info.value.type == "API_LIMIT_EXCEEDED"
    assert info.value.retry_after == 10.0  # no Retry-After: a full window


def test_http_error_without_vault_body(client: VaultClient, vault: FakeVault) -> None:
    client.login()
    vault.fail_next_raw(httpx.Response(502, text="<html>Bad gateway</html>"))
    with pytest.raises(HTTPStatusError) as info:
        client.request("GET", "services/jobs/histories")
    assert info.value.status_code == 502
    assert not isinstance(info.value, VaultError)


def test_vault_failure_body_on_http_error_status_is_still_typed(
    client: VaultClient, vault: FakeVault
) -> None:
    client.login()
    vault.fail_next("INSUFFICIENT_ACCESS", http_status=403)
    with pytest.raises(AccessDenied):
        client.request("GET", "services/jobs/histories")


@pytest.mark.parametrize(
    "response",
    [
        lambda: httpx.Response(200, text="<html><body>Login</body></html>", headers={"content-type": "text/html"}),
        lambda: httpx.Response(200, json={"no": "status"}),
        lambda: httpx.Response(200, json=[1, 2]),
    ],
    ids=["html", "no-status", "list"],
)
def test_success_that_is_not_a_vault_envelope(
    client: VaultClient, vault: FakeVault, response: Callable[[], httpx.Response]
) -> None:
    client.login()
    vault.fail_next_raw(response())  # a new response each run: a response is read only once
    with pytest.raises(UnexpectedResponse):
        client.request("GET", "services/jobs/histories")


def test_envelope_of_the_wrong_shape_is_unexpected(client: VaultClient, vault: FakeVault) -> None:
    client.login()
    vault.fail_next_raw(
        httpx.Response(200, json={"responseStatus": "SUCCESS", "data": {"status": "RUNNING"}})
    )
    with pytest.raises(UnexpectedResponse):
        client.status(5)


def test_transport_failures_are_wrapped_with_their_cause(make_client: Callable[..., VaultClient]) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    client = make_client(transport=httpx.MockTransport(refuse))
    with pytest.raises(TransportError) as info:
        client.login()
    assert isinstance(info.value.__cause__, httpx.ConnectTimeout)


def test_error_message_defaults_to_the_docstring() -> None:
    assert str(VaultClientError()) == "The Vault client failed."
    assert str(TransportError()) == "Could not reach Vault or it did not answer in time."


def test_exit_codes_are_class_attributes() -> None:
    assert VaultClientError.exit_code == 1
    assert AuthenticationFailed.exit_code == InvalidSession.exit_code == 4
    assert RateLimited.exit_code == 5
