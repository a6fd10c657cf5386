"""Cloud Run jobs: deployed and ready, configured as declared, and how their latest execution ended."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

import pytest
from google.api_core import exceptions as api_exceptions

from checks.findings import absent, finding, unverified
from checks.gcp.access import GoogleAccess
from checks.gcp.answers import Read
from checks.gcp.enums import enum_name, is_known
from checks.gcp.errors import api_call, describe
from checks.inspect.git_history import last_commit_dates
from readiness.cases import Case
from readiness.manifest import LoadedManifest
from readiness.manifest.gcp import Gcp, Job

API: Final = "Cloud Run"

# Enum names, not run_v2 enums: importing the Run client at collection would slow every run.
_SUCCEEDED: Final = "CONDITION_SUCCEEDED"


def _job(case: Case) -> Job:
    assert isinstance(case.item, Job)
    return case.item


def job_name(job: Job, google: GoogleAccess) -> str:
    return job_resource(job, google.gcp)


def job_resource(job: Job, gcp: Gcp) -> str:
    return f"projects/{gcp.project}/locations/{job.region or gcp.region}/jobs/{job.name}"


def _where(job: Job, google: GoogleAccess) -> str:
    return f"{job.name} (project {google.project}, region {job.region or google.gcp.region})"


@dataclass(frozen=True, slots=True)
class Refusal:
    """The get's NotFound or Forbidden: an answer about the job, kept as its text."""

    not_found: bool
    text: str


def job_read(job: Job, gcp: Gcp) -> Read:
    """The job as the API answers it, read once per run for the three criteria: the job, or
    the NotFound / Forbidden answer; a failed read is the same unverified reason for each."""
    name = job_resource(job, gcp)

    def fetch(google: GoogleAccess) -> Any:
        with api_call(API, google.identity.principal):
            try:
                return google.run_jobs.get_job(
                    name=name, retry=google.read_retry(API), timeout=google.timeout
                )
            except (api_exceptions.NotFound, api_exceptions.Forbidden) as exc:
                text = describe(API, exc, who=google.identity.principal)
                return Refusal(isinstance(exc, api_exceptions.NotFound), text)

    return Read(f"run.jobs.get {name}", fetch)


def execution_read(job: Job, gcp: Gcp) -> Read:
    """The job's latest execution (None when the job has none or could not be read): it
    needs the job's answer first, the one chain of requests of a job."""
    read = job_read(job, gcp)

    def fetch(google: GoogleAccess) -> Any:
        found = google.answer(read)
        latest = None if isinstance(found, Refusal) else found.latest_created_execution.name
        if not latest:
            return None
        with api_call(API, google.identity.principal):
            return google.run_executions.get_execution(
                name=latest, retry=google.read_retry(API), timeout=google.timeout
            )

    return Read(f"run.executions.latest {read.key}", fetch, chained=True)


def _get_job(job: Job, google: GoogleAccess, *, reports_absence: dict[str, Any] | None = None) -> Any:
    """The deployed job. Only run_job_ready reports absence as a finding (`reports_absence`: its
    facts, marked absent); the other criteria cannot be verified without the job and say so, so
    a missing job is one finding, not three."""
    __tracebackhide__ = True
    answer = google.answer(job_read(job, google.gcp))
    if isinstance(answer, Refusal) and answer.not_found:
        if reports_absence is not None:
            absent(reports_absence, f"{_where(job, google)}: job not found")
        unverified(f"{_where(job, google)}: job not found (reported by run_job_ready)")
    if isinstance(answer, Refusal):
        # Lacking run.jobs.get (or the API disabled) says nothing about the job: unverified,
        # naming what is missing.
        unverified(f"{_where(job, google)}: {answer.text}")
    return answer


def _condition_text(condition: Any) -> str:
    parts = [enum_name(condition.state)]
    for reason in (condition.reason, condition.execution_reason):
        if reason:  # enum value 0 is "undefined"
            parts.append(enum_name(reason))
    text = " ".join(parts)
    return f"{text}: {condition.message}" if condition.message else text


@pytest.mark.criterion("run_job_ready")
def check_run_job_ready(case: Case, google: GoogleAccess, facts: dict[str, Any]) -> None:
    job = _job(case)
    found = _get_job(job, google, reports_absence=facts)
    facts["generation"] = found.generation
    facts["executions"] = found.execution_count
    condition = found.terminal_condition
    facts["terminal_condition"] = _condition_text(condition) if condition.type_ else "none"
    if not condition.type_:
        finding(f"{_where(job, google)}: no terminal condition reported (still deploying?)")
    if not is_known(condition.state):
        unverified(
            f"{_where(job, google)}: terminal condition {condition.type_} has state "
            f"{enum_name(condition.state)}; upgrade google-cloud-run to judge it"
        )
    if enum_name(condition.state) != _SUCCEEDED:
        finding(f"{_where(job, google)}: not ready: {condition.type_} {_condition_text(condition)}")
    # Mid-deploy, the terminal condition still describes the previous generation: a SUCCEEDED
    # there says nothing of the template being rolled out.
    facts["observed_generation"] = found.observed_generation
    if found.reconciling or found.observed_generation < found.generation:
        finding(
            f"{_where(job, google)}: not ready: deploy in progress (generation {found.generation}, "
            f"observed {found.observed_generation}{', reconciling' if found.reconciling else ''}); "
            "the terminal condition is from the previous generation"
        )


