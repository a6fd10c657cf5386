"""The selected cases' Google reads are made once per run, ahead of the checks, also under -n.

One world (Cloud Run, quotas, API states, IAM tests; no emulator), three runs of one manifest:
serial, `-n 2` and `-m p0`. What reaches the fakes is counted per request: every read once,
the same requests with and without workers (the controller makes them and hands the answers
over), and under `-m p0` only the P0 cases' reads. The outcomes are the same in every run that
selects the case.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from gcp_support import PROJECT, gcp_section, shared_run, started_world

from checks.gcp.selection import cases_of_nodeids
from conftest import AuditRun, TargetRepo
from readiness.cases import cases_for
from readiness.manifest import load_manifest
from readiness.memo import RunMemo
from sandbox.fakes import QuotaInfoSeed, QuotaLimit, RunExecution, RunJob
from sandbox.world import World

JOBS = ("gate", "daily", "weekly")

BODY = """
[[jobs]]
name = "gate"
priority = "P0"

[[jobs]]
name = "daily"
priority = "P2"

[[jobs]]
name = "weekly"
priority = "P2"

[[quotas]]
service = "run.googleapis.com"
quota_id = "Jobs"
planned = 1
priority = "P2"

[[apis]]
name = "run.googleapis.com"
priority = "P0"

[[apis]]
name = "bigquery.googleapis.com"
priority = "P2"

[[permissions]]
resource = "project"
permissions = ["run.jobs.run"]
priority = "P2"

[[permissions]]
resource = "job:gate"
permissions = ["run.jobs.run"]
priority = "P0"
"""


@dataclass
class Runs:
    serial: AuditRun
    parallel: AuditRun
    p0: AuditRun
    #: Requests each run sent to the fakes, by (method, path), token exchanges left out.
    requests: dict[str, Counter[tuple[str, str]]]


def _requests(world: World) -> Counter[tuple[str, str]]:
    seen: Counter[tuple[str, str]] = Counter()
    for fake in (world.cloud_run, world.quotas, world.service_usage, world.resource_manager, world.iam):
        for _, method, target in fake.request_log:
            path = target.split("?")[0]
            # Each process proves its own credentials (a worker needs a token of its own).
            if path.endswith(("/token", ":generateAccessToken")):
                continue
            seen[(method, path)] += 1
    return seen


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with started_world(tmp_path_factory.mktemp("prefetch-world"), storage=False) as world:
        for name in JOBS:
            done = RunExecution(
                f"{name}-1",
                succeeded_count=1,
                create_time="2024-06-02T00:00:00Z",
                completion_time="2024-06-02T01:00:00Z",
            )
            world.cloud_run.add_job(PROJECT, "us-central1", RunJob(name, "img", "sa", executions=[done]))
        world.quotas.add_quota(
            PROJECT, "run.googleapis.com", QuotaInfoSeed("Jobs", "run.googleapis.com/jobs", [QuotaLimit(10)])
        )
        for api in ("run.googleapis.com", "bigquery.googleapis.com"):
            world.service_usage.set_service(PROJECT, api, "ENABLED")
        yield world


@pytest.fixture(scope="module")
def runs(world: World, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    work = tmp_path_factory.mktemp("prefetch-runs")
    body = gcp_section(world, impersonate=world.pipeline_account(), timeout=10) + BODY
    made: dict[str, AuditRun] = {}
    requests: dict[str, Counter[tuple[str, str]]] = {}
    for label, args in (("serial", ()), ("parallel", ("-n", "2")), ("p0", ("-m", "p0"))):
        for fake in world.fakes():
            fake.reset_counts()
        made[label] = shared_run(work / label, world, body, *args, target=TargetRepo(work / label / "target"))
        requests[label] = _requests(world)
    return Runs(made["serial"], made["parallel"], made["p0"], requests)


def _outcomes(run: AuditRun) -> dict[tuple[str, str], tuple[str, str]]:
    return {(c["criterion"], c["subject"]): (c["outcome"], c["message"]) for c in run.json()["cases"]}


def test_every_read_is_made_once_per_run(runs: Runs) -> None:
    serial = runs.requests["serial"]
    assert {count for count in serial.values()} == {1}, serial
    jobs = {
        path.rsplit("/", 1)[-1] for method, path in serial if "/jobs/" in path and "/executions" not in path
    }
    assert jobs >= {*JOBS, "gate:testIamPermissions"}
    executions = [path for _, path in serial if "/executions/" in path]
    assert sorted(p.rsplit("/", 1)[-1] for p in executions) == sorted(f"{name}-1" for name in JOBS)


def test_workers_repeat_no_read_and_reach_the_same_outcomes(runs: Runs) -> None:
    # A job's three criteria may land on both workers: its get is still made once, by the
    # controller, and handed over.
    assert runs.requests["parallel"] == runs.requests["serial"]
    assert _outcomes(runs.parallel) == _outcomes(runs.serial)
    assert _outcomes(runs.serial)[("run_job_last_execution", "gate")] == ("passed", "")


def test_a_p0_run_reads_only_what_its_p0_cases_need(runs: Runs) -> None:
    p0 = runs.requests["p0"]
    assert {count for count in p0.values()} == {1}, p0
    paths = {path for _, path in p0}
    for name in ("daily", "weekly"):
        assert not [p for p in paths if f"/jobs/{name}" in p], paths
    assert not [p for p in paths if "quotaInfos" in p or "bigquery.googleapis.com" in p], paths
    assert any(p.endswith("/jobs/gate") for p in paths)
    assert any(p.endswith("/services/run.googleapis.com") for p in paths)
    # Each P0 case reads what it read in the full run, with the same outcome.
    serial = _outcomes(runs.serial)
    selected = _outcomes(runs.p0)
    assert ("run_job_ready", "gate") in selected and ("run_job_ready", "daily") not in selected
    assert {key: serial[key] for key in selected} == selected


def test_the_controller_finds_the_selected_cases_from_the_workers_node_ids(tmp_path: Path) -> None:
    target = TargetRepo(tmp_path / "target")
    target.write("requirements.txt", "")
    loaded = load_manifest(target.manifest(f'\n[gcp]\nproject = "{PROJECT}"\n' + BODY))
    memo = RunMemo()
    ids = [
        "checks/check_cloud_run.py::check_run_job_ready[gate]",
        "checks/check_apis.py::check_api_enabled[run.googleapis.com]",
        "checks/check_scripts.py::check_script_exists[scripts/a.py]",
    ]
    found = {(c.criterion.id, c.subject) for c in cases_of_nodeids(loaded, ids, memo)}
    assert found == {("run_job_ready", "gate"), ("api_enabled", "run.googleapis.com")}
    # An id it cannot match one by one (pytest's suffix for a duplicate id): the criterion's
    # every case, a read too many rather than one missing.
    every = {(c.criterion.id, c.subject) for c in cases_for("run_job_ready", loaded, memo)}
    found = {(c.criterion.id, c.subject) for c in cases_of_nodeids(loaded, [ids[0] + "x", ids[0]], memo)}
    assert found == every
