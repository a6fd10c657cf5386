"""Cloud Run checks end to end against the Cloud Run fake, as the pipeline SA.

One world, one shared suite run: each job is one scenario (ready, broken, drifted, failing,
never run, running, missing, answering 503). The target repository has real git history, so
"image older than the script" compares the job's deploy time with a real commit date.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from gcp_support import (
    PROJECT,
    facts,
    gcp_section,
    infrastructure_status,
    outcome,
    shared_run,
    started_world,
    verdict,
)

from conftest import AuditRun, TargetRepo
from sandbox.fakes import FaultRule, RunCondition, RunExecution, RunJob
from sandbox.world import World

IMAGE = "us-docker.pkg.dev/bqx-ml/images/features"
SA = f"pipeline@{PROJECT}.iam.gserviceaccount.com"
# Deployed 2024-06-01; scripts/features.py last changed 2024-03-05, scripts/merge.py 2024-09-01.
DEPLOYED = "2024-06-01T10:00:00Z"

_JOBS = f"""
[[jobs]]
name = "features"
region = "europe-west1"
image = "{IMAGE}"
service_account = "{SA}"
timeout_seconds = 3600
script = "scripts/features.py"

[[jobs]]
name = "missing"

[[jobs]]
name = "broken"

[[jobs]]
name = "drifted"
image = "{IMAGE}"
service_account = "{SA}"
timeout_seconds = 3600
script = "scripts/merge.py"

[[jobs]]
name = "undated"
script = "scripts/never_committed.py"

[[jobs]]
name = "failing"

[[jobs]]
name = "fresh"

[[jobs]]
name = "running"

