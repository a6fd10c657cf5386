"""End-to-end tests of sandbox.fakes, driven only through the official Google clients.

Every client call passes an explicit short retry/timeout: several clients retry 503 or
connection errors for a minute or more by default, which would hide a broken fake as a hang.
"""

from __future__ import annotations

import datetime
import http.client
import time
from collections.abc import Iterator

import pytest
import requests
from google.api_core import exceptions
from google.api_core import retry as retries
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, cloudquotas_v1, resourcemanager_v3, run_v2, service_usage_v1
from google.cloud.storage import Client as StorageClient
from google.cloud.storage.retry import DEFAULT_RETRY as STORAGE_DEFAULT_RETRY
from google.protobuf.json_format import ParseError

from sandbox.fakes import (
    UNMATCHED,
    BigQueryFront,
    CloudRunFake,
    FakeServer,
    FaultRule,
    ProjectSeed,
    QuotaInfoSeed,
    QuotaLimit,
    QuotasFake,
    Request,
    ResourceManagerFake,
    Response,
    RunCondition,
    RunExecution,
    RunJob,
    ServiceUsageFake,
    StorageFront,
)

PROJECT = "bqx-ml"
REGION = "us-central1"
JOB = f"projects/{PROJECT}/locations/{REGION}/jobs/features"
TIMEOUT = 5.0


def _fast_retry(*types: type[Exception]) -> retries.Retry:
    return retries.Retry(predicate=retries.if_exception_type(*types), initial=0.01, maximum=0.05, timeout=5.0)


NO_RETRY = retries.Retry(predicate=lambda _exc: False, timeout=TIMEOUT)


def _anonymous() -> AnonymousCredentials:
    return AnonymousCredentials()  # type: ignore[no-untyped-call]  # google-auth is untyped


def _opts(server: FakeServer) -> ClientOptions:
    return ClientOptions(api_endpoint=server.url)


# -- Cloud Run -------------------------------------------------------------------------------


@pytest.fixture
def cloud_run() -> Iterator[CloudRunFake]:
    with CloudRunFake() as fake:
        fake.add_job(
            PROJECT,
            REGION,
            RunJob(
                name="features",
                image="us-docker.pkg.dev/bqx-ml/images/features:1.2.3",
                service_account="runner@bqx-ml.iam.gserviceaccount.com",
                timeout="3600s",
                permissions={"run.jobs.run", "run.jobs.get"},
                executions=[
                    RunExecution(
                        "features-old",
                        failed_count=1,
                        create_time="2024-01-01T00:00:00Z",
                        completion_time="2024-01-01T01:00:00Z",
                    ),
                    RunExecution(
                        "features-new",
                        succeeded_count=1,
                        create_time="2024-01-02T00:00:00Z",
                        completion_time="2024-01-02T00:30:00Z",
                    ),
                ],
            ),
        )
        fake.add_job(
            PROJECT,
            REGION,
            RunJob(
                name="broken",
                image="us-docker.pkg.dev/bqx-ml/images/missing:0",
                service_account="runner@bqx-ml.iam.gserviceaccount.com",
                terminal_condition=RunCondition(
                    "Ready", "CONDITION_FAILED", "Image not found.", reason="CONTAINER_MISSING"
                ),
            ),
        )
        yield fake


def _jobs(fake: CloudRunFake) -> run_v2.JobsClient:
    return run_v2.JobsClient(credentials=_anonymous(), transport="rest", client_options=_opts(fake))


def _executions(fake: CloudRunFake) -> run_v2.ExecutionsClient:
    return run_v2.ExecutionsClient(credentials=_anonymous(), transport="rest", client_options=_opts(fake))


