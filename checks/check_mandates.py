"""Naming and schema mandates per table family, and the legacy-name views of a rename.

Every case reads the dataset's shared snapshot (checks/gcp/bq_snapshot.py): judging 5,800
tables costs the same few requests as judging five.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from checks.findings import finding, unverified
from checks.gcp.access import GoogleAccess
from checks.gcp.bq_snapshot import BigQueryMetadata, DatasetRef, DatasetSnapshot, bigquery_metadata
from checks.inspect.mandates import (
    RenamesFileError,
    TableVerdict,
    in_family,
    judge,
    naming_message,
    read_renames,
    short_list,
)
from readiness.cases import Case
from readiness.manifest import LoadedManifest
from readiness.manifest.gcp import FamilyTarget, LegacyViews, Rename


@pytest.fixture
def bq(request: pytest.FixtureRequest, google: GoogleAccess) -> BigQueryMetadata:
    return bigquery_metadata(request.config, google)


def _verdicts(
    case: Case, google: GoogleAccess, bq: BigQueryMetadata
) -> tuple[FamilyTarget, list[TableVerdict]]:
    """The family's tables in the dataset, each judged against the family's rules."""
    target = case.item
    assert isinstance(target, FamilyTarget)
    snapshot = bq.found(DatasetRef.parse(target.dataset, google.project))
    family = target.family
    verdicts = [judge(t.name, t.columns, family) for t in snapshot.base_tables() if in_family(t.name, family)]
    return target, verdicts


# -- naming_mandate ------------------------------------------------------------------------------


@pytest.mark.criterion("naming_mandate")
def check_naming_mandate(
    case: Case, google: GoogleAccess, bq: BigQueryMetadata, facts: dict[str, Any]
) -> None:
    target, verdicts = _verdicts(case, google, bq)
    bad = [v for v in verdicts if not v.naming_ok]
    facts["tables"] = len(verdicts)
    facts["non_compliant"] = len(bad)
    # The full lists: the finding's line is cut, the inventory and the reports are not.
    facts["bad_names"] = [v.table for v in bad if not v.name_ok]
    facts["bad_columns"] = {v.table: list(v.bad_columns) for v in bad if v.bad_columns}
    if bad:
        finding(naming_message(target.family.family, bad, len(verdicts)))


# -- schema_mandate ------------------------------------------------------------------------------


@pytest.mark.criterion("schema_mandate")
def check_schema_mandate(
    case: Case, google: GoogleAccess, bq: BigQueryMetadata, facts: dict[str, Any]
) -> None:
    target, verdicts = _verdicts(case, google, bq)
    lacking = [v for v in verdicts if v.missing_columns]
    facts["tables"] = len(verdicts)
    facts["required_columns"] = list(target.family.required_columns)
    facts["missing"] = {v.table: list(v.missing_columns) for v in lacking}
    if lacking:
        entries = (f"{v.table} lacks {', '.join(v.missing_columns)}" for v in lacking)
        finding(
            f"{target.family.family}: {len(lacking):,} of {len(verdicts):,} tables lack required columns "
            f"({short_list(entries, sep='; ')})"
        )


# -- legacy_views --------------------------------------------------------------------------------


@pytest.mark.criterion("legacy_views")
def check_legacy_views(
    case: Case, google: GoogleAccess, bq: BigQueryMetadata, manifest: LoadedManifest, facts: dict[str, Any]
) -> None:
    legacy = case.item
    assert isinstance(legacy, LegacyViews)
    renames = _renames(legacy, manifest.path.parent)
    snapshot = bq.found(DatasetRef.parse(legacy.dataset, google.project))
    now = dt.datetime.now(dt.UTC)
    grace_end = now + dt.timedelta(days=legacy.grace_days)
    problems = {}
    for rename in renames:
        problem = _view_problem(snapshot, rename, now, grace_end, legacy.grace_days)
        if problem:
            problems[rename.old] = problem
    facts["renames"] = len(renames)
    facts["grace_ends"] = grace_end.isoformat(timespec="seconds")
    facts["problems"] = problems
    if problems:
        entries = (f"{old}: {why}" for old, why in problems.items())
        finding(
            f"{snapshot.ref}: {len(problems):,} of {len(renames):,} legacy names not served as required "
            f"({short_list(entries, sep='; ')})"
        )


def _view_problem(
    snapshot: DatasetSnapshot, rename: Rename, now: dt.datetime, grace_end: dt.datetime, grace_days: int
) -> str:
    """Why the old name does not serve consumers through the grace period; "" when it does."""
    view = snapshot.tables.get(rename.old)
    if view is None:
        return "missing"
    if not view.is_view:
        return f"a {view.type.lower()}, not a view"
    new_table = rename.new.rsplit(".", 1)[-1]
    if not _references(view.view_definition, new_table):
        return f"view does not select from {rename.new}"
    if "." not in rename.new and new_table not in snapshot.tables:
        return f"its target {rename.new} does not exist"
    if view.expires is None:
        return "no expiration"
    if view.expires <= now:
        return f"expired {view.expires:%Y-%m-%d %H:%M} UTC"
    if view.expires > grace_end:
        return f"expires {view.expires:%Y-%m-%d}, after the {grace_days}-day grace period"
    return ""


def _references(definition: str, table: str) -> bool:
    # A whole identifier: `p.d.COV_X`, d.COV_X or COV_X, never COV_X_OLD or cov_x (table names
    # are case-sensitive in BigQuery).
    return re.search(rf"(?<![\w-]){re.escape(table)}(?![\w-])", definition) is not None


def _renames(legacy: LegacyViews, base: Path) -> list[Rename]:
    __tracebackhide__ = True
    renames = list(legacy.renames)
    if legacy.renames_file:
        try:
            renames += read_renames(base / legacy.renames_file, legacy.renames_file)
        except RenamesFileError as exc:
            unverified(str(exc))
    return renames
