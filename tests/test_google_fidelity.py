"""Google as Google behaves (issue 14), on the paths where the fakes used to be kinder than Google.

Enums come back as numbers (the gapic REST clients ask `$alt=json;enum-encoding=int`), a value
newer than the client stays an int, a job mid-deploy still shows its old generation's SUCCEEDED,
older executions carry no completionStatus, a least-privilege identity gets Google's 403, and a
disabled API refuses every call with SERVICE_DISABLED. Each test failed before its fix (crash,
false pass, or a false finding) and passes after.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import requests
from gcp_support import PROJECT, facts, gcp_section, outcome, shared_run, started_world

from conftest import AuditRun
from sandbox.fakes import RunCondition, RunExecution, RunJob
from sandbox.fakes.auth import UserKey
from sandbox.world import World

SA_NAME = "pipeline"
SA = f"{SA_NAME}@{PROJECT}.iam.gserviceaccount.com"
READS = {"run.jobs.get", "run.executions.get"}

_BODY = """
[[jobs]]
name = "newstate"

[[jobs]]
name = "deploying"

[[jobs]]
name = "legacy"

[[jobs]]
name = "legacyfail"

[[jobs]]
name = "locked"

[[apis]]
name = "run.googleapis.com"

[[apis]]
name = "future.googleapis.com"
"""


def _finished(execution_id: str, *, succeeded: int, failed: int = 0) -> RunExecution:
    return RunExecution(
        execution_id,
        succeeded_count=succeeded,
        failed_count=failed,
        create_time="2024-06-02T00:00:00Z",
        completion_time="2024-06-02T01:00:00Z",
        reports_completion_status=False,
    )


def _seed(world: World) -> None:
    def add(name: str, *, grants: set[str] = READS, **kw: object) -> None:
        fields: dict[str, object] = {"image": "us-docker.pkg.dev/x/y:1", "service_account": SA}
        fields.update(kw)
        job = RunJob(name=name, permissions=set(grants), **fields)  # type: ignore[arg-type]
        world.cloud_run.add_job(PROJECT, "us-central1", job)

    ok = [RunExecution("ok-1", succeeded_count=1, completion_time="2024-06-02T01:00:00Z")]
    add("newstate", terminal_condition=RunCondition("Ready", 99), executions=ok)
    add("deploying", generation=2, observed_generation=1, reconciling=True, executions=ok)
    add("legacy", executions=[_finished("legacy-1", succeeded=1)])
    add("legacyfail", executions=[_finished("legacyfail-1", succeeded=0, failed=1)])
    add("locked", grants=set(), executions=ok)
    world.service_usage.set_service(PROJECT, "run.googleapis.com", "ENABLED")
    world.service_usage.set_service(PROJECT, "future.googleapis.com", 99)
    world.resource_manager.projects[PROJECT].permissions.update(
        {"serviceusage.services.get", "iam.serviceAccountKeys.list"}
    )
    world.least_privilege.add(world.pipeline_account(SA_NAME))
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    world.iam.add_key(SA, UserKey("0ff-disabled", long_ago, disabled=True))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with started_world(tmp_path_factory.mktemp("fidelity-world"), storage=False) as world:
        _seed(world)
        yield world


@pytest.fixture(scope="module")
def run(world: World, tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    body = gcp_section(world, impersonate=SA) + _BODY
    return shared_run(tmp_path_factory.mktemp("fidelity-run"), world, body)


@pytest.fixture(scope="module")
def disabled_run(world: World, tmp_path_factory: pytest.TempPathFactory, run: AuditRun) -> Iterator[AuditRun]:
    world.service_usage.set_service(PROJECT, "run.googleapis.com", "DISABLED")
    try:
        body = gcp_section(world, impersonate=SA) + _BODY
        yield shared_run(tmp_path_factory.mktemp("fidelity-disabled"), world, body)
    finally:
        world.service_usage.set_service(PROJECT, "run.googleapis.com", "ENABLED")


def test_fake_answers_enums_as_numbers_when_the_client_asks_and_names_otherwise(world: World) -> None:
    name = f"{world.cloud_run.url}/v2/projects/{PROJECT}/locations/us-central1/jobs/legacy"
    as_numbers = requests.get(name, params={"$alt": "json;enum-encoding=int"}, timeout=5).json()
    as_names = requests.get(name, timeout=5).json()
    assert as_numbers["terminalCondition"]["state"] == 4
    assert as_names["terminalCondition"]["state"] == "CONDITION_SUCCEEDED"
    # A number newer than any table stays that number.
    newer = requests.get(
        name.replace("legacy", "newstate"), params={"$alt": "json;enum-encoding=int"}, timeout=5
    )
    assert newer.json()["terminalCondition"]["state"] == 99


def test_unknown_condition_state_is_reported_as_unknown_not_a_crash(run: AuditRun) -> None:
    state, message = outcome(run, "run_job_ready", "newstate")
    assert state == "error"
    assert "terminal condition Ready has state value 99 (unknown to the installed client)" in message
    assert "AttributeError" not in message
    # The job's other criteria do not read that enum and still judge.
    assert outcome(run, "run_job_last_execution", "newstate") == ("passed", "")


def test_unknown_service_state_is_reported_as_unknown_not_a_crash(run: AuditRun) -> None:
    state, message = outcome(run, "api_enabled", "future.googleapis.com")
    assert state == "error"
    assert "state value 99 (unknown to the installed client)" in message
    assert outcome(run, "api_enabled", "run.googleapis.com") == ("passed", "")


def test_job_mid_deploy_with_old_generation_succeeded_is_not_ready(run: AuditRun) -> None:
    state, message = outcome(run, "run_job_ready", "deploying")
    assert state == "failed"
    assert message.endswith(
        "not ready: deploy in progress (generation 2, observed 1, reconciling); "
        "the terminal condition is from the previous generation"
    )


def test_execution_without_completion_status_is_judged_from_its_counts(run: AuditRun) -> None:
    assert outcome(run, "run_job_last_execution", "legacy") == ("passed", "")
    assert facts(run, "run_job_last_execution", "legacy")["status"] == "EXECUTION_SUCCEEDED"
    state, message = outcome(run, "run_job_last_execution", "legacyfail")
    assert state == "failed"
    assert "latest execution legacyfail-1 did not succeed (0 of 1 task(s) succeeded, 1 failed" in message


def test_read_denied_to_a_least_privilege_identity_is_unverified_naming_the_permission(run: AuditRun) -> None:
    for criterion in ("run_job_ready", "run_job_config", "run_job_last_execution"):
        state, message = outcome(run, criterion, "locked")
        assert state == "error", (criterion, message)
        assert message.endswith(f"Cloud Run: cannot verify: {SA} lacks run.jobs.get (HTTP 403)"), message


def test_disabled_api_refuses_every_call_and_its_checks_say_so(disabled_run: AuditRun) -> None:
    state, message = outcome(disabled_run, "api_enabled", "run.googleapis.com")
    assert (state, message.split(":")[0]) == ("failed", "run.googleapis.com")
    for job in ("legacy", "deploying"):
        for criterion in ("run_job_ready", "run_job_last_execution"):
            state, message = outcome(disabled_run, criterion, job)
            assert state == "error", message
            assert "API run.googleapis.com is disabled" in message
            assert facts(disabled_run, criterion, job) == {"service_disabled": "run.googleapis.com"}


def test_disabled_old_key_is_not_counted_as_an_old_key(run: AuditRun) -> None:
    assert outcome(run, "sa_key_age", SA) == ("passed", "")
    assert facts(run, "sa_key_age", SA) == {"user_managed_keys": 0, "disabled_keys": 1}
