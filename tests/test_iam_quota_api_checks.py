"""IAM permissions, quota headroom and enabled APIs end to end, as the pipeline SA.

The module's world runs the BigQuery emulator (dataset permissions are tested on one of the
dataset's tables, and quota estimates add dry-run bytes), with tiny seeds. One shared suite run
holds every scenario; each resource, quota and API is one subject.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from gcp_support import PROJECT, facts, gcp_section, outcome, shared_run, started_world, verdict
from google.cloud import bigquery

from conftest import AuditRun
from sandbox.fakes import FaultRule, QuotaInfoSeed, QuotaLimit, RunJob
from sandbox.world import World

MiB = 2**20

_BODY = """
# -- IAM -------------------------------------------------------------------------------------
[[permissions]]
resource = "project"
permissions = ["bigquery.jobs.create", "run.jobs.run", "storage.buckets.create"]

[[permissions]]
resource = "bucket:ckpt-bkt"
permissions = ["storage.objects.create", "storage.objects.get"]

[[permissions]]
resource = "bucket:partial-bkt"
permissions = ["storage.objects.create", "storage.objects.get", "storage.objects.delete"]

[[permissions]]
resource = "job:features"
permissions = ["run.jobs.run", "run.jobs.get"]

[[permissions]]
resource = "job:locked"
permissions = ["run.jobs.run"]

[[permissions]]
resource = "table:features.f1"
permissions = ["bigquery.tables.getData"]

[[permissions]]
resource = "dataset:features"
permissions = ["bigquery.tables.getData", "bigquery.tables.updateData"]

[[permissions]]
resource = "dataset:labels"
permissions = ["bigquery.tables.getData", "bigquery.tables.list"]

[[permissions]]
resource = "dataset:empty_ds"
permissions = ["bigquery.tables.create"]

# The only P0 subject besides the credentials: the verdict turns on its unverified case alone.
[[permissions]]
resource = "table:features.flaky"
permissions = ["bigquery.tables.getData"]
priority = "P0"

# -- quotas ----------------------------------------------------------------------------------
[[quotas]]
service = "run.googleapis.com"
quota_id = "CpuAllocPerProjectRegion"
dimensions = {region = "us-central1"}
planned = 15000

[[quotas]]
service = "run.googleapis.com"
quota_id = "JobRunsPerMinute"
planned = 55

[[quotas]]
service = "run.googleapis.com"
quota_id = "MemAllocPerProjectRegion"
planned = 1e12

[[quotas]]
service = "bigquery.googleapis.com"
quota_id = "QueryUsagePerDay"
planned = 300
add_query_estimates = true

[[quotas]]
service = "run.googleapis.com"
quota_id = "NoSuchQuota"
planned = 1

[[quotas]]
service = "run.googleapis.com"
quota_id = "FlakyQuota"
planned = 1

[[queries]]
name = "features-scan"
sql = "SELECT * FROM `bqx-ml.features.f1`"
runs = 2

[[queries]]
name = "other-phase"
sql = "SELECT * FROM `bqx-ml.features.f1`"
phases = ["5"]

# -- APIs ------------------------------------------------------------------------------------
[[apis]]
name = "bigquery.googleapis.com"

[[apis]]
name = "artifactregistry.googleapis.com"

