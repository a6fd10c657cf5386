"""Root causes: a case that could not be checked because another case failed is blocked by it.

A script that does not parse leaves its imports and flags unverified; a Cloud Run job that does
not exist leaves its configuration, its last execution and its permissions unverified; a
disabled API leaves every check of its service unverified; without credentials no Google case
runs at all. Each of those is one defect, so the documents show one blocker per root cause with
the cases it blocked folded under it. The verdict still counts every case.

The relationships are data (`DEPENDENCIES`): which criterion is a root for which others, and
how the two cases must be related (the same resource, the same service, or any Google case).
They are derived on the controller, from the records alone, after the run: serial and `-n`
runs give the same roots.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from readiness.cases import Case, cases_for
from readiness.criteria import CRITERIA, SubjectKind
from readiness.manifest import LoadedManifest, Script
from readiness.manifest.gcp import (
    Api,
    Bucket,
    Dataset,
    FamilyTarget,
    Job,
    LegacyViews,
    PermissionSet,
    SourceTable,
)
from readiness.memo import RunMemo
from readiness.priorities import Priority
from readiness.records import CaseRecord, Outcome

__all__ = [
    "DEPENDENCIES",
    "SERVICE_OF",
    "Dependency",
    "Match",
    "RootCause",
    "assign_roots",
    "blocker_counts",
    "count_text",
    "roots_of",
]


class Match(StrEnum):
    """How a dependent case must relate to its root."""

    #: Both act on the same resource (a script, a dataset, a bucket, a job).
    RESOURCE = "same resource"
    #: The dependent calls the API the root (api_enabled) is about.
    SERVICE = "same service"
    #: Every Google case (the root is the credentials).
    GOOGLE = "every Google case"


@dataclass(frozen=True, slots=True)
class Dependency:
    #: The criterion whose open case is the root.
    root: str
    match: Match
    #: The criteria it blocks; empty: every criterion the match allows.
    blocks: frozenset[str] = frozenset()


_SCRIPT_CRITERIA: Final = frozenset(
    c.id for c in CRITERIA.values() if c.subject is SubjectKind.SCRIPT and c.id != "script_exists"
)

#: Most fundamental first: a case blocked by several roots is folded under the first, and a root
#: can itself be blocked only by an earlier one (no cycle can form).
DEPENDENCIES: Final[tuple[Dependency, ...]] = (
    Dependency("credentials_token", Match.GOOGLE),
    Dependency("api_enabled", Match.SERVICE),
    Dependency("script_exists", Match.RESOURCE, _SCRIPT_CRITERIA),
    Dependency("python_parses", Match.RESOURCE, frozenset({"imports_resolve", "cli_flags"})),
    Dependency("shell_parses", Match.RESOURCE, frozenset({"cli_flags"})),
    Dependency("cloudbuild_parses", Match.RESOURCE, frozenset({"cloudbuild_dockerfile"})),
    Dependency(
        "dataset_reachable",
        Match.RESOURCE,
        frozenset(
            {
                "dataset_inventory",
                "bq_write_probe",
                "naming_mandate",
                "schema_mandate",
                "legacy_views",
                "source_fresh",
                "iam_permissions",
            }
        ),
    ),
    Dependency(
        "bucket_reachable",
        Match.RESOURCE,
        frozenset({"checkpoint_fresh", "gcs_write_probe", "iam_permissions"}),
    ),
    Dependency(
        "run_job_ready",
        Match.RESOURCE,
        frozenset({"run_job_config", "run_job_last_execution", "iam_permissions"}),
    ),
)

_BIGQUERY: Final = "bigquery.googleapis.com"
_STORAGE: Final = "storage.googleapis.com"
_RUN: Final = "run.googleapis.com"

#: The API each Google criterion calls (iam_permissions: by the resource it tests, see
#: `_service`). A test holds every Google criterion to an entry.
SERVICE_OF: Final[dict[str, str]] = {
    "credentials_token": "iamcredentials.googleapis.com",
    "credentials_impersonation": "iamcredentials.googleapis.com",
    "sa_key_age": "iam.googleapis.com",
    "dataset_reachable": _BIGQUERY,
    "dataset_inventory": _BIGQUERY,
    "bq_write_probe": _BIGQUERY,
    "naming_mandate": _BIGQUERY,
    "schema_mandate": _BIGQUERY,
    "legacy_views": _BIGQUERY,
    "source_fresh": _BIGQUERY,
    "query_cost": _BIGQUERY,
    "script_naming": _BIGQUERY,
    "script_schema": _BIGQUERY,
    "script_cost": _BIGQUERY,
    "billing_export": _BIGQUERY,
    "bucket_reachable": _STORAGE,
    "checkpoint_fresh": _STORAGE,
    "gcs_write_probe": _STORAGE,
    "run_job_ready": _RUN,
    "run_job_config": _RUN,
    "run_job_last_execution": _RUN,
    "iam_permissions": "cloudresourcemanager.googleapis.com",
    "quota_headroom": "cloudquotas.googleapis.com",
    "api_enabled": "serviceusage.googleapis.com",
}

_PERMISSION_SERVICE: Final = {"dataset": _BIGQUERY, "table": _BIGQUERY, "bucket": _STORAGE, "job": _RUN}


@dataclass(frozen=True, slots=True)
class RootCause:
    """One blocker: a case that did not pass, and the cases that could not run because of it."""

    #: The root case.
    record: CaseRecord
    #: The cases it blocked, in node id order.
    folded: list[CaseRecord]

    @property
    def priority(self) -> Priority:
        """The most urgent priority among the root and what it blocked: a P2 root that blocks a
        P0 case is a P0 blocker."""
        return min((r.priority for r in self.cases), key=lambda p: p.rank)

    @property
    def cases(self) -> list[CaseRecord]:
        return [self.record, *self.folded]

    @property
    def key(self) -> str:
        return self.record.key

    def folded_text(self) -> str:
        """ "+2 checks could not run", or "" when it blocked nothing."""
        n = len(self.folded)
        return f"+{n} check{'s' if n != 1 else ''} could not run" if n else ""

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.record.key,
            "nodeid": self.record.nodeid,
            "priority": self.priority.value,
            "own_priority": self.record.priority.value,
            "outcome": self.record.outcome.value,
            "message": self.record.message,
            "folded": [r.key for r in self.folded],
        }


def _dataset_key(name: str, project: str) -> str:
    found, _, dataset = name.rpartition(".")
    return f"dataset:{found or project}.{dataset}"


def _resource(case: Case, project: str) -> str:
    """The resource a case acts on, named the same way whichever section it comes from."""
    item = case.item
    if isinstance(item, Script):
        return f"script:{item.path}"
    if isinstance(item, Dataset):
        return _dataset_key(item.subject, project)
    if isinstance(item, FamilyTarget | LegacyViews):
        return _dataset_key(item.dataset, project)
    if isinstance(item, SourceTable):
        return _dataset_key(item.table.rpartition(".")[0], project)
    if isinstance(item, Bucket):
        return f"bucket:{item.name}"
    if isinstance(item, Job):
        return f"job:{item.name}"
    if isinstance(item, Api):
        return f"api:{item.name}"
    if isinstance(item, PermissionSet):
        kind, _, name = item.resource.partition(":")
        if kind == "dataset":
            return _dataset_key(name, project)
        if kind == "table":
            return _dataset_key(name.rpartition(".")[0], project)
        return item.resource if kind in ("bucket", "job") else f"project:{project}"
    return f"{case.criterion.subject.value}:{item.subject}"


def _service(case: Case) -> str:
    if isinstance(case.item, PermissionSet):
        kind = case.item.resource.partition(":")[0]
        return _PERMISSION_SERVICE.get(kind, SERVICE_OF["iam_permissions"])
    return SERVICE_OF.get(case.criterion.id, "")


@dataclass(frozen=True, slots=True)
class _Place:
    record: CaseRecord
    resource: str
    service: str
    google: bool


def _places(loaded: LoadedManifest, records: Sequence[CaseRecord], memo: RunMemo) -> list[_Place]:
    """Where each open record acts: found through its case in the controller's manifest."""
    gcp = loaded.manifest.gcp
    project = gcp.project if gcp is not None else ""
    by_criterion: dict[str, dict[str, Case]] = {}
    places = []
    for r in records:
        criterion = CRITERIA.get(r.criterion)
        if criterion is None or not r.outcome.is_open or not r.subject_kind:
            continue  # a case unknown to this manifest stands alone
        cases = by_criterion.get(r.criterion)
        if cases is None:
            cases = by_criterion[r.criterion] = {c.subject: c for c in cases_for(r.criterion, loaded, memo)}
        case = cases.get(r.subject)
        if case is None:
            continue
        google = criterion.subject.google or criterion.reads_google
        places.append(_Place(r, _resource(case, project), _service(case), google))
    return places