def test_cloud_run_get_job_parses_template_conditions_and_latest_execution(
    cloud_run: CloudRunFake,
) -> None:
    job = _jobs(cloud_run).get_job(name=JOB, retry=NO_RETRY, timeout=TIMEOUT)
    task = job.template.template
    assert job.name == JOB
    assert task.containers[0].image.endswith("features:1.2.3")
    assert task.service_account == "runner@bqx-ml.iam.gserviceaccount.com"
    assert task.timeout == datetime.timedelta(seconds=3600)
    assert job.terminal_condition.type_ == "Ready"
    assert job.terminal_condition.state == run_v2.Condition.State.CONDITION_SUCCEEDED
    assert job.execution_count == 2
    assert job.latest_created_execution.name == f"{JOB}/executions/features-new"
    assert (
        job.latest_created_execution.completion_status
        == run_v2.ExecutionReference.CompletionStatus.EXECUTION_SUCCEEDED
    )
    assert cloud_run.request_counts() == {"run.jobs.get": 1}


def test_cloud_run_failed_terminal_condition_carries_reason(cloud_run: CloudRunFake) -> None:
    name = f"projects/{PROJECT}/locations/{REGION}/jobs/broken"
    job = _jobs(cloud_run).get_job(name=name, retry=NO_RETRY, timeout=TIMEOUT)
    assert job.terminal_condition.state == run_v2.Condition.State.CONDITION_FAILED
    assert job.terminal_condition.reason == run_v2.Condition.CommonReason.CONTAINER_MISSING
    assert not job.latest_created_execution.name


def test_cloud_run_list_jobs_follows_page_tokens_one_request_per_page(
    cloud_run: CloudRunFake,
) -> None:
    pager = _jobs(cloud_run).list_jobs(
        request={"parent": f"projects/{PROJECT}/locations/{REGION}", "page_size": 1},
        retry=NO_RETRY,
        timeout=TIMEOUT,
    )
    assert [j.name.rsplit("/", 1)[1] for j in pager] == ["broken", "features"]
    assert cloud_run.request_count("run.jobs.list") == 2


def test_cloud_run_list_executions_newest_first_with_task_counts(cloud_run: CloudRunFake) -> None:
    executions = list(_executions(cloud_run).list_executions(parent=JOB, retry=NO_RETRY, timeout=TIMEOUT))
    assert [e.name.rsplit("/", 1)[1] for e in executions] == ["features-new", "features-old"]
    newest, oldest = executions
    assert (newest.succeeded_count, newest.failed_count) == (1, 0)
    assert (oldest.succeeded_count, oldest.failed_count) == (0, 1)
    assert oldest.conditions[0].type_ == "Completed"
    assert oldest.conditions[0].state == run_v2.Condition.State.CONDITION_FAILED
    assert newest.completion_time.isoformat() == "2024-01-02T00:30:00+00:00"
    assert newest.job == "features"


def test_cloud_run_get_execution_by_name(cloud_run: CloudRunFake) -> None:
    execution = _executions(cloud_run).get_execution(
        name=f"{JOB}/executions/features-old", retry=NO_RETRY, timeout=TIMEOUT
    )
    assert execution.failed_count == 1
    assert execution.template.timeout == datetime.timedelta(seconds=3600)


def test_cloud_run_unknown_job_raises_not_found(cloud_run: CloudRunFake) -> None:
    with pytest.raises(exceptions.NotFound, match="does not exist"):
        _jobs(cloud_run).get_job(
            name=f"projects/{PROJECT}/locations/{REGION}/jobs/nope",
            retry=NO_RETRY,
            timeout=TIMEOUT,
        )


def test_cloud_run_test_iam_permissions_returns_only_granted(cloud_run: CloudRunFake) -> None:
    response = _jobs(cloud_run).test_iam_permissions(
        request={"resource": JOB, "permissions": ["run.jobs.run", "run.jobs.delete"]},
        retry=NO_RETRY,
        timeout=TIMEOUT,
    )
    assert list(response.permissions) == ["run.jobs.run"]


def test_cloud_run_test_iam_permissions_with_nothing_granted_is_empty(
    cloud_run: CloudRunFake,
) -> None:
    response = _jobs(cloud_run).test_iam_permissions(
        request={"resource": JOB, "permissions": ["run.jobs.delete"]},
        retry=NO_RETRY,
        timeout=TIMEOUT,
    )
    assert list(response.permissions) == []