[[apis]]
name = "cloudbuild.googleapis.com"
"""


def _seed_iam(world: World) -> None:
    assert world.bq_front is not None and world.gcs_front is not None
    world.resource_manager.projects[PROJECT].permissions.update(
        {"bigquery.jobs.create", "run.jobs.run", "bigquery.tables.list"}
    )
    world.gcs_front.grant_bucket("ckpt-bkt", {"storage.objects.create", "storage.objects.get"})
    world.gcs_front.grant_bucket("partial-bkt", {"storage.objects.get"})
    world.cloud_run.add_job(
        PROJECT, "us-central1", RunJob("features", "img", "sa", permissions={"run.jobs.run", "run.jobs.get"})
    )
    world.cloud_run.add_job(PROJECT, "us-central1", RunJob("locked", "img", "sa"))
    admin = world.bigquery_admin()
    schema = [bigquery.SchemaField("id", "INT64")]
    # `flaky` exists: iam_permissions reads a table before trusting testIamPermissions.
    for dataset, tables in (("features", ["f1", "flaky"]), ("labels", ["l1"]), ("empty_ds", [])):
        admin.create_dataset(dataset)
        for table in tables:
            admin.create_table(bigquery.Table(f"{PROJECT}.{dataset}.{table}", schema=schema))
    world.bq_front.grant_table(f"{PROJECT}.features.f1", {"bigquery.tables.getData"})
    world.bq_front.grant_table(f"{PROJECT}.labels.l1", {"bigquery.tables.getData"})
    world.bq_front.grant_table(f"{PROJECT}.features.flaky", {"bigquery.tables.getData"})
    world.bq_front.set_table_bytes(f"{PROJECT}.features.f1", 300 * MiB)


def _seed_quotas(world: World) -> None:
    def add(service: str, seed: QuotaInfoSeed) -> None:
        world.quotas.add_quota(PROJECT, service, seed)

    add(
        "run.googleapis.com",
        QuotaInfoSeed(
            "CpuAllocPerProjectRegion",
            "run.googleapis.com/cpu_allocation",
            [QuotaLimit(20_000, {"region": "us-central1"}), QuotaLimit(10_000)],
            dimensions=["region"],
        ),
    )
    add(
        "run.googleapis.com",
        QuotaInfoSeed("JobRunsPerMinute", "run.googleapis.com/job_runs", [QuotaLimit(60)]),
    )
    add(
        "run.googleapis.com",
        QuotaInfoSeed("MemAllocPerProjectRegion", "run.googleapis.com/mem", [QuotaLimit(-1)]),
    )
    add("run.googleapis.com", QuotaInfoSeed("FlakyQuota", "run.googleapis.com/flaky", [QuotaLimit(5)]))
    add(
        "bigquery.googleapis.com",
        QuotaInfoSeed(
            "QueryUsagePerDay",
            "bigquery.googleapis.com/quota/query/usage",
            [QuotaLimit(1000)],
            metric_unit="MiBy/d/{project}",
            refresh_interval="day",
        ),
    )


@dataclass
class Shared:
    run: AuditRun
    faults: dict[str, FaultRule]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with started_world(tmp_path_factory.mktemp("iam-world"), bigquery=True) as world:
        _seed_iam(world)
        _seed_quotas(world)
        world.service_usage.set_service(PROJECT, "bigquery.googleapis.com", "ENABLED")
        # Not run.googleapis.com: a disabled API refuses every call of its service, so the job
        # cases here would all be SERVICE_DISABLED (tests/test_google_fidelity.py covers that).
        world.service_usage.set_service(PROJECT, "artifactregistry.googleapis.com", "DISABLED")
        yield world


@pytest.fixture(scope="module")
def shared(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    assert world.bq_front is not None
    faults = {
        "job403": world.cloud_run.add_fault(FaultRule.error(403, method="POST", path=r"/jobs/locked:test")),
        "bq503": world.bq_front.add_fault(FaultRule.error(503, path=r"/tables/flaky:test", count=None)),
        "quota503": world.quotas.add_fault(FaultRule.error(503, path=r"/FlakyQuota$", count=None)),
        "su503": world.service_usage.add_fault(FaultRule.error(503, path=r"/cloudbuild\.", count=None)),
    }
    try:
        body = gcp_section(world, impersonate=world.pipeline_account(), timeout=1.5) + _BODY
        yield Shared(shared_run(tmp_path_factory.mktemp("iam-run"), world, body), faults)
    finally:
        for fake in (world.cloud_run, world.bq_front, world.quotas, world.service_usage):
            fake.clear_faults()


# -- iam_permissions --------------------------------------------------------------------------


def test_partial_project_grant_names_the_missing_permission(shared: Shared) -> None:
    assert outcome(shared.run, "iam_permissions", "project") == (
        "failed",
        f"project {PROJECT}: pipeline@{PROJECT}.iam.gserviceaccount.com lacks 1 of 3: storage.buckets.create",
    )


def test_full_grants_on_bucket_job_and_table_pass(shared: Shared) -> None:
    for resource in ("bucket:ckpt-bkt", "job:features", "table:features.f1"):
        assert outcome(shared.run, "iam_permissions", resource) == ("passed", ""), resource
    assert facts(shared.run, "iam_permissions", "job:features")["tested_on"] == (
        f"job projects/{PROJECT}/locations/us-central1/jobs/features"
    )


def test_partial_bucket_grant_names_every_missing_permission(shared: Shared) -> None:
    state, message = outcome(shared.run, "iam_permissions", "bucket:partial-bkt")
    assert state == "failed"
    assert message.endswith("lacks 2 of 3: storage.objects.create, storage.objects.delete")


def test_403_from_test_iam_permissions_is_unverified_not_a_finding(shared: Shared) -> None:
    state, message = outcome(shared.run, "iam_permissions", "job:locked")
    assert state == "error"
    assert message.startswith("Cloud Run: HTTP 403 Forbidden")
    assert shared.faults["job403"].fired == 1  # a denial is not retried


def test_dataset_permissions_are_tested_on_a_table_of_the_dataset(shared: Shared) -> None:
    state, message = outcome(shared.run, "iam_permissions", "dataset:features")
    assert state == "failed"
    assert message.endswith("lacks 1 of 2: bigquery.tables.updateData")
    assert facts(shared.run, "iam_permissions", "dataset:features")["note"] == (
        f"table-level permissions tested on table {PROJECT}.features.f1, which inherits the dataset's grants"
    )


def test_dataset_only_permission_granted_on_the_project_passes(shared: Shared) -> None:
    assert outcome(shared.run, "iam_permissions", "dataset:labels") == ("passed", "")


def test_dataset_only_permission_not_granted_on_the_project_is_unverified(shared: Shared) -> None:
    state, message = outcome(shared.run, "iam_permissions", "dataset:empty_ds")
    assert state == "error"
    assert "bigquery.tables.create not granted at project level" in message
    assert "dataset-level grant cannot be seen" in message


def test_503_from_bigquery_is_an_error_naming_the_api_and_the_p0_verdict_is_no_go(shared: Shared) -> None:
    state, message = outcome(shared.run, "iam_permissions", "table:features.flaky")
    assert state == "error"
    assert message.startswith("BigQuery: HTTP 503 ServiceUnavailable")
    assert shared.faults["bq503"].fired > 1
    assert verdict(shared.run) == "NO-GO"
    assert shared.run.json()["verdict"]["reasons"] == ["1 P0 blocker (1 case)"]


# -- quota_headroom ---------------------------------------------------------------------------


def test_limit_for_the_declared_dimensions_covers_the_plan(shared: Shared) -> None:
    subject = "run.googleapis.com/CpuAllocPerProjectRegion"
    assert outcome(shared.run, "quota_headroom", subject) == ("passed", "")
    found = facts(shared.run, "quota_headroom", subject)
    assert (found["limit"], found["limit_dimensions"]) == (20_000, {"region": "us-central1"})


def test_plan_over_the_allowed_share_is_a_finding_with_numbers(shared: Shared) -> None:
    state, message = outcome(shared.run, "quota_headroom", "run.googleapis.com/JobRunsPerMinute")
    assert state == "failed"
    assert message == (
        "run.googleapis.com/JobRunsPerMinute: planned 55 1/{project}/{region} exceeds 80% of the "
        "limit 60 (48 allowed)"
    )


def test_unlimited_quota_passes_with_a_fact(shared: Shared) -> None:
    subject = "run.googleapis.com/MemAllocPerProjectRegion"
    assert outcome(shared.run, "quota_headroom", subject) == ("passed", "")
    assert facts(shared.run, "quota_headroom", subject)["unlimited"] is True


def test_query_estimates_of_the_phase_are_added_in_the_quota_unit(shared: Shared) -> None:
    subject = "bigquery.googleapis.com/QueryUsagePerDay"
    state, message = outcome(shared.run, "quota_headroom", subject)
    assert state == "failed"
    # 300 MiB planned + 2 runs x 300 MiB dry-run bytes; the other phase's query is not counted.
    assert message.startswith(f"{subject}: planned 900 MiBy/d/{{project}} exceeds 80% of the limit 1,000")
    assert facts(shared.run, "quota_headroom", subject)["query_bytes"] == {"features-scan": 600 * MiB}


def test_unknown_quota_is_unverified_and_names_the_fix(shared: Shared) -> None:
    state, message = outcome(shared.run, "quota_headroom", "run.googleapis.com/NoSuchQuota")
    assert state == "error"
    assert message.endswith("no such quota in project bqx-ml; check service and quota_id")


def test_503_from_cloud_quotas_is_an_error_naming_the_api(shared: Shared) -> None:
    state, message = outcome(shared.run, "quota_headroom", "run.googleapis.com/FlakyQuota")
    assert state == "error"
    assert message.startswith("Cloud Quotas: HTTP 503 ServiceUnavailable")


# -- api_enabled ------------------------------------------------------------------------------


def test_enabled_api_passes_and_disabled_api_is_a_finding(shared: Shared) -> None:
    assert outcome(shared.run, "api_enabled", "bigquery.googleapis.com") == ("passed", "")
    assert outcome(shared.run, "api_enabled", "artifactregistry.googleapis.com") == (
        "failed",
        f"artifactregistry.googleapis.com: disabled on project {PROJECT} "
        f"(gcloud services enable artifactregistry.googleapis.com --project {PROJECT})",
    )


def test_503_from_service_usage_is_an_error_naming_the_api(shared: Shared) -> None:
    state, message = outcome(shared.run, "api_enabled", "cloudbuild.googleapis.com")
    assert state == "error"
    assert message.startswith("Service Usage: HTTP 503 ServiceUnavailable")
