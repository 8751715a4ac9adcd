from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import pytest

from vaultjobs.client import BurstThrottle, PollGate, PollPolicy, RateLimited, RateLimitInfo, VaultClient
from vaultjobs.client.testing import FakeClock, FakeVault

# -- the gate on its own ---------------------------------------------------------------------------


def test_gate_spaces_calls_for_one_key(clock: FakeClock) -> None:
    gate = PollGate(10.0, clock=clock)
    assert gate.reserve("a") == 0.0
    assert gate.reserve("a") == 10.0
    assert gate.reserve("a") == 20.0


def test_gate_keys_are_independent(clock: FakeClock) -> None:
    gate = PollGate(10.0, clock=clock)
    assert [gate.reserve(("host", n)) for n in range(20)] == [0.0] * 20
    assert gate.reserve(("other-host", 0)) == 0.0


def test_gate_cadence_subtracts_time_already_spent(clock: FakeClock) -> None:
    gate = PollGate(10.0, clock=clock)
    gate.reserve("a")
    clock.advance(3.5)  # the call took 3.5 s
    assert gate.reserve("a") == pytest.approx(6.5)
    clock.advance(60)  # long pause: no burst of catch-up calls afterwards
    assert gate.reserve("a") == 0.0
    assert gate.reserve("a") == 10.0


def test_gate_not_after_takes_nothing(clock: FakeClock) -> None:
    gate = PollGate(10.0, clock=clock)
    gate.reserve("a")
    assert gate.reserve("a", not_after=clock() + 5) is None
    assert gate.reserve("a", not_after=clock() + 10) == 10.0


def test_gate_refusal_with_retry_after_and_without(clock: FakeClock) -> None:
    gate = PollGate(10.0, clock=clock)
    gate.reserve("a")
    assert gate.refused("a", 3.0) == clock() + 3.0
    assert gate.reserve("a") == 3.0
    gate.refused("b", None)
    assert gate.reserve("b") == 10.0  # Vault sends no Retry-After: a full window


def test_gate_refusal_with_zero_retry_after_does_not_hot_loop(clock: FakeClock) -> None:
    gate = PollGate(10.0, clock=clock)
    gate.refused("a", 0.0)
    assert gate.reserve("a") == 1.0


def test_gate_jitter(clock: FakeClock) -> None:
    gate = PollGate(10.0, jitter=2.0, clock=clock, rng=lambda: 0.5)
    gate.reserve("a")
    assert gate.reserve("a") == 11.0