def test_cloud_run_503_fault_is_retried_then_succeeds(cloud_run: CloudRunFake) -> None:
    rule = cloud_run.add_fault(FaultRule.error(503, path=r"/jobs/features$", count=1))
    job = _jobs(cloud_run).get_job(
        name=JOB, retry=_fast_retry(exceptions.ServiceUnavailable), timeout=TIMEOUT
    )
    assert job.name == JOB
    assert rule.fired == 1
    assert cloud_run.request_count("run.jobs.get") == 2


def test_cloud_run_429_raises_too_many_requests(cloud_run: CloudRunFake) -> None:
    cloud_run.add_fault(FaultRule.error(429, method="GET", retry_after=1))
    with pytest.raises(exceptions.TooManyRequests):
        _jobs(cloud_run).get_job(name=JOB, retry=NO_RETRY, timeout=TIMEOUT)


def test_cloud_run_malformed_json_raises_parse_error(cloud_run: CloudRunFake) -> None:
    cloud_run.add_fault(FaultRule.malformed(path=r"/executions$"))
    with pytest.raises(ParseError):
        list(_executions(cloud_run).list_executions(parent=JOB, retry=NO_RETRY, timeout=TIMEOUT))


def test_cloud_run_connection_reset_raises_connection_error(cloud_run: CloudRunFake) -> None:
    cloud_run.add_fault(FaultRule.reset())
    with pytest.raises(requests.exceptions.ConnectionError):
        _jobs(cloud_run).get_job(name=JOB, retry=NO_RETRY, timeout=TIMEOUT)


def test_cloud_run_slow_fault_trips_the_client_timeout(cloud_run: CloudRunFake) -> None:
    cloud_run.add_fault(FaultRule.slow(1.0))
    with pytest.raises(requests.exceptions.ReadTimeout):
        _jobs(cloud_run).get_job(name=JOB, retry=NO_RETRY, timeout=0.2)


def test_fault_skip_lets_first_calls_through_and_fires_on_a_later_call(
    cloud_run: CloudRunFake,
) -> None:
    client = _jobs(cloud_run)
    cloud_run.add_fault(FaultRule.error(500, skip=1))
    client.get_job(name=JOB, retry=NO_RETRY, timeout=TIMEOUT)
    with pytest.raises(exceptions.InternalServerError):
        client.get_job(name=JOB, retry=NO_RETRY, timeout=TIMEOUT)
    client.get_job(name=JOB, retry=NO_RETRY, timeout=TIMEOUT)


def test_unrouted_path_is_counted_and_answers_google_404(cloud_run: CloudRunFake) -> None:
    with pytest.raises(exceptions.NotFound):
        _jobs(cloud_run).get_operation(
            request={"name": f"projects/{PROJECT}/locations/{REGION}/operations/x"},
            retry=NO_RETRY,
            timeout=TIMEOUT,
        )
    assert cloud_run.request_count(UNMATCHED) == 1
    assert cloud_run.request_log[0][1] == "GET"


def test_stopped_server_refuses_connections(cloud_run: CloudRunFake) -> None:
    client = _jobs(cloud_run)
    client.get_job(name=JOB, retry=NO_RETRY, timeout=TIMEOUT)  # leaves a keep-alive connection
    cloud_run.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        client.get_job(name=JOB, retry=NO_RETRY, timeout=TIMEOUT)


# -- Cloud Quotas ----------------------------------------------------------------------------

QUOTA_PARENT = f"projects/{PROJECT}/locations/global/services/run.googleapis.com"


