"""Faults never turn into a pass: every API x every fault kind, injected on the world's servers.

One world; one suite run per fault kind (429, 500, 503, slower than the deadline, connection
reset, malformed JSON), the six started at once. In each run all seven APIs are faulted at once,
each on its own subject, with count=None so no retry can get past the fault: BigQuery (a
dataset), Cloud Storage (a bucket), Cloud Run (a job), Cloud Quotas (a quota), Service Usage (an
API), Resource Manager (the project's testIamPermissions) and IAM (the identity's key listing).
Each run has its own gcp.project and pipeline identity, so its fault rules reach only its own
requests although the six share the servers. Every faulted subject is P0; a healthy P2 control
per API shows the faults hit only what they aim at. A seventh run hangs an API past the
per-check time limit (pytest-timeout).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest
import warm_pytest
from bq_support import write_manifest
from gcp_support import outcome, started_world

from conftest import REPO, AuditRun
from sandbox.fakes import FaultRule, QuotaInfoSeed, QuotaLimit, RunJob
from sandbox.fakes.http import FakeServer
from sandbox.world import World

#: Client deadline of the faulted runs (gcp.timeout_seconds); "slow" answers after SLOW_DELAY.
DEADLINE: Final = 2
SLOW_DELAY: Final = DEADLINE + 1.5

#: Fault kind -> what the error message must say about it.
KINDS: Final = {
    "429": "HTTP 429 TooManyRequests",
    "500": "HTTP 500 InternalServerError",
    "503": "HTTP 503 ServiceUnavailable",
    "slow": "no answer within the deadline",
    "reset": "connection failed",
    "malformed": "malformed response",
}
#: Kinds a read retries (transient); the others are reported after the first attempt.
RETRIED: Final = {"429", "500", "503", "reset"}

APIS: Final = (
    "BigQuery",
    "Cloud Storage",
    "Cloud Run",
    "Cloud Quotas",
    "Service Usage",
    "Resource Manager",
    "IAM",
)


def project(kind: str) -> str:
    return f"fault-{kind}"


def pipeline(kind: str) -> str:
    return f"pipeline@{project(kind)}.iam.gserviceaccount.com"


def bad_bucket(kind: str) -> str:
    return f"bad-{kind}"


def affected(kind: str) -> list[tuple[str, str, str]]:
    """(API, criterion, subject) of every case the kind's faults reach."""
    bucket = f"gs://{bad_bucket(kind)}"
    return [
        ("IAM", "sa_key_age", pipeline(kind)),
        ("BigQuery", "dataset_reachable", "bad"),
        ("BigQuery", "dataset_inventory", "bad"),
        ("BigQuery", "bq_write_probe", "bad"),
        ("Cloud Storage", "bucket_reachable", bucket),
        ("Cloud Storage", "checkpoint_fresh", bucket),
        ("Cloud Storage", "gcs_write_probe", bucket),
        ("Cloud Run", "run_job_ready", "bad"),
        ("Cloud Run", "run_job_config", "bad"),
        ("Cloud Run", "run_job_last_execution", "bad"),
        ("Cloud Quotas", "quota_headroom", "run.googleapis.com/Bad"),
        ("Service Usage", "api_enabled", "bad.googleapis.com"),
        ("Resource Manager", "iam_permissions", "project"),
    ]


#: Healthy P2 subjects of every run, on the same servers: they must still pass.
CONTROLS: Final = [
    ("bucket_reachable", "gs://ok-bkt"),
    ("run_job_ready", "ok"),
    ("quota_headroom", "run.googleapis.com/Ok"),
    ("api_enabled", "ok.googleapis.com"),
]


def body(kind: str) -> str:
    return f"""
[gcp]
project = "{project(kind)}"
timeout_seconds = {DEADLINE}
impersonate = "{pipeline(kind)}"

[[datasets]]
id = "bad"
priority = "P0"
writes = true

[[buckets]]
name = "{bad_bucket(kind)}"
priority = "P0"
checkpoint_prefix = "ckpt/"
writes = true

[[buckets]]
name = "ok-bkt"
priority = "P2"

[[jobs]]
name = "bad"
priority = "P0"

[[jobs]]
name = "ok"
priority = "P2"

[[quotas]]
service = "run.googleapis.com"
quota_id = "Bad"
planned = 1
priority = "P0"

[[quotas]]
service = "run.googleapis.com"
quota_id = "Ok"
planned = 1
priority = "P2"

[[apis]]
name = "bad.googleapis.com"
priority = "P0"

[[apis]]
name = "ok.googleapis.com"
priority = "P2"

[[permissions]]
resource = "project"
permissions = ["bigquery.jobs.create"]
priority = "P0"
"""


def rule(kind: str, path: str) -> FaultRule:
    if kind == "slow":
        return FaultRule.slow(SLOW_DELAY, path=path, count=None)
    if kind == "reset":
        return FaultRule.reset(path=path, count=None)
    if kind == "malformed":
        return FaultRule.malformed(path=path, count=None)
    return FaultRule.error(int(kind), path=path, count=None)


