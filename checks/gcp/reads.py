"""Which Google reads each selected case will make: what checks/gcp/prefetch.py issues ahead.

One line per criterion whose check reads through `GoogleAccess.answer` or the dataset cache;
a criterion not listed makes its reads when it runs (writes, probes, listings that depend on
what the check found). The reads are the checks' own (`job_read`, `quota_read`, ...), so a
prefetched answer is exactly what the check would have read itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from checks.cases import Case
from checks.check_apis import service_read
from checks.check_cloud_run import execution_read, job_read
from checks.check_credentials import keys_read
from checks.check_iam import permissions_read
from checks.check_quotas import quota_read
from checks.gcp.answers import Read
from checks.gcp.bq_snapshot import DatasetRef, dry_run_read
from checks.manifest import LoadedManifest
from checks.manifest_gcp import Api, Gcp, Job, PermissionSet, Query, Quota

__all__ = ["Planned", "plan_reads"]

_ReadsOf = Callable[[Case, Gcp, LoadedManifest], list[Read]]


def _job(case: Case) -> Job:
    assert isinstance(case.item, Job)
    return case.item


def _quota(case: Case) -> Quota:
    assert isinstance(case.item, Quota)
    return case.item


def _api(case: Case) -> Api:
    assert isinstance(case.item, Api)
    return case.item


def _permissions(case: Case) -> PermissionSet:
    assert isinstance(case.item, PermissionSet)
    return case.item


def _phase_dry_runs(m: LoadedManifest) -> list[Read]:
    return [dry_run_read(q.sql) for q in m.manifest.queries if q.needed_by(m.phase.id)]


def _query_cost(case: Case, m: LoadedManifest) -> list[Read]:
    assert isinstance(case.item, Query)
    phase = m.phase
    total = phase.budget_usd is not None and case.item.needed_by(phase.id)
    return [dry_run_read(case.item.sql), *(_phase_dry_runs(m) if total else [])]


def _quota_reads(case: Case, gcp: Gcp, m: LoadedManifest) -> list[Read]:
    quota = _quota(case)
    return [quota_read(quota, gcp), *(_phase_dry_runs(m) if quota.add_query_estimates else [])]


_READS: Final[dict[str, _ReadsOf]] = {
    "run_job_ready": lambda c, gcp, m: [job_read(_job(c), gcp)],
    "run_job_config": lambda c, gcp, m: [job_read(_job(c), gcp)],
    "run_job_last_execution": lambda c, gcp, m: [job_read(_job(c), gcp), execution_read(_job(c), gcp)],
    "quota_headroom": _quota_reads,
    "query_cost": lambda c, gcp, m: _query_cost(c, m),
    "api_enabled": lambda c, gcp, m: [service_read(_api(c), gcp)],
    "iam_permissions": lambda c, gcp, m: [permissions_read(_permissions(c), m)],
    "sa_key_age": lambda c, gcp, m: [keys_read()],
}

#: Criteria that read a dataset's get alone, and those that read its whole snapshot; the
#: dataset is the case's item's (`subject`), or the one named in its `dataset` / `table`.
_DATASET_GET: Final = frozenset({"dataset_reachable", "bq_write_probe"})
_DATASET_SNAPSHOT: Final = frozenset(
    {"dataset_inventory", "source_fresh", "naming_mandate", "schema_mandate", "legacy_views"}
)


def _dataset_of(case: Case, project: str) -> DatasetRef | None:
    item = case.item
    table = getattr(item, "table", None)
    if isinstance(table, str):
        return DatasetRef.parse(table.rpartition(".")[0], project)
    name = getattr(item, "dataset", None)
    if not isinstance(name, str):
        name = item.subject
    return DatasetRef.parse(name, project) if name else None


@dataclass
class Planned:
    """The reads of a run's selected cases, each once."""

    #: By key, in the order they are issued (independent reads before chained ones).
    reads: dict[str, Read] = field(default_factory=dict)
    #: Datasets to read: True for the whole snapshot, False for the get alone.
    datasets: dict[DatasetRef, bool] = field(default_factory=dict)
    #: Some selected case talks to Google (its credentials are needed, at least).
    google: bool = False

    def ordered(self) -> list[Read]:
        return sorted(self.reads.values(), key=lambda read: read.chained)


def plan_reads(cases: Iterable[Case], loaded: LoadedManifest) -> Planned:
    planned = Planned()
    gcp = loaded.manifest.gcp
    if gcp is None:
        return planned
    for case in cases:
        criterion = case.criterion
        if not criterion.subject.google:
            continue
        planned.google = True
        reads_of = _READS.get(criterion.id)
        if reads_of is not None:
            for read in reads_of(case, gcp, loaded):
                planned.reads.setdefault(read.key, read)
        if criterion.id in _DATASET_GET | _DATASET_SNAPSHOT:
            ref = _dataset_of(case, gcp.project)
            if ref is not None:
                whole = criterion.id in _DATASET_SNAPSHOT
                planned.datasets[ref] = planned.datasets.get(ref, False) or whole
    return planned
