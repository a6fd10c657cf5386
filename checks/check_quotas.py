"""Quotas: the limit from the Cloud Quotas API against the usage the phase plans.

QuotaInfo carries limits only, never usage: the manifest states the planned usage, and for
BigQuery bytes quotas the dry-run bytes of the phase's queries can be added to it.
"""

from __future__ import annotations

from typing import Any, Final

import pytest
from google.api_core import exceptions as api_exceptions

from checks.findings import finding, unverified
from checks.gcp.access import GoogleAccess
from checks.gcp.answers import Read
from checks.gcp.bq_snapshot import dry_run_read
from checks.gcp.errors import ApiCallError, api_call
from readiness.cases import Case
from readiness.manifest import LoadedManifest
from readiness.manifest.gcp import Gcp, Quota

API: Final = "Cloud Quotas"

#: Bytes per unit of the byte-valued quota units (BigQuery's QueryUsagePerDay is in MiBy).
_BYTE_UNITS: Final = {"By": 1, "KiBy": 2**10, "MiBy": 2**20, "GiBy": 2**30, "TiBy": 2**40}


def _quota(case: Case) -> Quota:
    assert isinstance(case.item, Quota)
    return case.item


def quota_read(quota: Quota, gcp: Gcp) -> Read:
    name = f"projects/{gcp.project}/locations/global/services/{quota.service}/quotaInfos/{quota.quota_id}"

    def fetch(google: GoogleAccess) -> Any:
        with api_call(API):
            try:
                return google.quotas.get_quota_info(
                    name=name, retry=google.read_retry(API), timeout=google.timeout
                )
            except api_exceptions.NotFound:
                # Most likely a misspelt service or quota id: the headroom cannot be judged.
                unverified(
                    f"{quota.subject}: no such quota in project {google.project}; check service and quota_id"
                )

    return Read(f"cloudquotas.quotaInfos.get {name}", fetch)


def _limit(quota: Quota, info: Any) -> tuple[int, dict[str, str]]:
    """The limit for the manifest's dimensions: the exact combination, else the default one."""
    __tracebackhide__ = True
    entries = [(dict(d.dimensions), int(d.details.value)) for d in info.dimensions_infos]
    for dimensions, value in entries:
        if dimensions == quota.dimensions:
            return value, dimensions
    # The entry without dimensions is the default for every combination not listed.
    for dimensions, value in entries:
        if not dimensions:
            return value, dimensions
    known = "; ".join(str(d) for d, _ in entries) or "none"
    unverified(f"{quota.subject}: no limit for dimensions {quota.dimensions} (limits exist for: {known})")


def _query_bytes(
    manifest: LoadedManifest, google: GoogleAccess, facts: dict[str, Any]
) -> tuple[int, list[str]]:
    """Dry-run bytes of the audited phase's queries, times their runs, and the queries whose
    estimate is only a lower bound (totalBytesProcessedAccuracy LOWER_BOUND / UNKNOWN)."""
    phase = manifest.phase.id
    total = 0
    per_query: dict[str, int] = {}
    floors: list[str] = []
    for query in manifest.manifest.queries:
        if not query.needed_by(phase):
            continue
        # A dry run creates no job and changes nothing: read like a read, shared with query_cost.
        estimate = google.answer(dry_run_read(query.sql))
        if estimate.bytes is None:
            raise ApiCallError(estimate.rejected)
        per_query[query.name] = estimate.bytes * query.runs
        total += per_query[query.name]
        if estimate.lower_bound:
            floors.append(f"{query.name} ({estimate.accuracy})")
    facts["query_bytes"] = per_query
    if floors:
        facts["lower_bound_estimates"] = floors
    return total, floors


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


@pytest.mark.criterion("quota_headroom")
def check_quota_headroom(
    case: Case, google: GoogleAccess, manifest: LoadedManifest, facts: dict[str, Any]
) -> None:
    quota = _quota(case)
    info = google.answer(quota_read(quota, google.gcp))
    limit, dimensions = _limit(quota, info)
    unit = info.metric_unit
    facts["limit"] = limit
    facts["limit_dimensions"] = dimensions
    facts["unit"] = unit
    if limit < 0:  # -1: unlimited, whatever the plan (no dry runs needed)
        facts["unlimited"] = True
        facts["planned"] = quota.planned
        return
    planned = quota.planned
    floors: list[str] = []
    if quota.add_query_estimates:
        base = unit.split("/", 1)[0]
        if base not in _BYTE_UNITS:
            unverified(f"{quota.subject}: query bytes cannot be added to a quota measured in {unit!r}")
        scanned, floors = _query_bytes(manifest, google, facts)
        planned += scanned / _BYTE_UNITS[base]
    facts["planned"] = planned
    allowed = limit * quota.max_share
    facts["share"] = round(planned / limit, 4) if limit else None
    if planned > allowed:
        where = "".join(f", {k}={v}" for k, v in sorted(dimensions.items()))
        finding(
            f"{quota.subject}: planned {_fmt(planned)} {unit} exceeds {quota.max_share:.0%} of the "
            f"limit {_fmt(limit)} ({_fmt(allowed)} allowed{where})"
        )
    if floors:
        unverified(
            f"{quota.subject}: planned {_fmt(planned)} {unit} is a lower bound: the dry-run bytes "
            f"of {', '.join(floors)} are not precise"
        )