def servers(world: World) -> dict[str, FakeServer]:
    assert world.bq_front is not None and world.gcs_front is not None
    return {
        "BigQuery": world.bq_front,
        "Cloud Storage": world.gcs_front,
        "Cloud Run": world.cloud_run,
        "Cloud Quotas": world.quotas,
        "Service Usage": world.service_usage,
        "Resource Manager": world.resource_manager,
        "IAM": world.iam,
    }


def paths(kind: str) -> dict[str, str]:
    """The path regex that aims each API's fault at the kind's subject, and nothing else."""
    p = re.escape(project(kind))
    return {
        "BigQuery": rf"/projects/{p}/datasets/bad(/|$)",
        "Cloud Storage": rf"/b/{re.escape(bad_bucket(kind))}(/|$)",
        "Cloud Run": rf"/projects/{p}/locations/[^/]+/jobs/bad$",
        "Cloud Quotas": rf"/projects/{p}/locations/global/services/[^/]+/quotaInfos/Bad$",
        "Service Usage": rf"/projects/{p}/services/bad\.googleapis\.com$",
        "Resource Manager": rf"/projects/{p}:testIamPermissions$",
        "IAM": rf"/serviceAccounts/{re.escape(pipeline(kind))}/keys$",
    }


def seed(world: World, kind: str) -> None:
    """The kind's project on every fake: its pipeline identity and the healthy controls."""
    email = pipeline(kind)
    world.iam.add_account(email)
    world.iam.allow_impersonation(world.runner, email)
    world.service_usage.add_project(project(kind))
    world.service_usage.set_service(project(kind), "ok.googleapis.com", "ENABLED")
    world.cloud_run.add_job(project(kind), "us-central1", RunJob("ok", "img", "sa"))
    world.quotas.add_quota(
        project(kind), "run.googleapis.com", QuotaInfoSeed("Ok", "run.googleapis.com/ok", [QuotaLimit(10)])
    )


@dataclass
class Launched:
    thread: threading.Thread
    #: What the run gave: (exit code, stdout, stderr), or the exception it raised.
    outcome: list[tuple[int, str, str] | BaseException]
    out_dir: Path
    started: float