def _matches(dep: Dependency, root: _Place, other: _Place) -> bool:
    if other.record is root.record or (dep.blocks and other.record.criterion not in dep.blocks):
        return False
    if dep.match is Match.GOOGLE:
        # Only what could not run: a script's naming finding needs no credentials to be true.
        return other.google and other.record.outcome is not Outcome.FAILED
    if dep.match is Match.SERVICE:
        return bool(other.service) and root.resource == f"api:{other.service}"
    return root.resource == other.resource


def assign_roots(loaded: LoadedManifest, records: Sequence[CaseRecord], memo: RunMemo) -> None:
    """Set `blocked_by` on every open record that could not run because of another open one
    (to the key of the ultimate root), and clear it on the others."""
    for r in records:
        r.blocked_by = ""
    places = _places(loaded, records, memo)
    direct: dict[str, CaseRecord] = {}
    for dep in DEPENDENCIES:
        roots = [p for p in places if p.record.criterion == dep.root]
        if not roots:
            continue
        for place in places:
            if place.record.nodeid in direct:
                continue  # an earlier, more fundamental root already holds it
            match = next((p for p in roots if _matches(dep, p, place)), None)
            if match is not None:
                direct[place.record.nodeid] = match.record
    for r in records:
        root = direct.get(r.nodeid)
        seen = {r.nodeid}
        while root is not None and root.nodeid in direct and root.nodeid not in seen:
            seen.add(root.nodeid)
            root = direct[root.nodeid]
        if root is not None and root.nodeid != r.nodeid:
            r.blocked_by = root.key


