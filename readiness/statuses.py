"""Item statuses, one vocabulary for every document: decided by what failed, not by how urgent it is.

MISSING: required, absent. BLOCKED: exists but cannot run as the phase will run it. PARTIAL:
runs, but needs updates. READY: exists, sound, no blockers. NOT AUDITED: none of its cases ran.
The priority is shown beside the status ("BLOCKED (P1)"), never folded into it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final

from readiness.priorities import Priority
from readiness.records import CaseRecord

__all__ = ["ABSENT_FACT", "CRITERION_STATUS", "STATUS_MEANING", "Status", "item_status", "status_text"]


class Status(StrEnum):
    READY = "READY"  # exists, sound, no blockers
    PARTIAL = "PARTIAL"  # runs, but needs updates (flags, pins, mandate gaps)
    MISSING = "MISSING"  # required, absent
    BLOCKED = "BLOCKED"  # exists, but cannot run as the phase will run it
    NOT_AUDITED = "NOT AUDITED"  # none of its cases was selected in this run
    UNDECLARED = "UNDECLARED"  # in the repository, not in the manifest (readiness.undeclared)


#: What each status means, as the documents explain it.
STATUS_MEANING: Final[dict[Status, str]] = {
    Status.READY: "exists, sound, no blockers",
    Status.PARTIAL: "runs, but needs updates (flags, pins, mandate gaps)",
    Status.MISSING: "required, absent",
    Status.BLOCKED: "exists, but cannot run as the phase will run it",
    Status.NOT_AUDITED: "none of its cases ran in this audit",
    Status.UNDECLARED: "in the repository but not in the manifest; audited at P3",
}

#: What an open case of each criterion makes of its item. A test holds every criterion to one.
CRITERION_STATUS: Final[dict[str, Status]] = {
    "script_exists": Status.MISSING,
    # The phase cannot start it.
    "python_parses": Status.BLOCKED,
    "shell_parses": Status.BLOCKED,
    "shell_executable": Status.BLOCKED,
    "imports_resolve": Status.BLOCKED,
    "docker_sources": Status.BLOCKED,
    "docker_entrypoint": Status.BLOCKED,
    "cloudbuild_parses": Status.BLOCKED,
    "cloudbuild_dockerfile": Status.BLOCKED,
    "package_installed": Status.BLOCKED,
    "tool_available": Status.BLOCKED,
    "credentials_token": Status.BLOCKED,
    "credentials_impersonation": Status.BLOCKED,
    "dataset_reachable": Status.BLOCKED,
    "bq_write_probe": Status.BLOCKED,
    "bucket_reachable": Status.BLOCKED,
    "gcs_write_probe": Status.BLOCKED,
    "run_job_ready": Status.BLOCKED,
    "iam_permissions": Status.BLOCKED,
    "api_enabled": Status.BLOCKED,
    # It runs, but needs updates first.
    "cli_flags": Status.PARTIAL,
    "script_naming": Status.PARTIAL,
    "script_schema": Status.PARTIAL,
    "script_cost": Status.PARTIAL,
    "billing_export": Status.PARTIAL,
    "package_pinned": Status.PARTIAL,
    "sa_key_age": Status.PARTIAL,
    "dataset_inventory": Status.PARTIAL,
    "naming_mandate": Status.PARTIAL,
    "schema_mandate": Status.PARTIAL,
    "legacy_views": Status.PARTIAL,
    "source_fresh": Status.PARTIAL,
    "query_cost": Status.PARTIAL,
    "checkpoint_fresh": Status.PARTIAL,
    "run_job_config": Status.PARTIAL,
    "run_job_last_execution": Status.PARTIAL,
    "quota_headroom": Status.PARTIAL,
}

_ORDER: Final = (Status.MISSING, Status.BLOCKED, Status.PARTIAL)

#: Set in a case's facts when its check found the item itself absent (a dataset, bucket, table or
#: job that does not exist): MISSING, whatever the criterion makes of other failures (a dataset
#: that exists but refuses access is BLOCKED).
ABSENT_FACT: Final = "absent"


def _case_status(record: CaseRecord) -> Status:
    if record.facts and record.facts.get(ABSENT_FACT) is True:
        return Status.MISSING
    return CRITERION_STATUS.get(record.criterion, Status.BLOCKED)


def item_status(
    records: Iterable[CaseRecord], priority_of: dict[str, Priority] | None = None
) -> tuple[Status, Priority | None]:
    """The item's status from its cases, and the most urgent priority among its open ones.

    `priority_of`: a root case's effective priority by node id (a root that blocks a P0 case is
    a P0 matter for its item too); other cases count at their own priority.
    """
    records = list(records)
    if not records:
        return Status.NOT_AUDITED, None
    open_records = [r for r in records if r.outcome.is_open]
    if not open_records:
        return Status.READY, None
    found = {_case_status(r) for r in open_records}
    status = next(s for s in _ORDER if s in found)
    effective = priority_of or {}
    priority = min((effective.get(r.nodeid, r.priority) for r in open_records), key=lambda p: p.rank)
    return status, priority


def status_text(status: Status, priority: Priority | None) -> str:
    """ "BLOCKED (P1)"; READY and NOT AUDITED stand alone."""
    return f"{status.value} ({priority.value})" if priority is not None else status.value
