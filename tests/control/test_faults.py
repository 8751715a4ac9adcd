"""Fault rules: each trigger, each answer, what they match, and their exact counts."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from vaultjobs.testing import V, read_envelope, succeeded

PROCESSORS = f"/api/{V}/services/jobs/processors"
ME = f"/api/{V}/objects/users/me"


def add_fault(http: httpx.Client, **rule: Any) -> dict[str, Any]:
    response = http.post("/_vaultjobs/faults", json=rule)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def faulted(http: httpx.Client, path: str = PROCESSORS, calls: int = 6, **headers: str) -> list[bool]:
    """For each of ``calls`` calls of ``path``: whether a fault answered it (the API's own answers succeed)."""
    return [read_envelope(http.get(path, headers=headers)).response_status != "SUCCESS" for _ in range(calls)]


def rule_of(http: httpx.Client, rule_id: int) -> dict[str, Any]:
    return next(rule for rule in http.get("/_vaultjobs/faults").json()["faults"] if rule["id"] == rule_id)


LIMIT = {"vault_error": "API_LIMIT_EXCEEDED"}


@pytest.mark.parametrize(("when", "expected"), [
    ({"nth": 3}, [False, False, True, False, False, False]),
    ({"next": 2}, [True, True, False, False, False, False]),
    ({"every": 2}, [False, True, False, True, False, True]),
    ({}, [True] * 6),
])
def test_each_trigger_fires_on_its_calls_and_counts_them(
    http: httpx.Client, when: dict[str, int], expected: list[bool]
) -> None:
    rule = add_fault(http, match={"operation": "retrieve_job_processors"}, when=when, answer=LIMIT)
    assert rule["hits"] == 0 and rule["calls"] == 0
    assert faulted(http) == expected
    counted = rule_of(http, rule["id"])
    assert counted["hits"] == sum(expected) and counted["calls"] == len(expected)


def test_a_probability_fires_the_same_calls_for_the_same_seed(http: httpx.Client) -> None:
    def pattern(seed: int) -> list[bool]:
        http.delete("/_vaultjobs/faults")
        add_fault(http, match={"operation": "retrieve_job_processors"}, when={"probability": 0.5, "seed": seed},
                  answer=LIMIT)
        return faulted(http, calls=24)

    first = pattern(7)
    assert first == pattern(7)
    assert 0 < sum(first) < len(first)
    assert pattern(8) != first  # 24 fair draws agreeing by chance: one in 16 million


def test_a_vault_error_answers_in_the_envelope_the_caller_asked_for(http: httpx.Client) -> None:
    add_fault(http, match={"route": "/api/{version}/services/jobs/processors"},
              answer={"vault_error": "INSUFFICIENT_ACCESS", "message": "not today"})
    as_json = read_envelope(http.get(PROCESSORS))
    as_xml = read_envelope(http.get(PROCESSORS, headers={"Accept": "application/xml"}))
    for answer in (as_json, as_xml):
        assert (answer.http_status, answer.response_status, answer.error_types) == (200, "FAILURE",
                                                                                    ["INSUFFICIENT_ACCESS"])
    assert as_json.body["errors"][0]["message"] == "not today"
    assert as_xml.body.findtext("errors/error/message") == "not today"
    assert "xml" in as_xml.headers["content-type"] and "json" in as_json.headers["content-type"]


def test_api_limit_exceeded_carries_retry_after(http: httpx.Client) -> None:
    add_fault(http, match={"operation": "retrieve_job_processors"}, when={"nth": 1}, answer=LIMIT)
    add_fault(http, match={"operation": "retrieve_my_user"}, when={"nth": 1},
              answer={**LIMIT, "retry_after": 3})
    default = http.get(PROCESSORS)
    chosen = http.get(ME)
    assert read_envelope(default).error_type == read_envelope(chosen).error_type == "API_LIMIT_EXCEEDED"
    assert default.headers["Retry-After"] == "10" and chosen.headers["Retry-After"] == "3"


def test_an_unknown_error_type_is_answered_as_given(http: httpx.Client) -> None:
    add_fault(http, match={"operation": "retrieve_job_processors"}, answer={"vault_error": "ATTRIBUTE_NOT_SUPPORTED"})
    answer = read_envelope(http.get(PROCESSORS))
    assert answer.error_types == ["ATTRIBUTE_NOT_SUPPORTED"] and answer.response_status == "FAILURE"


def test_an_http_status_with_retry_after(http: httpx.Client) -> None:
    add_fault(http, match={"operation": "retrieve_job_processors"}, when={"nth": 1},
              answer={"status": 503, "retry_after": 7})
    refused = http.get(PROCESSORS)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "7"
    assert "X-VaultAPI-Status" not in refused.headers  # what a proxy in front of Vault answers
    succeeded(http.get(PROCESSORS))


def test_latency_delays_the_real_answer(http: httpx.Client) -> None:
    succeeded(http.get(PROCESSORS))  # warm
    began = time.perf_counter()
    succeeded(http.get(PROCESSORS))
    plain = time.perf_counter() - began
    add_fault(http, match={"operation": "retrieve_job_processors"}, answer={"latency": 0.3})
    began = time.perf_counter()
    succeeded(http.get(PROCESSORS))
    delayed = time.perf_counter() - began
    assert delayed >= 0.3 and delayed > plain


def test_a_dropped_connection_ends_without_a_response(http: httpx.Client) -> None:
    add_fault(http, match={"operation": "retrieve_job_processors"}, when={"nth": 1}, answer={"drop": True})
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(PROCESSORS)
    dropped = http.get("/_vaultjobs/requests", params={"operation": "retrieve_job_processors"}).json()["requests"]
    assert [entry["status"] for entry in dropped] == [None]  # journaled before the connection closed
    succeeded(http.get(PROCESSORS))  # the next call, on a new connection, is answered
    journal = http.get("/_vaultjobs/requests", params={"operation": "retrieve_job_processors"}).json()["requests"]
    assert [entry["status"] for entry in journal] == [None, 200]


def test_a_rule_matches_method_job_id_and_user(http: httpx.Client, control_server: Any) -> None:
    control_server.add_user("ursula", "ursula-password-1", admin=True)
    ursula = control_server.login("ursula", "ursula-password-1")
    add_fault(http, match={"route": "/api/{version}/services/jobs/{job_id}", "job_id": 41}, answer=LIMIT)
    add_fault(http, match={"operation": "retrieve_my_user", "user": "ursula"}, answer=LIMIT)
    add_fault(http, match={"operation": "retrieve_job_processors", "method": "POST"}, answer=LIMIT)
    status_41 = read_envelope(http.get(f"/api/{V}/services/jobs/41"))
    status_42 = read_envelope(http.get(f"/api/{V}/services/jobs/42"))
    assert status_41.error_type == "API_LIMIT_EXCEEDED" and status_42.error_type == "INVALID_DATA"
    assert faulted(http, ME, calls=1) == [False]
    assert faulted(http, ME, calls=1, Authorization=ursula) == [True]
    assert faulted(http, calls=1) == [False]  # GET, not POST


def test_latency_rules_let_the_next_rule_answer(http: httpx.Client) -> None:
    slow = add_fault(http, match={"operation": "retrieve_job_processors"}, answer={"latency": 0.05})
    limit = add_fault(http, match={"operation": "retrieve_job_processors"}, when={"every": 2}, answer=LIMIT)
    after = add_fault(http, match={"operation": "retrieve_job_processors"}, answer={"status": 500})
    answers = [http.get(PROCESSORS) for _ in range(4)]
    assert [a.status_code for a in answers] == [500, 200, 500, 200]
    assert [rule_of(http, r["id"])["hits"] for r in (slow, limit, after)] == [4, 2, 2]
    assert rule_of(http, after["id"])["calls"] == 2  # the calls the limit answered never reached it


def test_deleting_rules(http: httpx.Client) -> None:
    first = add_fault(http, match={"operation": "retrieve_job_processors"}, answer=LIMIT)
    add_fault(http, match={"operation": "retrieve_my_user"}, answer=LIMIT)
    assert http.delete(f"/_vaultjobs/faults/{first['id']}").json() == {"deleted": True}
    assert faulted(http, calls=1) == [False] and faulted(http, ME, calls=1) == [True]
    missing = http.delete(f"/_vaultjobs/faults/{first['id']}")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "FAULT_NOT_FOUND"
    http.delete("/_vaultjobs/faults")
    assert http.get("/_vaultjobs/faults").json() == {"faults": []}
    assert faulted(http, ME, calls=1) == [False]


@pytest.mark.parametrize("rule", [
    {"match": {"operation": "retrieve_job_processors"}},
    {"match": {}, "answer": LIMIT},
    {"match": {"operation": "no_such_operation"}, "answer": LIMIT},
    {"match": {"operation": "retrieve_job_processors", "colour": "red"}, "answer": LIMIT},
    {"match": {"operation": "retrieve_job_processors"}, "when": {"nth": 0}, "answer": LIMIT},
    {"match": {"operation": "retrieve_job_processors"}, "when": {"nth": 1, "every": 2}, "answer": LIMIT},
    {"match": {"operation": "retrieve_job_processors"}, "when": {"probability": 1.5}, "answer": LIMIT},
    {"match": {"operation": "retrieve_job_processors"}, "answer": {"status": 200}},
    {"match": {"operation": "retrieve_job_processors"}, "answer": {"latency": 0.1, "drop": True}},
    {"match": {"operation": "retrieve_job_processors"}, "answer": {"drop": False}},
    {"match": {"operation": "retrieve_job_processors"}, "answer": {"vault_error": "not a type"}},
])
def test_a_malformed_rule_is_refused(http: httpx.Client, rule: dict[str, Any]) -> None:
    refused = http.post("/_vaultjobs/faults", json=rule)
    assert refused.status_code == 400 and refused.json()["error"]["type"] == "INVALID_FAULT", refused.text
    assert http.get("/_vaultjobs/faults").json() == {"faults": []}