# The only P0 subject besides the credentials: the verdict turns on its unverified cases alone.
[[jobs]]
name = "flaky"
priority = "P0"
"""


def _done(execution_id: str, succeeded: int, failed: int) -> RunExecution:
    return RunExecution(
        execution_id,
        succeeded_count=succeeded,
        failed_count=failed,
        create_time="2024-06-02T00:00:00Z",
        completion_time="2024-06-02T01:00:00Z",
    )


def _seed(world: World) -> None:
    run = world.cloud_run

    def add(name: str, region: str = "us-central1", **kw: object) -> None:
        fields: dict[str, object] = {
            "image": f"{IMAGE}:1.2.3",
            "service_account": SA,
            "timeout": "3600s",
            "create_time": DEPLOYED,
        }
        fields.update(kw)
        run.add_job(PROJECT, region, RunJob(name=name, **fields))  # type: ignore[arg-type]

    add("features", "europe-west1", executions=[_done("features-1", 0, 1), _done("features-2", 1, 0)])
    add(
        "broken",
        terminal_condition=RunCondition(
            "Ready", "CONDITION_FAILED", "Image not found.", reason="CONTAINER_MISSING"
        ),
    )
    add(
        "drifted",
        image="gcr.io/other/features:0.9",
        service_account="default@x.iam.gserviceaccount.com",
        timeout="600s",
    )
    add("undated")
    add(
        "failing",
        executions=[
            RunExecution(
                "failing-7",
                succeeded_count=8,
                failed_count=2,
                retried_count=3,
                task_count=10,
                create_time="2024-06-02T00:00:00Z",
                completion_time="2024-06-02T01:00:00Z",
                conditions=[
                    RunCondition(
                        "Completed",
                        "CONDITION_FAILED",
                        "Task failing-7-task-3 failed with exit code 1.",
                        execution_reason="NON_ZERO_EXIT_CODE",
                    )
                ],
            )
        ],
    )
    add("fresh")
    add(
        "running", executions=[RunExecution("running-1", running_count=1, create_time="2024-06-02T00:00:00Z")]
    )
    add("flaky")


@dataclass
class Shared:
    run: AuditRun
    flaky: FaultRule
    #: jobs.get requests per job name during the run (retries included).
    gets: Counter[str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with started_world(tmp_path_factory.mktemp("run-world"), storage=False) as world:
        _seed(world)
        yield world


@pytest.fixture(scope="module")
def shared(world: World, tmp_path_factory: pytest.TempPathFactory) -> Shared:
    work = tmp_path_factory.mktemp("run-run")
    target = TargetRepo(work / "target")
    target.write("scripts/features.py", "print('features')\n")
    target.write("scripts/merge.py", "print('merge')\n")
    target.commit_all("first", "2024-03-05T12:00:00+00:00")
    target.write("scripts/merge.py", "print('merge v2')\n")
    target.commit_all("merge v2", "2024-09-01T12:00:00+00:00")
    flaky = world.cloud_run.add_fault(FaultRule.error(503, method="GET", path=r"/jobs/flaky$", count=None))
    world.cloud_run.reset_counts()
    try:
        body = gcp_section(world, impersonate=world.pipeline_account(), timeout=1) + _JOBS
        run = shared_run(work, world, body, target=target)
        gets = Counter(
            route.split("?")[0].rsplit("/", 1)[-1]
            for _, method, route in world.cloud_run.request_log
            if method == "GET" and re.search(r"/jobs/[^/?]+(\?|$)", route)
        )
        return Shared(run, flaky, gets)
    finally:
        world.cloud_run.clear_faults()


# -- run_job_ready ----------------------------------------------------------------------------


def test_deployed_ready_job_in_its_declared_region_passes(shared: Shared) -> None:
    assert outcome(shared.run, "run_job_ready", "features") == ("passed", "")
    assert facts(shared.run, "run_job_ready", "features")["terminal_condition"] == "CONDITION_SUCCEEDED"


def test_missing_job_is_one_finding_and_its_other_criteria_are_unverified(shared: Shared) -> None:
    assert outcome(shared.run, "run_job_ready", "missing") == (
        "failed",
        f"missing (project {PROJECT}, region us-central1): job not found",
    )
    for criterion in ("run_job_config", "run_job_last_execution"):
        state, message = outcome(shared.run, criterion, "missing")
        assert state == "error"
        assert message.endswith("job not found (reported by run_job_ready)")
    # Not deployed: MISSING; deployed but failing its Ready condition: BLOCKED.
    assert infrastructure_status(shared.run, "missing").startswith("MISSING (")
    assert infrastructure_status(shared.run, "broken").startswith("BLOCKED (")


def test_failed_terminal_condition_is_a_finding_with_reason_and_message(shared: Shared) -> None:
    state, message = outcome(shared.run, "run_job_ready", "broken")
    assert state == "failed"
    assert message.endswith("not ready: Ready CONDITION_FAILED CONTAINER_MISSING: Image not found.")


def test_503_from_cloud_run_is_an_error_naming_the_api_and_the_p0_verdict_is_no_go(shared: Shared) -> None:
    for criterion in ("run_job_ready", "run_job_config", "run_job_last_execution"):
        state, message = outcome(shared.run, criterion, "flaky")
        assert state == "error"
        assert message.startswith("Cloud Run: HTTP 503 ServiceUnavailable"), message
    # The job is read once for its three criteria (next test); that read was retried inside its
    # 1 s deadline. How many attempts fit depends on the backoff and the machine's load.
    assert shared.flaky.fired > 1
    assert verdict(shared.run) == "NO-GO"
    assert shared.run.json()["verdict"]["reasons"] == ["1 P0 blocker (3 cases)"]


def test_each_job_is_read_once_for_its_three_criteria(shared: Shared) -> None:
    healthy = ("features", "missing", "broken", "drifted", "undated", "failing", "fresh", "running")
    assert {name: shared.gets[name] for name in healthy} == dict.fromkeys(healthy, 1)
    # The failing read is retried inside its deadline once, not once per criterion.
    assert shared.gets["flaky"] == shared.flaky.fired


# -- run_job_config ---------------------------------------------------------------------------


def test_job_configured_as_declared_and_built_after_its_script_passes(shared: Shared) -> None:
    assert outcome(shared.run, "run_job_config", "features") == ("passed", "")
    found = facts(shared.run, "run_job_config", "features")
    assert found["images"] == [f"{IMAGE}:1.2.3"]
    assert found["timeout_seconds"] == 3600
    assert found["script_changed"] == "2024-03-05"


def test_drifted_job_names_image_identity_timeout_and_stale_script(shared: Shared) -> None:
    state, message = outcome(shared.run, "run_job_config", "drifted")
    assert state == "failed"
    assert message == (
        f"drifted (project {PROJECT}, region us-central1): "
        f"image gcr.io/other/features:0.9 is not {IMAGE}; "
        f"runs as default@x.iam.gserviceaccount.com, not {SA}; "
        "task timeout 600 s, declared 3600 s; "
        "deployed 2024-06-01, before scripts/merge.py last changed (2024-09-01): rebuild the image"
    )


def test_script_without_git_history_leaves_the_config_unverified(shared: Shared) -> None:
    state, message = outcome(shared.run, "run_job_config", "undated")
    assert state == "error"
    assert message.endswith("cannot date scripts/never_committed.py: no commit touches it")


# -- run_job_last_execution -------------------------------------------------------------------


def test_latest_execution_succeeded_passes_even_after_an_earlier_failure(shared: Shared) -> None:
    assert outcome(shared.run, "run_job_last_execution", "features") == ("passed", "")
    found = facts(shared.run, "run_job_last_execution", "features")
    assert found["execution"] == "features-2"
    assert found["status"] == "EXECUTION_SUCCEEDED"


def test_failed_execution_is_a_finding_with_task_counts_and_condition_message(shared: Shared) -> None:
    state, message = outcome(shared.run, "run_job_last_execution", "failing")
    assert state == "failed"
    assert message.endswith(
        "latest execution failing-7 did not succeed (8 of 10 task(s) succeeded, 2 failed, "
        "0 cancelled, 3 retried): Completed CONDITION_FAILED NON_ZERO_EXIT_CODE: "
        "Task failing-7-task-3 failed with exit code 1."
    )


def test_job_never_executed_is_a_finding(shared: Shared) -> None:
    assert outcome(shared.run, "run_job_last_execution", "fresh") == (
        "failed",
        f"fresh (project {PROJECT}, region us-central1): never executed",
    )


def test_running_execution_is_unverified_not_a_pass(shared: Shared) -> None:
    state, message = outcome(shared.run, "run_job_last_execution", "running")
    assert state == "error"
    assert "execution running-1 still running" in message
