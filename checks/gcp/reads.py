"""Which Google reads each selected case will make: what checks/gcp/prefetch.py issues ahead.

One line per criterion whose check reads through `GoogleAccess.answer` or the dataset cache;
a criterion not listed makes its reads when it runs (writes, probes, listings that depend on
what the check found). The reads are the checks' own (`job_read`, `quota_read`, ...), so a
prefetched answer is exactly what the check would have read itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

from checks.check_apis import service_read
from checks.check_cloud_run import execution_read, job_read
from checks.check_credentials import keys_read
from checks.check_iam import permissions_read
from checks.check_quotas import quota_read
from checks.gcp.answers import Read
from checks.gcp.bq_snapshot import DatasetRef, dataset_refs, dry_run_read
from readiness.cases import Case
from readiness.manifest import LoadedManifest
from readiness.manifest.gcp import Api, Gcp, Job, PermissionSet, Query, Quota

__all__ = ["Need", "Planned", "plan_reads"]

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


class Need(IntEnum):
    """How much of a dataset a criterion reads; a dataset is read to the most any case needs."""

    GET = 1
    SNAPSHOT = 2
    #: The snapshot and when data was last written to each table (PARTITIONS).
    WRITTEN = 3


#: The dataset is the case's item's (`subject`), or the one named in its `dataset` / `table`.
_DATASET_NEEDS: Final = {
    "dataset_reachable": Need.GET,
    "bq_write_probe": Need.GET,
    "dataset_inventory": Need.SNAPSHOT,
    "naming_mandate": Need.SNAPSHOT,
    "schema_mandate": Need.SNAPSHOT,
    "legacy_views": Need.SNAPSHOT,
    "source_fresh": Need.WRITTEN,
}


#: Which of a script's declared tables each per-script criterion looks up in BigQuery.
_SCRIPT_TABLES: Final[dict[str, str]] = {
    "script_naming": "reads",
    "script_schema": "writes",
    "script_cost": "reads",
}


def _script_datasets(case: Case, m: LoadedManifest, project: str) -> list[DatasetRef]:
    """The audited datasets the script's entries can match: an entry without a dataset may match
    a table in any of them."""
    entries: list[str] = getattr(case.item, _SCRIPT_TABLES[case.criterion.id], [])
    named = {e.partition(".")[0] for e in entries if "." in e}
    audited = dataset_refs(m, project)
    if not entries or all("." in e for e in entries):
        return [ref for ref in audited if ref.dataset in named]
    return audited


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
    #: Datasets to read, and how much of each.
    datasets: dict[DatasetRef, Need] = field(default_factory=dict)
    #: For Need.WRITTEN: the source tables; PARTITIONS is read only if one of them exists
    #: (source_fresh reads it only then).
    sources: dict[DatasetRef, set[str]] = field(default_factory=dict)
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
        if criterion.id in _SCRIPT_TABLES:
            planned.google = True
            for dataset in _script_datasets(case, loaded, gcp.project):
                planned.datasets[dataset] = max(Need.SNAPSHOT, planned.datasets.get(dataset, Need.SNAPSHOT))
        if not criterion.subject.google:
            continue
        planned.google = True
        reads_of = _READS.get(criterion.id)
        if reads_of is not None:
            for read in reads_of(case, gcp, loaded):
                planned.reads.setdefault(read.key, read)
        need = _DATASET_NEEDS.get(criterion.id)
        ref = _dataset_of(case, gcp.project) if need is not None else None
        if need is not None and ref is not None:
            planned.datasets[ref] = max(need, planned.datasets.get(ref, need))
            table = getattr(case.item, "table", None)
            if need is Need.WRITTEN and isinstance(table, str):
                planned.sources.setdefault(ref, set()).add(table.rpartition(".")[2])
    return planned
