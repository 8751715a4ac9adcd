"""The pytest plugin, tested the way its users use it: a sample suite for a Vault integration, run by
pytester against a server the plugin starts, each test in a sliver of the virtual time it covers."""

from __future__ import annotations

import pytest

USER_SUITE = '''
import pytest

from vaultjobs.client import JobFailed, JobStatus

QUICK = {"items": 1, "chunk_size": 1, "item_seconds": 0}


def covered(vault, record_property):
    """Tell the outer test how much virtual time this test covered."""
    record_property("virtual_seconds", vault.time.skipped)


def test_status_polls_are_retried_on_api_limit_exceeded(vault, record_property):
    job_id = vault.client.run_processor("demo", QUICK).job_id
    rule = vault.control.faults.add(operation="retrieve_job_status", when={"next": 2},
                                    answer={"vault_error": "API_LIMIT_EXCEEDED"})
    job = vault.client.wait(job_id, timeout=600)
    assert job.status is JobStatus.SUCCESS
    assert vault.control.faults.hits(rule["id"]) == 2
    refused = vault.control.requests.list(operation="retrieve_job_status", error_type="API_LIMIT_EXCEEDED")
    assert len(refused) == 2 and all(entry["user"] == "admin" for entry in refused)
    covered(vault, record_property)


def test_a_scripted_failure_is_reported(vault, record_property):
    vault.control.transitions.script("demo", [{"status": "RUNNING"}, {"status": "ERRORS_ENCOUNTERED"}],
                                     advance_on="poll")
    job_id = vault.client.run_processor("demo", QUICK).job_id
    with pytest.raises(JobFailed) as failed:
        vault.client.wait(job_id, timeout=600)
    assert failed.value.job.status is JobStatus.ERRORS_ENCOUNTERED
    seen = [e["status"] for e in vault.control.requests.list(operation="retrieve_job_status")]
    assert len(seen) >= 2
    covered(vault, record_property)


def test_an_idle_session_expires_and_the_client_logs_in_again(vault, record_property):
    vault.client.keep_alive()
    logins = len(vault.control.requests.list(operation="authenticate"))
    vault.control.clock.advance(seconds=1201)
    vault.client.keep_alive()
    assert vault.control.requests.list(operation="keep_alive", error_type="INVALID_SESSION_ID")
    assert len(vault.control.requests.list(operation="authenticate")) == logins + 1
    covered(vault, record_property)


@pytest.mark.vault_clock(frozen_at="2026-01-05T09:00:00Z")
def test_a_scheduled_job_starts_when_its_time_comes(vault, record_property):
    _, answer = vault.client.request("POST", "services/jobs/processors/demo/actions/run",
                                     json={"parameters": QUICK, "schedule_at": "2026-01-05T10:00:00Z"})
    job_id = int(answer.body["job_id"])
    assert vault.control.jobs.status(job_id) == "SCHEDULED"
    moved = vault.control.clock.advance(to="2026-01-05T10:00:01Z")
    assert [f["kind"] for f in moved.fired if f.get("job_id") == job_id] == ["schedule"]
    view = vault.control.wait_for(job_id, "SUCCESS", timeout=30)
    assert view["job"]["status"] == "SUCCESS"
    covered(vault, record_property)
'''


def test_a_user_suite_runs_in_a_sliver_of_the_time_it_covers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_integration=USER_SUITE)
    run = pytester.inline_run("-p", "no:cacheprovider")
    passed, skipped, failed = run.listoutcomes()
    assert not failed, [report.longreprtext for report in failed]
    assert len(passed) == 4
    reports = [r for r in run.getreports("pytest_runtest_logreport")]
    calls = {r.nodeid.rsplit("::", 1)[1]: r for r in reports if r.when == "call"}
    first_setup = next(r for r in reports if r.when == "setup")  # starts the session's server
    for name, call in calls.items():
        virtual = dict(call.user_properties)["virtual_seconds"]
        # Every test waited out Vault's windows or moved the clock, 10 s at the least, in a tenth of that
        # or less (a login, a password hash, is most of it), and in less time than the server took to start.
        assert virtual >= 10, name
        assert call.duration < virtual / 10, (name, call.duration, virtual)
        assert call.duration < first_setup.duration, (name, call.duration, first_setup.duration)


def test_the_plugin_uses_an_external_server_and_its_token(
    pytester: pytest.Pytester, live_server_factory: object
) -> None:
    server = live_server_factory(control_plane="1", control_token="suite-token",  # type: ignore[operator]
                                 auth_attempts_per_minute=1000)
    pytester.makepyfile(test_external='''
def test_it_is_the_given_server(vault, vault_server):
    assert vault_server.process is None and vault.base_url == vault_server.url
    assert vault.control.describe()["token_required"] is True
    assert vault.control.faults.list() == []
''')
    run = pytester.inline_run("-p", "no:cacheprovider", f"--vaultjobs-url={server.url}",  # type: ignore[attr-defined]
                              "--vaultjobs-control-token=suite-token",
                              f"--vaultjobs-password={server.admin_password}")  # type: ignore[attr-defined]
    run.assertoutcome(passed=1)