@pytest.fixture
def quotas() -> Iterator[QuotasFake]:
    with QuotasFake() as fake:
        fake.add_quota(
            PROJECT,
            "run.googleapis.com",
            QuotaInfoSeed(
                quota_id="CpuAllocPerProjectRegion",
                metric="run.googleapis.com/cpu_allocation",
                dimensions=["region"],
                limits=[
                    QuotaLimit(20_000, {"region": REGION}, [REGION]),
                    QuotaLimit(10_000),
                ],
            ),
        )
        fake.add_quota(
            PROJECT,
            "run.googleapis.com",
            QuotaInfoSeed(
                quota_id="JobRunsPerMinute",
                metric="run.googleapis.com/job_runs",
                refresh_interval="minute",
                metric_unit="1/min/{project}",
                limits=[QuotaLimit(60)],
            ),
        )
        yield fake


def _quotas(fake: QuotasFake) -> cloudquotas_v1.CloudQuotasClient:
    return cloudquotas_v1.CloudQuotasClient(
        credentials=_anonymous(), transport="rest", client_options=_opts(fake)
    )


def test_quotas_get_quota_info_parses_dimension_limits(quotas: QuotasFake) -> None:
    info = _quotas(quotas).get_quota_info(
        name=f"{QUOTA_PARENT}/quotaInfos/CpuAllocPerProjectRegion",
        retry=NO_RETRY,
        timeout=TIMEOUT,
    )
    limits = {tuple(d.dimensions.items()): d.details.value for d in info.dimensions_infos}
    assert limits == {(("region", REGION),): 20_000, (): 10_000}
    assert info.dimensions_infos[0].applicable_locations == [REGION]
    assert info.container_type == cloudquotas_v1.QuotaInfo.ContainerType.PROJECT
    assert info.metric == "run.googleapis.com/cpu_allocation"


def test_quotas_list_quota_infos_returns_all_for_service(quotas: QuotasFake) -> None:
    infos = list(_quotas(quotas).list_quota_infos(parent=QUOTA_PARENT, retry=NO_RETRY))
    assert [i.quota_id for i in infos] == ["CpuAllocPerProjectRegion", "JobRunsPerMinute"]
    assert infos[1].refresh_interval == "minute"


def test_quotas_unknown_quota_raises_not_found(quotas: QuotasFake) -> None:
    with pytest.raises(exceptions.NotFound):
        _quotas(quotas).get_quota_info(
            name=f"{QUOTA_PARENT}/quotaInfos/Nope", retry=NO_RETRY, timeout=TIMEOUT
        )


def test_quotas_429_raises_too_many_requests(quotas: QuotasFake) -> None:
    quotas.add_fault(FaultRule.error(429, path="/quotaInfos$"))
    with pytest.raises(exceptions.TooManyRequests):
        list(_quotas(quotas).list_quota_infos(parent=QUOTA_PARENT, retry=NO_RETRY))


# -- Service Usage ---------------------------------------------------------------------------


@pytest.fixture
def service_usage() -> Iterator[ServiceUsageFake]:
    with ServiceUsageFake() as fake:
        fake.add_project(PROJECT, "424242")
        fake.set_service(PROJECT, "bigquery.googleapis.com", "ENABLED")
        fake.set_service(PROJECT, "run.googleapis.com", "ENABLED")
        fake.set_service(PROJECT, "storage.googleapis.com", "DISABLED")
        yield fake


def _service_usage(fake: ServiceUsageFake) -> service_usage_v1.ServiceUsageClient:
    return service_usage_v1.ServiceUsageClient(
        credentials=_anonymous(), transport="rest", client_options=_opts(fake)
    )


def test_service_usage_get_service_reports_enabled_with_project_number(
    service_usage: ServiceUsageFake,
) -> None:
    service = _service_usage(service_usage).get_service(
        request={"name": f"projects/{PROJECT}/services/bigquery.googleapis.com"},
        retry=NO_RETRY,
        timeout=TIMEOUT,
    )
    assert service.state == service_usage_v1.State.ENABLED
    assert service.name == "projects/424242/services/bigquery.googleapis.com"
    assert service.config.name == "bigquery.googleapis.com"


def test_service_usage_never_enabled_service_reads_disabled(
    service_usage: ServiceUsageFake,
) -> None:
    service = _service_usage(service_usage).get_service(
        request={"name": f"projects/{PROJECT}/services/cloudquotas.googleapis.com"},
        retry=NO_RETRY,
        timeout=TIMEOUT,
    )
    assert service.state == service_usage_v1.State.DISABLED