def roots_of(records: Iterable[CaseRecord]) -> list[RootCause]:
    """One RootCause per open record not blocked by another, most urgent first (by effective
    priority, then area, subject and criterion, as the blockers are ordered)."""
    open_records = [r for r in records if r.outcome.is_open]
    by_key = {r.key: r for r in open_records if not r.blocked_by}
    folded: dict[str, list[CaseRecord]] = {k: [] for k in by_key}
    for r in open_records:
        if r.blocked_by and r.blocked_by in folded:
            folded[r.blocked_by].append(r)
        elif r.blocked_by:
            by_key.setdefault(r.key, r)  # its root is not open in this run: it stands alone
            folded.setdefault(r.key, [])
    roots = [RootCause(root, sorted(folded[k], key=lambda r: r.nodeid)) for k, root in by_key.items()]
    return sorted(roots, key=lambda c: (c.priority.rank, c.record.area, c.record.subject, c.record.criterion))


def blocker_counts(roots: Iterable[RootCause]) -> dict[Priority, tuple[int, int]]:
    """(blockers, cases) per effective priority."""
    counts = dict.fromkeys(Priority, (0, 0))
    for root in roots:
        blockers, cases = counts[root.priority]
        counts[root.priority] = (blockers + 1, cases + len(root.cases))
    return counts


def count_text(priority: Priority, blockers: int, cases: int) -> str:
    """ "3 P0 blockers (5 cases)"."""
    return (
        f"{blockers} {priority.value} blocker{'s' if blockers != 1 else ''} "
        f"({cases} case{'s' if cases != 1 else ''})"
    )