def launch(work: Path, world: World, manifest_body: str, *args: str) -> Launched:
    """Start the real suite in a subprocess (like bq_support.run_shared, without waiting)."""
    manifest = write_manifest(work, manifest_body)
    out_dir = work / "out"
    pytest_args = [
        f"--basetemp={work / 'basetemp'}",
        "-c", str(REPO / "pytest.ini"), "--rootdir", str(REPO), str(REPO / "checks"),
        "--manifest", str(manifest), "--readiness-out", str(out_dir),
        "--readiness-now", "2026-11-22T06:00:00", *args,
    ]  # fmt: skip
    drop = {"PYTEST_ADDOPTS", "GOOGLE_APPLICATION_CREDENTIALS", "READINESS_ENDPOINTS"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(world.env(), PY_COLORS="0")
    outcome: list[tuple[int, str, str] | BaseException] = []

    def run() -> None:
        try:
            outcome.append(warm_pytest.run_captured(pytest_args, cwd=work, env=env, timeout=300))
        except BaseException as exc:  # handed to finish(), in the test's thread
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return Launched(thread, outcome, out_dir, time.monotonic())


def finish(launched: Launched) -> AuditRun:
    launched.thread.join()
    (value,) = launched.outcome
    if isinstance(value, BaseException):
        raise value
    code, stdout, stderr = value
    took = time.monotonic() - launched.started
    return AuditRun(pytest.RunResult(code, stdout.splitlines(), stderr.splitlines(), took), launched.out_dir)


@dataclass
class Matrix:
    runs: dict[str, AuditRun]
    #: Per kind and API: the (route, method, target) requests that API's server logged for the
    #: kind's project (each run's own, told apart by project, bucket and identity).
    logs: dict[str, dict[str, list[tuple[str, str, str]]]]
    hang: AuditRun


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with started_world(tmp_path_factory.mktemp("fault-world"), bigquery=True) as world:
        world.storage_admin().create_bucket("ok-bkt")
        for kind in KINDS:
            seed(world, kind)
        yield world


@pytest.fixture(scope="module")
def matrix(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    by_api = servers(world)
    for fake in by_api.values():
        fake.reset_counts()
    for kind in KINDS:
        for api, path in paths(kind).items():
            by_api[api].add_fault(rule(kind, path))
    # The seventh run: Service Usage hangs far past the per-check time limit of 1 s (the
    # client's own deadline, 30 s, would come much later).
    world.service_usage.add_project("fault-hang")
    by_api["Service Usage"].add_fault(FaultRule.slow(8, path=r"/projects/fault-hang/services/", count=None))
    hang_body = '[gcp]\nproject = "fault-hang"\ntimeout_seconds = 30\n\n'
    hang_body += '[[apis]]\nname = "hang.googleapis.com"\npriority = "P0"\n'
    try:
        launched = {kind: launch(tmp_path_factory.mktemp(f"run-{kind}"), world, body(kind)) for kind in KINDS}
        hang = launch(
            tmp_path_factory.mktemp("run-hang"), world, hang_body, "-k", "api_enabled", "--timeout", "1"
        )
        runs = {kind: finish(run) for kind, run in launched.items()}
        hung = finish(hang)
        logs = {
            kind: {
                api: [e for e in by_api[api].request_log if re.search(path, e[2].split("?")[0])]
                for api, path in paths(kind).items()
            }
            for kind in KINDS
        }
        for kind, run in [*runs.items(), ("hang", hung)]:  # each run's wall time, as pytest took it
            print(f"fault run {kind}: {''.join(run.result.stdout.lines[-1:]).strip('= ')}")
        yield Matrix(runs, logs, hung)
    finally:
        for fake in by_api.values():
            fake.clear_faults()


def _attempts(message: str) -> int:
    found = re.findall(r"after (\d+) attempts?\b", message)
    assert found, f"no attempt count in: {message}"
    return int(found[-1])


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_affected_case_is_an_error_naming_api_status_and_attempts(matrix: Matrix, kind: str) -> None:
    run = matrix.runs[kind]
    assert run.ret in (0, 1), run.output  # the run completed (no crash, no interruption)
    for api, criterion, subject in affected(kind):
        state, message = outcome(run, criterion, subject)
        assert state == "error", (kind, criterion, subject, state, message)
        assert f"{api}: {KINDS[kind]}" in message, (kind, criterion, message)
        attempts = _attempts(message)
        if kind in RETRIED and criterion != "gcs_write_probe":
            assert attempts > 1, message  # reads are retried inside the deadline
        else:
            assert attempts == 1, message


@pytest.mark.parametrize("kind", list(KINDS))
def test_attempt_counts_are_the_requests_the_server_received(matrix: Matrix, kind: str) -> None:
    run, logs = matrix.runs[kind], matrix.logs[kind]

    def said(criterion: str, subject: str) -> int:
        return _attempts(outcome(run, criterion, subject)[1])

    # One call per case: the count in the message is exactly what reached the server.
    assert said("sa_key_age", pipeline(kind)) == len(logs["IAM"])
    assert said("quota_headroom", "run.googleapis.com/Bad") == len(logs["Cloud Quotas"])
    assert said("api_enabled", "bad.googleapis.com") == len(logs["Service Usage"])
    assert said("iam_permissions", "project") == len(logs["Resource Manager"])
    # The dataset is read once per process; its three cases report that one read.
    assert said("dataset_reachable", "bad") == len(logs["BigQuery"])
    # So is the job: its three criteria share one get and report its attempts.
    for criterion in ("run_job_ready", "run_job_config", "run_job_last_execution"):
        assert said(criterion, "bad") == len(logs["Cloud Run"]), criterion


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_faulted_probe_write_is_sent_exactly_once(matrix: Matrix, kind: str) -> None:
    uploads = [e for e in matrix.logs[kind]["Cloud Storage"] if e[1] == "POST" and "/upload/" in e[2]]
    assert len(uploads) == 1, uploads
    state, message = outcome(matrix.runs[kind], "gcs_write_probe", f"gs://{bad_bucket(kind)}")
    assert state == "error"
    assert message.startswith(f"gs://{bad_bucket(kind)}: write probe interrupted at write: Cloud Storage: ")


@pytest.mark.parametrize("kind", list(KINDS))
def test_no_affected_case_passes_and_the_p0_errors_make_the_verdict_no_go(matrix: Matrix, kind: str) -> None:
    run = matrix.runs[kind]
    cases = run.json()["cases"]
    faulted = {(c, s) for _, c, s in affected(kind)}
    passed = {(c["criterion"], c["subject"]) for c in cases if c["outcome"] == "passed"}
    assert not passed & faulted
    verdict = run.json()["verdict"]
    assert verdict["verdict"] == "NO-GO"
    # One blocker per root cause; every faulted P0 case is counted under one of them.
    (reason,) = verdict["reasons"]
    assert re.fullmatch(rf"\d+ P0 blockers? \({len(faulted)} cases?\)", reason), reason


@pytest.mark.parametrize("kind", list(KINDS))
def test_faults_reach_only_their_subjects(matrix: Matrix, kind: str) -> None:
    run = matrix.runs[kind]
    for criterion, subject in CONTROLS:
        assert outcome(run, criterion, subject) == ("passed", ""), (kind, criterion, subject)
    assert outcome(run, "credentials_token", pipeline(kind)) == ("passed", "")
    assert {api for api, _, _ in affected(kind)} == set(APIS)


def test_a_check_that_hangs_past_its_time_limit_is_unverified_not_a_pass(matrix: Matrix) -> None:
    run = matrix.hang
    assert run.ret in (0, 1), run.output
    assert outcome(run, "api_enabled", "hang.googleapis.com") == (
        "error",
        "unverified: check exceeded its 1 s time limit",
    )
    assert run.json()["verdict"]["verdict"] == "NO-GO"
    assert "unverified: check exceeded its 1 s time limit" in run.output
