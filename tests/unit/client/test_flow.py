"""The operations are flows with no I/O of their own: a test can drive one step by step."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from vaultjobs.client import ClientOptions, JobStatus, TransportError
from vaultjobs.client import _operations as ops
from vaultjobs.client._core import ClientCore
from vaultjobs.client._flow import AsyncDriver, Flow, Send, Sleep, SyncDriver, send
from vaultjobs.client.testing import FakeClock

URL = "https://fake.vault"


def make_core(clock: FakeClock, **kwargs: Any) -> ClientCore:
    return ClientCore.from_options(ClientOptions(url=URL, session_id="s", clock=clock, poll_margin=0.0, **kwargs))


def job_response(request: httpx.Request, status: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"responseStatus": "SUCCESS", "data": {"id": 7, "status": status}}
    return httpx.Response(200, json=body, headers=headers, request=request)


def test_wait_yields_sends_and_sleeps(clock: FakeClock) -> None:
    flow = ops.wait(make_core(clock), 7, timeout=60, on_update=None)
    step = next(flow)
    assert isinstance(step, Send)
    assert step.request.url == f"{URL}/api/v25.3/services/jobs/7"
    assert step.request.headers["authorization"] == "s"
    assert flow.send(job_response(step.request, "RUNNING")) == Sleep(10.0)
    clock.advance(10.0)
    step = flow.send(None)
    assert isinstance(step, Send)
    with pytest.raises(StopIteration) as done:
        flow.send(job_response(step.request, "SUCCESS"))
    assert done.value.value.status is JobStatus.SUCCESS


def test_wait_sleeps_out_a_refusal(clock: FakeClock) -> None:
    flow = ops.wait(make_core(clock), 7, timeout=60, on_update=None)
    step = next(flow)
    assert isinstance(step, Send)
    refusal = httpx.Response(
        200,
        json={"responseStatus": "FAILURE", "errors": [{"type": "API_LIMIT_EXCEEDED"}]},
        headers={"Retry-After": "4"},
        request=step.request,
    )
    assert flow.send(refusal) == Sleep(4.0)


def test_cancel_sends_one_request_per_batch_of_500(clock: FakeClock) -> None:
    flow = ops.cancel(make_core(clock), [range(1, 502)])
    sizes = []
    step = next(flow)
    try:
        while True:
            assert isinstance(step, Send)
            items = httpx.Response(200, content=step.request.content).json()
            sizes.append(len(items))
            body = {"responseStatus": "SUCCESS", "data": [{"responseStatus": "SUCCESS"}] * len(items)}
            step = flow.send(httpx.Response(200, json=body, request=step.request))
    except StopIteration as done:
        outcomes = done.value
    assert sizes == [500, 1]
    assert [o.job_id for o in outcomes] == list(range(1, 502)) and all(o.accepted for o in outcomes)


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


def _catching() -> Flow[str]:
    try:
        yield from send(httpx.Request("GET", URL))
    except TransportError as exc:
        return f"caught {type(exc.__cause__).__name__}"
    return "not reached"


def test_drivers_throw_io_errors_into_the_flow() -> None:
    with httpx.Client(transport=httpx.MockTransport(_refused)) as http:
        assert SyncDriver(http, lambda seconds: None).run(_catching()) == "caught ConnectError"

    async def main() -> str:
        async with httpx.AsyncClient(transport=httpx.MockTransport(_refused)) as http:
            return await AsyncDriver(http, asyncio.sleep).run(_catching())

    assert asyncio.run(main()) == "caught ConnectError"
