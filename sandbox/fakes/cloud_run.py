"""Fake Cloud Run Admin API v2: jobs get/list/testIamPermissions, executions get/list.

Resources are seeded from Python and rendered in the v2 REST JSON shape (camelCase names,
int64 as strings, durations as "3600s") that `google.cloud.run_v2`'s REST transport parses
with `json_format.Parse(..., ignore_unknown_fields=True)`. Enums go as names, or as numbers
when the client asks `$alt=json;enum-encoding=int` (run_v2 always does); a seeded enum given
as an int is a value newer than any client and goes out as that number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.fakes.http import (
    ApiError,
    EnumNumbers,
    FakeServer,
    JsonDict,
    Request,
    Response,
    paginate,
)

_SEG = r"[^/:]+"
_LOC = rf"/v2/projects/(?P<project>{_SEG})/locations/(?P<location>{_SEG})"
_EPOCH = "2024-01-01T00:00:00Z"

#: google.cloud.run.v2 enum numbers (run_v2 protos; google.api.LaunchStage).
ENUM_NUMBERS: EnumNumbers = {
    "state": {
        "STATE_UNSPECIFIED": 0,
        "CONDITION_PENDING": 1,
        "CONDITION_RECONCILING": 2,
        "CONDITION_FAILED": 3,
        "CONDITION_SUCCEEDED": 4,
    },
    "reason": {
        "COMMON_REASON_UNDEFINED": 0,
        "UNKNOWN": 1,
        "REVISION_FAILED": 3,
        "PROGRESS_DEADLINE_EXCEEDED": 4,
        "CONTAINER_MISSING": 6,
        "CONTAINER_PERMISSION_DENIED": 7,
        "CONTAINER_IMAGE_UNAUTHORIZED": 8,
        "CONTAINER_IMAGE_AUTHORIZATION_CHECK_FAILED": 9,
        "ENCRYPTION_KEY_PERMISSION_DENIED": 10,
        "ENCRYPTION_KEY_CHECK_FAILED": 11,
        "SECRETS_ACCESS_CHECK_FAILED": 12,
        "WAITING_FOR_OPERATION": 13,
        "IMMEDIATE_RETRY": 14,
        "POSTPONED_RETRY": 15,
        "INTERNAL": 16,
        "VPC_NETWORK_NOT_FOUND": 17,
    },
    "executionReason": {
        "EXECUTION_REASON_UNDEFINED": 0,
        "JOB_STATUS_SERVICE_POLLING_ERROR": 1,
        "NON_ZERO_EXIT_CODE": 2,
        "CANCELLED": 3,
        "CANCELLING": 4,
        "DELETED": 5,
        "DELAYED_START_PENDING": 6,
    },
    "completionStatus": {
        "COMPLETION_STATUS_UNSPECIFIED": 0,
        "EXECUTION_SUCCEEDED": 1,
        "EXECUTION_FAILED": 2,
        "EXECUTION_RUNNING": 3,
        "EXECUTION_PENDING": 4,
        "EXECUTION_CANCELLED": 5,
    },
    "executionEnvironment": {
        "EXECUTION_ENVIRONMENT_UNSPECIFIED": 0,
        "EXECUTION_ENVIRONMENT_GEN1": 1,
        "EXECUTION_ENVIRONMENT_GEN2": 2,
    },
    "launchStage": {
        "LAUNCH_STAGE_UNSPECIFIED": 0,
        "UNIMPLEMENTED": 6,
        "PRELAUNCH": 7,
        "EARLY_ACCESS": 1,
        "ALPHA": 2,
        "BETA": 3,
        "GA": 4,
        "DEPRECATED": 5,
    },
}


@dataclass
class RunCondition:
    """google.cloud.run.v2.Condition; `state` is a Condition.State name (or a number newer
    than the clients know)."""

    type: str
    state: str | int = "CONDITION_SUCCEEDED"
    message: str = ""
    reason: str | None = None  # CommonReason name, e.g. "CONTAINER_MISSING"
    execution_reason: str | None = None  # ExecutionReason name, e.g. "NON_ZERO_EXIT_CODE"
    last_transition_time: str = _EPOCH

    def to_json(self) -> JsonDict:
        body: JsonDict = {
            "type": self.type,
            "state": self.state,
            "lastTransitionTime": self.last_transition_time,
        }
        if self.message:
            body["message"] = self.message
        if self.reason:
            body["reason"] = self.reason
        if self.execution_reason:
            body["executionReason"] = self.execution_reason
        return body


@dataclass
class RunExecution:
    """An execution of a job; `completion_time` None means it is still running."""

    id: str
    succeeded_count: int = 0
    failed_count: int = 0
    running_count: int = 0
    cancelled_count: int = 0
    retried_count: int = 0
    task_count: int = 1
    create_time: str = _EPOCH
    completion_time: str | None = None
    conditions: list[RunCondition] | None = None  # None derives a "Completed" condition
    #: Executions created before Cloud Run reported it carry no completionStatus in the job's
    #: latestCreatedExecution reference.
    reports_completion_status: bool = True

    def completion_status(self) -> str:
        if self.completion_time is None:
            return "EXECUTION_RUNNING"
        if self.cancelled_count:
            return "EXECUTION_CANCELLED"
        return "EXECUTION_FAILED" if self.failed_count else "EXECUTION_SUCCEEDED"

    def effective_conditions(self) -> list[RunCondition]:
        if self.conditions is not None:
            return self.conditions
        status = self.completion_status()
        state = {
            "EXECUTION_RUNNING": "CONDITION_RECONCILING",
            "EXECUTION_SUCCEEDED": "CONDITION_SUCCEEDED",
        }.get(status, "CONDITION_FAILED")
        return [RunCondition("Completed", state, last_transition_time=self.create_time)]


@dataclass
class RunJob:
    """A Cloud Run job with its task template and executions (oldest first)."""

    name: str
    image: str
    service_account: str
    timeout: str = "600s"  # TaskTemplate.timeout, a proto Duration in JSON form
    max_retries: int = 3
    task_count: int = 1
    parallelism: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    terminal_condition: RunCondition | None = field(
        default_factory=lambda: RunCondition("Ready", "CONDITION_SUCCEEDED")
    )
    conditions: list[RunCondition] = field(default_factory=list)
    executions: list[RunExecution] = field(default_factory=list)
    permissions: set[str] = field(default_factory=set)  # granted to the caller
    create_time: str = _EPOCH
    #: A deploy in progress: generation > observed_generation and reconciling, while the
    #: terminal condition still describes the previous generation.
    generation: int = 1
    observed_generation: int = 1
    reconciling: bool = False


def _task_template(job: RunJob) -> JsonDict:
    container: JsonDict = {
        "image": job.image,
        "resources": {"limits": {"cpu": "1000m", "memory": "512Mi"}},
    }
    if job.env:
        container["env"] = [{"name": k, "value": v} for k, v in job.env.items()]
    return {
        "containers": [container],
        "maxRetries": job.max_retries,
        "timeout": job.timeout,
        "serviceAccount": job.service_account,
        "executionEnvironment": "EXECUTION_ENVIRONMENT_GEN2",
    }


class CloudRunFake(FakeServer):
    """Serves the seeded jobs; add them with `add_job(project, location, job)`."""

    service = "run.googleapis.com"
    enum_numbers = ENUM_NUMBERS

    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[str, RunJob] = {}  # by full resource name
        jobs, job = f"{_LOC}/jobs", rf"{_LOC}/jobs/(?P<job>{_SEG})"
        self.route("GET", job, self._get_job, "run.jobs.get", "run.jobs.get")
        self.route("GET", jobs, self._list_jobs, "run.jobs.list", "run.jobs.list")
        # testIamPermissions needs no permission: anyone may ask what they hold.
        self.route("POST", rf"{job}:testIamPermissions", self._test_iam, "run.jobs.testIamPermissions")
        self.route(
            "GET", rf"{job}/executions", self._list_executions, "run.executions.list", "run.executions.list"
        )
        self.route(
            "GET",
            rf"{job}/executions/(?P<execution>{_SEG})",
            self._get_execution,
            "run.executions.get",
            "run.executions.get",
        )

    def resource_grants(self, request: Request) -> tuple[str, set[str]] | None:
        p = request.params
        if "job" not in p:
            return None
        name = f"projects/{p['project']}/locations/{p['location']}/jobs/{p['job']}"
        job = self.jobs.get(name)
        return name, set(job.permissions) if job else set()

    def add_job(self, project: str, location: str, job: RunJob) -> str:
        name = f"projects/{project}/locations/{location}/jobs/{job.name}"
        self.jobs[name] = job
        return name

    # -- rendering ---------------------------------------------------------------------------

    def _execution_json(self, job_name: str, job: RunJob, execution: RunExecution) -> JsonDict:
        body: JsonDict = {
            "name": f"{job_name}/executions/{execution.id}",
            "uid": f"uid-{execution.id}",
            "job": job.name,  # the short job id, as the real API returns it
            "generation": "1",
            "createTime": execution.create_time,
            "startTime": execution.create_time,
            "launchStage": "GA",
            "parallelism": job.parallelism,
            "taskCount": execution.task_count,
            "template": _task_template(job),
            "reconciling": execution.completion_time is None,
            "conditions": [c.to_json() for c in execution.effective_conditions()],
            "observedGeneration": "1",
            "runningCount": execution.running_count,
            "succeededCount": execution.succeeded_count,
            "failedCount": execution.failed_count,
            "cancelledCount": execution.cancelled_count,
            "retriedCount": execution.retried_count,
            "etag": f'"{execution.id}"',
        }
        if execution.completion_time is not None:
            body["completionTime"] = execution.completion_time
        return body

    def _job_json(self, name: str, job: RunJob) -> JsonDict:
        body: JsonDict = {
            "name": name,
            "uid": f"uid-{job.name}",
            "generation": str(job.generation),
            "labels": job.labels,
            "createTime": job.create_time,
            "updateTime": job.create_time,
            "launchStage": "GA",
            "template": {
                "taskCount": job.task_count,
                "parallelism": job.parallelism,
                "template": _task_template(job),
            },
            "observedGeneration": str(job.observed_generation),
            "conditions": [c.to_json() for c in job.conditions],
            "executionCount": len(job.executions),
            "reconciling": job.reconciling,
            "etag": f'"{job.name}"',
        }
        if job.terminal_condition is not None:
            body["terminalCondition"] = job.terminal_condition.to_json()
        if job.executions:
            latest = job.executions[-1]
            reference: JsonDict = {
                "name": f"{name}/executions/{latest.id}",
                "createTime": latest.create_time,
            }
            if latest.reports_completion_status:
                reference["completionStatus"] = latest.completion_status()
            if latest.completion_time is not None:
                reference["completionTime"] = latest.completion_time
            body["latestCreatedExecution"] = reference
        return body

    # -- handlers ----------------------------------------------------------------------------

    def _find_job(self, request: Request) -> tuple[str, RunJob]:
        p = request.params
        name = f"projects/{p['project']}/locations/{p['location']}/jobs/{p['job']}"
        job = self.jobs.get(name)
        if job is None:
            raise ApiError(
                404,
                f"Resource '{p['job']}' of kind 'JOB' in region "
                f"'{p['location']}' in project '{p['project']}' does not exist.",
            )
        return name, job

    def _get_job(self, request: Request) -> Response:
        return Response.of_json(self._job_json(*self._find_job(request)))

    def _list_jobs(self, request: Request) -> Response:
        prefix = f"projects/{request.params['project']}/locations/{request.params['location']}/"
        items = [self._job_json(n, j) for n, j in sorted(self.jobs.items()) if n.startswith(prefix)]
        page, token = paginate(items, request)
        body: JsonDict = {"jobs": page} if page else {}
        if token:
            body["nextPageToken"] = token
        return Response.of_json(body)

    def _test_iam(self, request: Request) -> Response:
        _, job = self._find_job(request)
        asked = request.json().get("permissions", [])
        granted = [p for p in asked if p in job.permissions]
        # Proto3 JSON omits empty repeated fields: nothing granted is `{}`.
        return Response.of_json({"permissions": granted} if granted else {})

    def _list_executions(self, request: Request) -> Response:
        name, job = self._find_job(request)
        # Newest first, as the real API lists them.
        items = [self._execution_json(name, job, e) for e in reversed(job.executions)]
        page, token = paginate(items, request)
        body: JsonDict = {"executions": page} if page else {}
        if token:
            body["nextPageToken"] = token
        return Response.of_json(body)

    def _get_execution(self, request: Request) -> Response:
        name, job = self._find_job(request)
        wanted = request.params["execution"]
        for execution in job.executions:
            if execution.id == wanted:
                return Response.of_json(self._execution_json(name, job, execution))
        raise ApiError(404, f"Resource '{wanted}' of kind 'EXECUTION' does not exist.")