def test_service_usage_list_with_enabled_filter_skips_disabled(
    service_usage: ServiceUsageFake,
) -> None:
    services = _service_usage(service_usage).list_services(
        request={"parent": f"projects/{PROJECT}", "filter": "state:ENABLED"},
        retry=NO_RETRY,
        timeout=TIMEOUT,
    )
    assert [s.config.name for s in services] == ["bigquery.googleapis.com", "run.googleapis.com"]
    assert service_usage.request_log[0][2].count("filter=state%3AENABLED") == 1


def test_service_usage_unknown_project_raises_forbidden(
    service_usage: ServiceUsageFake,
) -> None:
    with pytest.raises(exceptions.Forbidden):
        _service_usage(service_usage).get_service(
            request={"name": "projects/other/services/bigquery.googleapis.com"},
            retry=NO_RETRY,
            timeout=TIMEOUT,
        )


def test_service_usage_503_then_success(service_usage: ServiceUsageFake) -> None:
    service_usage.add_fault(FaultRule.error(503, count=2))
    service = _service_usage(service_usage).get_service(
        request={"name": f"projects/{PROJECT}/services/run.googleapis.com"},
        retry=_fast_retry(exceptions.ServiceUnavailable),
        timeout=TIMEOUT,
    )
    assert service.state == service_usage_v1.State.ENABLED
    assert service_usage.request_count("serviceusage.services.get") == 3


# -- Resource Manager ------------------------------------------------------------------------


@pytest.fixture
def resource_manager() -> Iterator[ResourceManagerFake]:
    with ResourceManagerFake() as fake:
        fake.add_project(
            ProjectSeed(
                PROJECT,
                number="424242",
                permissions={"bigquery.jobs.create", "run.jobs.run"},
            )
        )
        fake.add_project(ProjectSeed("doomed", number="777", state="DELETE_REQUESTED"))
        yield fake


def _projects(fake: ResourceManagerFake) -> resourcemanager_v3.ProjectsClient:
    return resourcemanager_v3.ProjectsClient(
        credentials=_anonymous(), transport="rest", client_options=_opts(fake)
    )


def test_resource_manager_get_project_by_id_answers_number_name(
    resource_manager: ResourceManagerFake,
) -> None:
    project = _projects(resource_manager).get_project(
        name=f"projects/{PROJECT}", retry=NO_RETRY, timeout=TIMEOUT
    )
    assert project.name == "projects/424242"
    assert project.project_id == PROJECT
    assert project.state == resourcemanager_v3.Project.State.ACTIVE


def test_resource_manager_delete_requested_project_is_reported(
    resource_manager: ResourceManagerFake,
) -> None:
    project = _projects(resource_manager).get_project(name="projects/doomed", retry=NO_RETRY, timeout=TIMEOUT)
    assert project.state == resourcemanager_v3.Project.State.DELETE_REQUESTED


def test_resource_manager_test_iam_permissions_omits_denied(
    resource_manager: ResourceManagerFake,
) -> None:
    response = _projects(resource_manager).test_iam_permissions(
        request={
            "resource": f"projects/{PROJECT}",
            "permissions": ["bigquery.jobs.create", "storage.buckets.create"],
        },
        retry=NO_RETRY,
        timeout=TIMEOUT,
    )
    assert list(response.permissions) == ["bigquery.jobs.create"]


def test_resource_manager_unknown_project_raises_forbidden(
    resource_manager: ResourceManagerFake,
) -> None:
    with pytest.raises(exceptions.Forbidden):
        _projects(resource_manager).get_project(name="projects/ghost", retry=NO_RETRY, timeout=TIMEOUT)


