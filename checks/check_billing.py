"""Cost monitoring: the Cloud Billing export receives data, and the phase declares its budget.

Freshness is the newest data write of the export's tables (INFORMATION_SCHEMA.PARTITIONS, the
same read as source_fresh): the export appends to daily partitions several times a day, so a
dataset whose newest write is days old means spending is no longer tracked.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from typing import Any

import pytest

from checks.findings import age_text, finding, unverified
from checks.gcp.access import GoogleAccess
from checks.gcp.bq_snapshot import BigQueryMetadata, DatasetRef, DatasetState, bigquery_metadata
from readiness.cases import Case
from readiness.manifest import LoadedManifest
from readiness.manifest.billing import BillingExport


@pytest.fixture
def bq(request: pytest.FixtureRequest, google: GoogleAccess) -> BigQueryMetadata:
    return bigquery_metadata(request.config, google)


@pytest.mark.criterion("billing_export")
def check_billing_export(
    case: Case, google: GoogleAccess, bq: BigQueryMetadata, manifest: LoadedManifest, facts: dict[str, Any]
) -> None:
    export = case.item
    assert isinstance(export, BillingExport)
    ref = DatasetRef.parse(export.dataset, google.project)
    phase = manifest.phase
    facts.update(dataset=str(ref), budget_usd=phase.budget_usd, max_age_hours=export.max_age_hours)
    problems = []
    if phase.budget_usd is None:
        problems.append(f"phase {phase.id} declares no budget (budget_usd)")
    info = bq.dataset(ref)
    if info.state is DatasetState.DENIED:
        if info.lacks:
            unverified(f"{ref}: cannot verify: {google.identity.principal} lacks {info.lacks}")
        finding(f"{ref}: access denied for {google.identity.principal}")
    if info.state is DatasetState.NOT_FOUND:
        problems.insert(0, f"billing export dataset {ref} not found")
        finding("; ".join(problems))
    written = {t: w for t, w in bq.data_written(ref).items() if fnmatch.fnmatchcase(t, export.tables)}
    facts["export_tables"] = sorted(written)
    times = [w for w in written.values() if w is not None]
    if not written:
        problems.insert(
            0, f"{ref}: no export table ({export.tables}): the billing export writes nothing here"
        )
    elif not times:
        problems.insert(0, f"{ref}: time of the last export write unknown (INFORMATION_SCHEMA.PARTITIONS)")
    else:
        newest = max(times)
        age = dt.datetime.now(dt.UTC) - newest
        facts["last_export"] = newest.isoformat(timespec="seconds")
        facts["age_hours"] = round(age.total_seconds() / 3600, 3)
        if age > dt.timedelta(hours=export.max_age_hours):
            problems.insert(
                0,
                f"{ref}: newest export data written {newest.isoformat(timespec='seconds')} "
                f"({age_text(age)} ago, limit {export.max_age_hours:g} h)",
            )
    if problems:
        finding("; ".join(problems))