@pytest.mark.criterion("run_job_config")
def check_run_job_config(
    case: Case, google: GoogleAccess, manifest: LoadedManifest, facts: dict[str, Any]
) -> None:
    job = _job(case)
    found = _get_job(job, google)
    task = found.template.template
    images = [c.image for c in task.containers]
    facts["images"] = images
    facts["service_account"] = task.service_account or "default compute service account"
    facts["timeout_seconds"] = int(task.timeout.total_seconds()) if task.timeout else None
    problems: list[str] = []
    if job.image and not any(image.startswith(job.image) for image in images):
        problems.append(f"image {', '.join(images) or 'none'} is not {job.image}")
    if job.service_account and task.service_account != job.service_account:
        problems.append(f"runs as {facts['service_account']}, not {job.service_account}")
    if job.timeout_seconds is not None and facts["timeout_seconds"] != job.timeout_seconds:
        problems.append(f"task timeout {facts['timeout_seconds']} s, declared {job.timeout_seconds} s")
    unknown = ""
    if job.script:
        stale, unknown = _image_vs_script(job, found, manifest, facts)
        if stale:
            problems.append(stale)
    if problems:
        finding(f"{_where(job, google)}: " + "; ".join(problems))
    if unknown:
        unverified(f"{_where(job, google)}: {unknown}")


def _image_vs_script(
    job: Job, found: Any, manifest: LoadedManifest, facts: dict[str, Any]
) -> tuple[str, str]:
    """(finding, unverifiable reason): is the deployed image newer than the script's last change?

    Cloud Run does not know when an image was built; the job's last update (the deploy that
    set the image) is the latest the build can have happened, so an update older than the
    script's last commit proves the image predates it. git gives commit days, so only a deploy
    on an earlier day is a finding; a deploy on the same day is reported as a fact.
    """
    dates = last_commit_dates(manifest.root, [job.script])
    if dates is None:
        return "", f"cannot date {job.script}: {manifest.root} is not a git work tree"
    changed = dates.get(job.script)
    if not changed:
        return "", f"cannot date {job.script}: no commit touches it"
    deployed: dt.datetime = found.update_time or found.create_time
    deployed_day = deployed.astimezone(dt.UTC).date().isoformat()
    facts["script_changed"] = changed
    facts["deployed"] = deployed.isoformat()
    if deployed_day < changed:
        return f"deployed {deployed_day}, before {job.script} last changed ({changed}): rebuild the image", ""
    if deployed_day == changed:
        facts["image_vs_script"] = "deployed the day the script last changed: order not known"
    return "", ""


@pytest.mark.criterion("run_job_last_execution")
def check_run_job_last_execution(case: Case, google: GoogleAccess, facts: dict[str, Any]) -> None:
    job = _job(case)
    found = _get_job(job, google)
    latest = found.latest_created_execution
    if not latest.name:
        finding(f"{_where(job, google)}: never executed")
    execution = google.answer(execution_read(job, google.gcp))
    execution_id = latest.name.rsplit("/", 1)[-1]
    facts["execution"] = execution_id
    facts["created"] = execution.create_time.isoformat() if execution.create_time else None
    counts = (
        f"{execution.succeeded_count} of {execution.task_count} task(s) succeeded, "
        f"{execution.failed_count} failed, {execution.cancelled_count} cancelled, "
        f"{execution.retried_count} retried"
    )
    facts["tasks"] = counts
    status = enum_name(latest.completion_status)
    if not latest.completion_status:
        # Older executions carry no completionStatus: judge the execution itself.
        status = _status_of(execution)
        facts["status_from"] = "the execution's task counts and conditions (no completionStatus)"
    facts["status"] = status
    if status in ("EXECUTION_RUNNING", "EXECUTION_PENDING") or not execution.completion_time:
        unverified(f"{_where(job, google)}: execution {execution_id} still running ({counts})")
    if not is_known(latest.completion_status):
        unverified(
            f"{_where(job, google)}: execution {execution_id} has completion status {status}; "
            "upgrade google-cloud-run to judge it"
        )
    if status == "EXECUTION_SUCCEEDED" and not execution.failed_count:
        return
    failed = [c for c in execution.conditions if enum_name(c.state) != _SUCCEEDED]
    why = "; ".join(f"{c.type_} {_condition_text(c)}" for c in failed) or status
    finding(f"{_where(job, google)}: latest execution {execution_id} did not succeed ({counts}): {why}")


def _status_of(execution: Any) -> str:
    """A completed execution's outcome from its counts and its Completed condition."""
    if not execution.completion_time:
        return "EXECUTION_RUNNING"
    if execution.cancelled_count:
        return "EXECUTION_CANCELLED"
    if execution.failed_count:
        return "EXECUTION_FAILED"
    completed = [c for c in execution.conditions if c.type_ == "Completed"]
    if completed and all(enum_name(c.state) == _SUCCEEDED for c in completed):
        return "EXECUTION_SUCCEEDED"
    if not completed and execution.succeeded_count >= execution.task_count > 0:
        return "EXECUTION_SUCCEEDED"
    return "EXECUTION_FAILED"
