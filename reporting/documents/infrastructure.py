"""INFRASTRUCTURE_READINESS_REPORT_YYYYMMDD.md: per resource, its status, counts, storage, access
verified, quotas and blockers; then every check of the section."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from readiness.criteria import CRITERIA, Section
from readiness.priorities import Priority
from readiness.records import CaseRecord, Outcome
from readiness.statuses import item_status, status_text
from reporting.audit import Audit
from reporting.documents.cost_monitoring import cost_monitoring_line
from reporting.documents.markdown import dated, header, table

__all__ = ["COLUMNS", "file_name", "human_bytes", "render"]


def human_bytes(value: Any) -> str:
    if not isinstance(value, int | float):
        return ""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return ""


class _Subject:
    """The records of one resource in one section, with lookups for the summary columns."""

    def __init__(self, name: str, records: list[CaseRecord], priority_of: dict[str, Priority]) -> None:
        self.name = name
        self.records = records
        self.priority_of = priority_of

    def record(self, criterion: str) -> CaseRecord | None:
        return next((r for r in self.records if r.criterion == criterion), None)

    def fact(self, criterion: str, key: str) -> Any:
        rec = self.record(criterion)
        return rec.facts.get(key) if rec is not None else None

    def verified(self, criterion: str, absent: str = "not audited") -> str:
        rec = self.record(criterion)
        if rec is None:
            return absent
        if rec.outcome is Outcome.PASSED:
            return "yes"
        return "no" if rec.outcome is Outcome.FAILED else rec.outcome.value

    def status(self) -> str:
        return status_text(*item_status(self.records, self.priority_of))

    def blockers(self) -> int:
        return sum(1 for r in self.records if r.outcome.is_open)


@dataclass(frozen=True, slots=True)
class _Column:
    header: str
    value: Callable[[_Subject], Any]


def _fact(
    criterion: str, key: str, fmt: Callable[[Any], str] = lambda v: "" if v is None else str(v)
) -> Callable[[_Subject], Any]:
    return lambda s: fmt(s.fact(criterion, key))


def _hours(value: Any) -> str:
    return f"{value:,.1f} h" if isinstance(value, int | float) else ""


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else ("" if value is None else str(value))


def _listing(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list) else ""


def _missing_permissions(s: _Subject) -> str:
    rec = s.record("iam_permissions")
    if rec is None or not rec.outcome.is_open:
        return ""
    return rec.message


#: Summary columns per section, read from the facts the checks recorded. A section none of whose
#: checks ran stays in the report, marked "not audited", so a gap is never mistaken for a pass.
COLUMNS: Final[dict[Section, tuple[_Column, ...]]] = {
    Section.CREDENTIALS: (
        _Column("Acting as", _fact("credentials_token", "principal")),
        _Column("Token obtained", lambda s: s.verified("credentials_token")),
        _Column("Impersonation", lambda s: s.verified("credentials_impersonation")),
        _Column("User-managed keys", _fact("sa_key_age", "user_managed_keys", _count)),
    ),
    Section.BIGQUERY: (
        _Column("Reachable", lambda s: s.verified("dataset_reachable")),
        _Column("Tables", _fact("dataset_inventory", "tables", _count)),
        _Column("Views", _fact("dataset_inventory", "views", _count)),
        _Column("Storage", _fact("dataset_inventory", "storage_bytes", human_bytes)),
        _Column("Last modified", _fact("dataset_inventory", "last_modified")),
        _Column("Write access verified", lambda s: s.verified("bq_write_probe", "not needed")),
    ),
    Section.MANDATES: (
        _Column(
            "Tables",
            lambda s: _count(s.fact("naming_mandate", "tables") or s.fact("schema_mandate", "tables")),
        ),
        _Column("Non-compliant names", _fact("naming_mandate", "non_compliant", _count)),
        _Column("Renames", _fact("legacy_views", "renames", _count)),
    ),
    Section.DATA: (
        _Column("Rows", _fact("source_fresh", "rows", _count)),
        _Column("Last modified", _fact("source_fresh", "last_modified")),
        _Column("Age", _fact("source_fresh", "age_hours", _hours)),
    ),
    Section.STORAGE: (
        _Column("Reachable", lambda s: s.verified("bucket_reachable")),
        _Column("Checkpoints", _fact("checkpoint_fresh", "checkpoints", _count)),
        _Column("Newest checkpoint age", _fact("checkpoint_fresh", "newest_age_hours", _hours)),
        _Column("Write access verified", lambda s: s.verified("gcs_write_probe", "not needed")),
    ),
    Section.CLOUD_RUN: (
        _Column("Ready", lambda s: s.verified("run_job_ready")),
        _Column("Image", _fact("run_job_config", "images", _listing)),
        _Column("Service account", _fact("run_job_config", "service_account")),
        _Column("Last execution", _fact("run_job_last_execution", "status")),
    ),
    Section.CONTAINERS: (),
    Section.IAM: (
        _Column("Tested on", _fact("iam_permissions", "tested_on")),
        _Column("Access verified", lambda s: s.verified("iam_permissions")),
        _Column("Missing", _missing_permissions),
    ),
    Section.QUOTAS: (
        _Column("Limit", _fact("quota_headroom", "limit", _count)),
        _Column("Planned", _fact("quota_headroom", "planned", _count)),
        _Column("Unit", _fact("quota_headroom", "unit")),
        _Column("Estimated cost (USD)", _fact("query_cost", "usd")),
        _Column("Script estimate", _fact("script_cost", "estimate")),
        _Column("Budget (USD)", _fact("billing_export", "budget_usd")),
        _Column("Last billing export", _fact("billing_export", "last_export")),
    ),
    Section.APIS: (_Column("State", _fact("api_enabled", "state")),),
}


def file_name(audit: Audit) -> str:
    return dated(audit, "INFRASTRUCTURE_READINESS_REPORT")


def _subjects(records: list[CaseRecord], priority_of: dict[str, Priority]) -> list[_Subject]:
    grouped: dict[str, list[CaseRecord]] = {}
    for r in records:
        grouped.setdefault(r.subject, []).append(r)
    return [_Subject(name, recs, priority_of) for name, recs in grouped.items()]


def _finding(r: CaseRecord) -> str:
    text = r.message or "verified"
    return f"{text} (could not run: blocked by {r.blocked_by})" if r.blocked_by else text


def render(audit: Audit) -> str:
    parts = [header(audit, "Infrastructure Readiness Report")]
    if audit.scope.google_gap:
        parts += [f"**Google Cloud not audited**: {audit.scope.google_gap}.", ""]
    priority_of = {c.record.nodeid: c.priority for c in audit.roots}
    by_section: dict[Section | None, list[CaseRecord]] = {}
    for r in audit.records:
        criterion = CRITERIA.get(r.criterion)  # None for a case unknown to the manifest
        by_section.setdefault(criterion.section if criterion else None, []).append(r)
    for section in Section:
        parts += [f"## {section}", ""]
        recs = sorted(by_section.get(section, []), key=lambda r: (r.subject, r.title))
        if not recs:
            parts += ["**Not audited**: no check of this section ran in this audit.", ""]
            continue
        passed = sum(1 for r in recs if not r.outcome.is_open)
        parts += [f"{passed} of {len(recs)} checks verified.", ""]
        if section is Section.QUOTAS:
            parts += [cost_monitoring_line(recs), ""]
        columns = COLUMNS[section]
        if columns:
            subjects = _subjects(recs, priority_of)
            parts.append(
                table(
                    ["Resource", "Status", *(c.header for c in columns), "Blockers"],
                    [[s.name, s.status(), *(c.value(s) for c in columns), s.blockers()] for s in subjects],
                )
            )
            parts.append("")
        parts.append(
            table(
                ["Resource", "Check", "Priority", "Outcome", "Finding"],
                [[r.subject, r.title, r.priority.value, r.outcome.value, _finding(r)] for r in recs],
            )
        )
        parts.append("")
    return "\n".join(parts)
