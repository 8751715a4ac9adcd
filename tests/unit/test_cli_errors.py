"""Each error class owns its exit code, the server's as the client's, and a failure is reported once."""

from __future__ import annotations

import click
import orjson
import pytest
from click.testing import CliRunner

from vaultjobs import client, errors
from vaultjobs.cli.errors import exit_code_of, reporting
from vaultjobs.store import StoreError


@pytest.mark.parametrize(
    ("server_error", "client_class"),
    [
        (errors.InvalidSessionId(), client.InvalidSession),
        (errors.UsernameOrPasswordIncorrect(), client.AuthenticationFailed),
        (errors.UserLockedOut(), client.AuthenticationFailed),
        (errors.ApiLimitExceeded(retry_after=3), client.RateLimited),
        (errors.JobNotFound(7), client.InvalidRequest),
        (errors.JobNotCancellable(7), client.OperationNotAllowed),
    ],
)
def test_server_errors_exit_as_the_client_errors_of_the_same_case(
    server_error: errors.VaultError, client_class: type[client.VaultClientError]
) -> None:
    assert exit_code_of(server_error) == client_class.exit_code


def test_errors_without_a_code_exit_1() -> None:
    assert exit_code_of(StoreError("disk full")) == 1
    assert exit_code_of(ValueError("bad")) == 1


def failing(exc: BaseException, *expected: type[BaseException]) -> click.Command:
    @click.command()
    @click.option("--json", "json_output", is_flag=True)
    def command(json_output: bool) -> None:
        with reporting(*expected, json_output=json_output):
            raise exc

    return command


def test_a_reported_error_prints_its_message_once_and_exits_with_its_code() -> None:
    result = CliRunner().invoke(failing(errors.UserLockedOut(), errors.VaultError), [])
    assert result.exit_code == 4
    assert result.stderr == "Error: User is locked out after too many failed login attempts.\n"
    assert result.stdout == ""


def test_brackets_in_a_message_are_text_not_markup() -> None:
    result = CliRunner().invoke(failing(errors.ProcessorNotInstalled("demo"), errors.VaultError), [])
    assert result.exit_code == 1 and "Processor [demo] does not exist" in result.stderr


def test_with_json_the_error_is_an_object_on_stdout() -> None:
    result = CliRunner().invoke(failing(errors.ApiLimitExceeded("slow down"), errors.VaultError), ["--json"])
    assert result.exit_code == 5
    assert orjson.loads(result.stdout) == {"error": "ApiLimitExceeded", "message": "slow down"}


def test_an_unexpected_error_is_not_swallowed() -> None:
    result = CliRunner().invoke(failing(KeyError("bug"), errors.VaultError), [])
    assert isinstance(result.exception, KeyError)