def test_resource_manager_malformed_json_raises_parse_error(
    resource_manager: ResourceManagerFake,
) -> None:
    resource_manager.add_fault(FaultRule.malformed(method="POST"))
    with pytest.raises(ParseError):
        _projects(resource_manager).test_iam_permissions(
            request={"resource": f"projects/{PROJECT}", "permissions": ["run.jobs.run"]},
            retry=NO_RETRY,
            timeout=TIMEOUT,
        )


# -- Front proxies: a canned upstream stands in for the emulators ----------------------------


class CannedUpstream(FakeServer):
    """A few emulator-like routes; remembers the requests it was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Request] = []
        self.route("GET", r"/bigquery/v2/projects/p/datasets/d", self._dataset, "dataset")
        self.route("POST", r"/bigquery/v2/projects/p/jobs", self._job, "job")
        self.route("POST", r"/bigquery/v2/projects/p/queries", self._job, "query")
        self.route("GET", r"/storage/v1/b/bkt", self._bucket, "bucket")
        self.route("POST", r"/upload/storage/v1/b/bkt/o", self._upload, "upload")
        self.route("GET", r"/download/storage/v1/b/bkt/o/obj", self._download, "download")
        self.route("GET", r"/redirect", self._redirect, "redirect")

    def _dataset(self, request: Request) -> Response:
        self.seen.append(request)
        return Response.of_json(
            {
                "kind": "bigquery#dataset",
                "id": "p:d",
                "datasetReference": {"projectId": "p", "datasetId": "d"},
                "location": "US",
            }
        )

    def _job(self, request: Request) -> Response:
        self.seen.append(request)
        job = request.json()
        return Response.of_json({**job, "status": {"state": "RUNNING"}})

    def _bucket(self, request: Request) -> Response:
        self.seen.append(request)
        return Response.of_json({"kind": "storage#bucket", "name": "bkt", "location": "US"})

    def _upload(self, request: Request) -> Response:
        self.seen.append(request)
        return Response.of_json({"kind": "storage#object", "bucket": "bkt", "name": "obj", "generation": "1"})

    def _download(self, request: Request) -> Response:
        self.seen.append(request)
        return Response(200, b"payload", [("Content-Type", "application/octet-stream")])

    def _redirect(self, request: Request) -> Response:
        return Response(308, b"", [("Location", f"{self.url}/upload/next?id=1")])


@pytest.fixture
def upstream() -> Iterator[CannedUpstream]:
    with CannedUpstream() as server:
        yield server


@pytest.fixture
def bq_front(upstream: CannedUpstream) -> Iterator[BigQueryFront]:
    with BigQueryFront(upstream.url) as front:
        front.grant_table("p.d.events", {"bigquery.tables.getData", "bigquery.tables.get"})
        front.set_table_bytes("p.d.events", 1_000)
        front.set_table_bytes("p.d.labels", 234)
        yield front


def _bq(front: BigQueryFront) -> bigquery.Client:
    return bigquery.Client(project="p", credentials=_anonymous(), client_options=_opts(front))


def test_bigquery_front_table_test_iam_permissions_returns_only_granted(
    bq_front: BigQueryFront, upstream: CannedUpstream
) -> None:
    response = _bq(bq_front).test_iam_permissions(
        "p.d.events", ["bigquery.tables.getData", "bigquery.tables.updateData"], retry=NO_RETRY
    )
    assert response == {"permissions": ["bigquery.tables.getData"]}
    assert upstream.request_count() == 0


def test_bigquery_front_unknown_table_answers_an_empty_set_as_google_does(bq_front: BigQueryFront) -> None:
    # BigQuery's testIamPermissions "may fail open": no 404 for a table that does not exist.
    answer = _bq(bq_front).test_iam_permissions("p.d.nope", ["bigquery.tables.get"], retry=NO_RETRY)
    assert answer.get("permissions", []) == []


def test_bigquery_front_dry_run_sums_bytes_of_referenced_tables(bq_front: BigQueryFront) -> None:
    sql = "SELECT * FROM `p.d.events` JOIN `p`.`d`.`labels` USING (id) JOIN `d.events` USING (id)"
    job = _bq(bq_front).query(sql, job_config=bigquery.QueryJobConfig(dry_run=True), retry=NO_RETRY)
    assert job.total_bytes_processed == 1_234
    assert job.state == "DONE"
    assert job.job_id is None  # real dry runs create no job
    assert {t.table_id for t in job.referenced_tables} == {"events", "labels"}
    assert bq_front.request_counts() == {"bigquery.jobs.insert": 1}


def test_bigquery_front_dry_run_through_jobs_query_api(bq_front: BigQueryFront) -> None:
    job = _bq(bq_front).query(
        "SELECT 1 FROM `p.d.labels`",
        job_config=bigquery.QueryJobConfig(dry_run=True),
        api_method="QUERY",
        retry=NO_RETRY,
    )
    assert job.total_bytes_processed == 234
    assert bq_front.request_counts() == {"bigquery.jobs.query": 1}


def test_bigquery_front_dry_run_of_a_table_of_unknown_size_says_unknown(bq_front: BigQueryFront) -> None:
    # Neither registered nor sized by the upstream: the bytes are no estimate, and say so.
    job = _bq(bq_front).query(
        "SELECT * FROM `p.d.unknown`",
        job_config=bigquery.QueryJobConfig(dry_run=True),
        retry=NO_RETRY,
    )
    assert job.total_bytes_processed == 0
    assert job._properties["statistics"]["query"]["totalBytesProcessedAccuracy"] == "UNKNOWN"


def test_bigquery_front_forwards_other_calls_unchanged(
    bq_front: BigQueryFront, upstream: CannedUpstream
) -> None:
    client = _bq(bq_front)
    dataset = client.get_dataset("p.d", retry=NO_RETRY)
    job = client.query("SELECT 1", job_id="real-job", retry=NO_RETRY, job_retry=None)
    assert dataset.location == "US"
    assert job.job_id == "real-job" and job.state == "RUNNING"
    assert [r.path for r in upstream.seen] == [
        "/bigquery/v2/projects/p/datasets/d",
        "/bigquery/v2/projects/p/jobs",
    ]
    assert upstream.seen[0].header("Host") == upstream.url.removeprefix("http://")
    assert upstream.seen[1].json()["configuration"]["query"]["query"] == "SELECT 1"
    assert bq_front.request_counts() == {"forward": 1, "bigquery.jobs.insert": 1}


def test_bigquery_front_503_backend_error_is_retried_by_default_predicate(
    bq_front: BigQueryFront,
) -> None:
    bq_front.add_fault(FaultRule.error(503, path="/datasets/d$"))
    retry = bigquery.DEFAULT_RETRY.with_delay(initial=0.01, maximum=0.05).with_timeout(5.0)
    assert _bq(bq_front).get_dataset("p.d", retry=retry).location == "US"
    assert bq_front.request_count("forward") == 2


def test_bigquery_front_429_raises_too_many_requests(bq_front: BigQueryFront) -> None:
    bq_front.add_fault(FaultRule.error(429, path=":testIamPermissions$"))
    with pytest.raises(exceptions.TooManyRequests) as caught:
        _bq(bq_front).test_iam_permissions("p.d.events", ["bigquery.tables.get"], retry=NO_RETRY)
    assert caught.value.errors[0]["reason"] == "rateLimitExceeded"


def test_bigquery_front_malformed_json_raises_value_error(bq_front: BigQueryFront) -> None:
    bq_front.add_fault(FaultRule.malformed())
    with pytest.raises(ValueError):
        _bq(bq_front).get_dataset("p.d", retry=NO_RETRY)


def test_front_with_dead_upstream_answers_502(upstream: CannedUpstream) -> None:
    dead_url = upstream.url
    upstream.stop()
    with BigQueryFront(dead_url) as front, pytest.raises(exceptions.BadGateway):
        _bq(front).get_dataset("p.d", retry=NO_RETRY)


# google-cloud-storage >= 3.x fetches bucket metadata (GET /b/{bucket}) in a background
# thread the first time a client touches a bucket by a call other than get/reload/exists,
# unless this variable is true. Tests that count requests switch it off.
_BUCKET_METADATA_OFF = "DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA"


@pytest.fixture
def gcs_front(upstream: CannedUpstream, monkeypatch: pytest.MonkeyPatch) -> Iterator[StorageFront]:
    monkeypatch.setenv(_BUCKET_METADATA_OFF, "true")
    with StorageFront(upstream.url) as front:
        front.grant_bucket("bkt", {"storage.objects.get", "storage.objects.create"})
        yield front


def _gcs(front: StorageFront) -> StorageClient:
    return StorageClient(project="p", credentials=_anonymous(), client_options=_opts(front))


def test_storage_front_bucket_test_iam_permissions_returns_only_granted(
    gcs_front: StorageFront, upstream: CannedUpstream
) -> None:
    bucket = _gcs(gcs_front).bucket("bkt")
    granted = bucket.test_iam_permissions(
        ["storage.objects.get", "storage.objects.delete"], retry=None, timeout=TIMEOUT
    )
    assert granted == ["storage.objects.get"]
    assert upstream.request_count() == 0


def test_storage_front_unknown_bucket_raises_not_found(gcs_front: StorageFront) -> None:
    with pytest.raises(exceptions.NotFound):
        _gcs(gcs_front).bucket("other").test_iam_permissions(
            ["storage.objects.get"], retry=None, timeout=TIMEOUT
        )


def test_storage_front_forwards_metadata_upload_and_download(
    gcs_front: StorageFront, upstream: CannedUpstream
) -> None:
    client = _gcs(gcs_front)
    bucket = client.get_bucket("bkt", retry=None, timeout=TIMEOUT)
    blob = bucket.blob("obj")
    blob.upload_from_string(b"hello", retry=None, timeout=TIMEOUT)
    data = bucket.blob("obj").download_as_bytes(retry=None, timeout=TIMEOUT, checksum=None)
    assert bucket.location == "US"
    assert data == b"payload"
    upload = upstream.seen[1]
    assert upload.query["uploadType"] == ["multipart"]
    assert b"hello" in upload.body
    assert gcs_front.request_count("forward") == 3


def test_storage_front_rewrites_upstream_location_to_itself(
    gcs_front: StorageFront, upstream: CannedUpstream
) -> None:
    # Resumable-upload session URLs must keep pointing at the front.
    response = requests.get(f"{gcs_front.url}/redirect", allow_redirects=False, timeout=TIMEOUT)
    assert response.status_code == http.client.PERMANENT_REDIRECT
    assert response.headers["Location"] == f"{gcs_front.url}/upload/next?id=1"


def test_storage_front_503_then_success_with_storage_retry(gcs_front: StorageFront) -> None:
    gcs_front.add_fault(FaultRule.error(503, path="/iam/testPermissions$"))
    retry = STORAGE_DEFAULT_RETRY.with_delay(initial=0.01, maximum=0.05).with_timeout(5.0)
    granted = (
        _gcs(gcs_front)
        .bucket("bkt")
        .test_iam_permissions(["storage.objects.create"], retry=retry, timeout=TIMEOUT)
    )
    assert granted == ["storage.objects.create"]
    assert gcs_front.request_count("storage.buckets.testIamPermissions") == 2


def test_storage_front_429_raises_too_many_requests(gcs_front: StorageFront) -> None:
    gcs_front.add_fault(FaultRule.error(429))
    with pytest.raises(exceptions.TooManyRequests):
        _gcs(gcs_front).get_bucket("bkt", retry=None, timeout=TIMEOUT)


def test_storage_client_fetches_bucket_metadata_in_background_unless_disabled(
    gcs_front: StorageFront, upstream: CannedUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(_BUCKET_METADATA_OFF)
    _gcs(gcs_front).bucket("bkt").test_iam_permissions(["storage.objects.get"], retry=None, timeout=TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    while upstream.request_count("bucket") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gcs_front.request_counts() == {"storage.buckets.testIamPermissions": 1, "forward": 1}
