"""Limits changed at run time take effect at once, and DELETE brings the settings' values back."""

from __future__ import annotations

from .conftest import Control, error_type

START = "2030-01-07T09:00:00.000Z"


def test_get_put_and_delete(control: Control) -> None:
    initial = control.call("GET", "/limits")
    assert initial["limits"] == initial["defaults"]
    assert initial["defaults"]["status_window"] == 10.0 and initial["defaults"]["cancel_batch_size"] == 500
    assert initial["defaults"]["job_timeout"] is None and initial["defaults"]["inactivity_timeout"] is None
    changed = control.call("PUT", "/limits", {"status_window": 2, "cancel_batch_size": 3})
    assert changed["limits"] == {**initial["defaults"], "status_window": 2.0, "cancel_batch_size": 3}
    assert changed["defaults"] == initial["defaults"]
    assert control.call("DELETE", "/limits") == initial
    for bad in ({"no_such_limit": 1}, {"status_window": -1}, {"cancel_batch_size": 0}, {"burst_limit": "many"},
                {"session_max_age": 0}, {"inactivity_timeout": 0}):
        assert control.call("PUT", "/limits", bad, status=400)["error"]["type"] == "INVALID_LIMIT"
    assert control.call("GET", "/limits") == initial  # a refused change changes nothing


def test_the_status_window_and_its_retry_after(control: Control) -> None:
    control.freeze(START)
    job_id = control.run(parameters={"items": 1, "item_seconds": 0})
    control.call("PUT", "/limits", {"status_window": 2.5})
    assert error_type(control.status(job_id)) is None
    refused = control.status(job_id)
    assert error_type(refused) == "API_LIMIT_EXCEEDED" and refused.headers["Retry-After"] == "3"
    assert "once every 2.5 seconds" in refused.json()["errors"][0]["message"]
    control.advance(seconds=2.5)
    assert error_type(control.status(job_id)) is None
    control.call("PUT", "/limits", {"status_window": 0})
    assert [error_type(control.status(job_id)) for _ in range(3)] == [None, None, None]
    control.call("DELETE", "/limits")  # back to 10 s, counted from the last window opened
    assert control.status(job_id).headers["Retry-After"] == "10"


def test_session_lifetimes(control: Control) -> None:
    control.freeze(START)
    control.call("PUT", "/limits", {"session_idle_timeout": 60})
    token = control.server.login()

    def monitors() -> str | None:
        return error_type(control.api.get("/services/jobs/monitors", headers={"Authorization": token}))

    control.advance(seconds=59)
    assert monitors() is None
    control.advance(seconds=61)
    assert monitors() == "INVALID_SESSION_ID"
    control.call("PUT", "/limits", {"session_idle_timeout": 3600, "session_max_age": 100})
    token = control.server.login()
    for _ in range(3):
        control.advance(seconds=30)
        assert monitors() is None
    control.advance(seconds=11)
    assert monitors() == "INVALID_SESSION_ID"


def test_auth_cancel_batch_and_burst_limits(control: Control) -> None:
    control.freeze()  # the auth limit counts in fixed minutes: three logins must not straddle two
    control.call("PUT", "/limits", {"auth_attempts_per_minute": 2, "cancel_batch_size": 2, "burst_limit": 7})

    def login_error() -> str | None:
        answer = control.api.post("/auth", data={"username": "nobody", "password": "wrong password"})
        return error_type(answer)

    assert [login_error() for _ in range(3)] == ["USERNAME_OR_PASSWORD_INCORRECT"] * 2 + ["API_LIMIT_EXCEEDED"]
    cancel = control.api.post("/services/jobs/actions/cancel", json=[{"job_id": n} for n in (1, 2, 3)])
    assert error_type(cancel) == "INVALID_DATA" and "at most 2 jobs" in cancel.json()["errors"][0]["message"]
    assert control.api.get("/services/jobs/monitors").headers["X-VaultAPI-BurstLimit"] == "7"
    control.call("DELETE", "/limits")
    assert control.api.get("/services/jobs/monitors").headers["X-VaultAPI-BurstLimit"] != "7"