def test_gate_is_shared_by_threads(clock: FakeClock) -> None:
    gate = PollGate(10.0, clock=clock)
    delays: list[float | None] = []
    barrier = threading.Barrier(16)

    def take() -> None:
        barrier.wait()
        delays.append(gate.reserve("job"))

    threads = [threading.Thread(target=take) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(d for d in delays if d is not None) == [10.0 * n for n in range(16)]


# -- the policy ------------------------------------------------------------------------------------


def test_poll_intervals_under_ten_seconds_are_refused(connect: Callable[..., VaultClient]) -> None:
    with pytest.raises(ValueError, match="below the minimum"):
        PollPolicy(interval=5.0)
    with pytest.raises(ValueError):
        connect("https://x", session_id="s", poll_interval=9.99)
    assert PollPolicy(interval=0.5, min_interval=0.5).interval == 0.5  # vaultjobs with a short window


def test_a_shared_gate_cannot_undercut_the_minimum(connect: Callable[..., VaultClient]) -> None:
    with pytest.raises(ValueError):
        connect("https://x", session_id="s", poll_gate=PollGate(1.0))


def test_status_calls_for_one_job_are_ten_seconds_apart(
    client: VaultClient, vault: FakeVault, clock: FakeClock
) -> None:
    job_id = vault.add_job(["RUNNING"])
    for _ in range(4):
        client.status(job_id)
    calls = vault.status_calls[job_id]
    assert [b - a for a, b in zip(calls, calls[1:], strict=False)] == [10.0, 10.0, 10.0]
    assert job_id not in vault.refused_calls


def test_default_margin_keeps_calls_clear_of_the_window(
    make_client: Callable[..., VaultClient], connect: Callable[..., VaultClient], vault: FakeVault
) -> None:
    client = make_client(poll_margin=0.1)  # the default
    job_id = vault.add_job(["RUNNING"])
    for _ in range(3):
        client.status(job_id)
    assert vault.status_calls[job_id] == pytest.approx([1000.0, 1010.1, 1020.2])
    with connect("https://x", session_id="s") as default:
        assert default.poll_gate.interval == pytest.approx(10.1)


def test_status_of_different_jobs_is_not_delayed(
    client: VaultClient, vault: FakeVault, clock: FakeClock
) -> None:
    ids = [vault.add_job(["RUNNING"]) for _ in range(5)]
    client.login()
    start = clock()
    for job_id in ids:
        client.status(job_id)
    assert clock() == start
    assert clock.sleeps == []


def test_two_clients_sharing_a_gate_coordinate(
    make_client: Callable[..., VaultClient], vault: FakeVault, clock: FakeClock
) -> None:
    gate = PollGate(10.0, clock=clock)
    first, second = make_client(poll_gate=gate), make_client(poll_gate=gate)
    job_id = vault.add_job(["RUNNING"])
    first.status(job_id)
    second.status(job_id)
    assert vault.status_calls[job_id] == [1000.0, 1010.0]


def test_status_raises_rate_limited_and_the_gate_waits_out_the_window(
    client: VaultClient, vault: FakeVault, clock: FakeClock
) -> None:
    client.login()
    job_id = vault.add_job(["RUNNING"])
    vault.fail_next("API_LIMIT_EXCEEDED", headers={"Retry-After": "4"})
    with pytest.raises(RateLimited) as info:
        client.status(job_id)
    assert info.value.retry_after == 4.0
    client.status(job_id)
    assert vault.status_calls[job_id] == [1004.0]


# -- burst throttle --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "remaining", "delay"),
    [
        (2000, 1999, 0.0),  # plenty left
        (2000, 200, 0.0),  # exactly at the 10 % floor
        (2000, 100, 2.5),  # half way below the floor
        (2000, 0, 5.0),  # nothing left: the full pause
        (None, 3, 0.0),  # no headers, no guess
    ],
)
def test_burst_throttle_formula(limit: int | None, remaining: int, delay: float) -> None:
    info = RateLimitInfo(burst_limit=limit, burst_remaining=remaining)
    assert BurstThrottle().delay(info) == pytest.approx(delay)


def test_disabled_throttle() -> None:
    assert BurstThrottle(floor=0).delay(RateLimitInfo(burst_limit=10, burst_remaining=0)) == 0


def test_client_slows_down_when_burst_runs_low(
    make_client: Callable[..., VaultClient], clock: FakeClock
) -> None:
    vault = FakeVault(
        clock=clock, headers={"X-VaultAPI-BurstLimit": "2000", "X-VaultAPI-BurstLimitRemaining": "100"}
    )
    client = make_client(transport=vault.transport())
    client.login()
    assert clock.sleeps == []
    list(client.histories())
    list(client.histories())
    assert clock.sleeps == [2.5, 2.5]
    assert client.rate_limit is not None and client.rate_limit.burst_remaining == 100


def test_rate_limit_info_on_every_result(client: VaultClient, vault: FakeVault) -> None:
    job_id = vault.add_job(["RUNNING"], tasks=[{"id": "t", "state": "RUNNING"}])
    job = client.status(job_id)
    assert job.rate_limit is not None and job.rate_limit.execution_id
    page = next(client.task_pages(job_id))
    assert page.rate_limit is not None and page.rate_limit.api_status == "SUCCESS"


def test_rate_limit_telemetry_recorded_for_failures(
    make_client: Callable[..., VaultClient], vault: FakeVault
) -> None:
    client = make_client(session_id=vault.new_session())
    vault.fail_next_raw(
        httpx.Response(200, json={"responseStatus": "FAILURE", "errors": [{"type": "INVALID_DATA"}]},
                       headers={"X-VaultAPI-ResponseDelay": "250"})
    )  # fmt: skip
    with pytest.raises(Exception):  # noqa: B017 - any typed error; the telemetry is the point
        list(client.histories())
    assert client.rate_limit is not None and client.rate_limit.response_delay_ms == 250


def test_gate_after_a_slow_answer_waits_from_the_answer(clock: FakeClock) -> None:
    gate = PollGate(10.1, clock=clock, after_answer=10.0)
    gate.reserve("a")
    clock.advance(0.05)
    gate.answered("a")  # a quick answer: the cadence from the start stands
    assert gate.reserve("a") == pytest.approx(10.05)
    clock.advance(10.05 + 3.0)
    gate.answered("a")  # answered 3 s after its start: the server may have opened its window just now
    assert gate.reserve("a") == pytest.approx(10.0)
    assert PollGate(5.0, clock=clock).after_answer == 5.0
