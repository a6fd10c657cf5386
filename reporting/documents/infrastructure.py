"""INFRASTRUCTURE_READINESS_REPORT_YYYYMMDD.md: per infrastructure section, what was verified."""

from __future__ import annotations

from typing import Final

from checks.criteria import CRITERIA
from reporting.audit import Audit
from reporting.documents.markdown import dated, header, table

__all__ = ["SECTIONS", "file_name", "render"]

#: The report's sections, in order. A section none of whose checks ran stays in the report,
#: marked "not audited", so a gap is never mistaken for a pass.
SECTIONS: Final[tuple[str, ...]] = (
    "Credentials and identity",
    "BigQuery datasets",
    "Naming and schema mandates",
    "Data dependencies",
    "Cloud Storage",
    "Cloud Run jobs",
    "Container builds",
    "IAM permissions",
    "Quotas and cost",
    "Enabled APIs",
)


def file_name(audit: Audit) -> str:
    return dated(audit, "INFRASTRUCTURE_READINESS_REPORT")


def render(audit: Audit) -> str:
    parts = [header(audit, "Infrastructure Readiness Report")]
    for section in SECTIONS:
        parts += [f"## {section}", ""]
        recs = [r for r in audit.records if CRITERIA[r.criterion].section == section]
        if not recs:
            parts += ["**Not audited**: no check of this section ran in this audit.", ""]
            continue
        passed = sum(1 for r in recs if not r.outcome.is_open)
        parts.append(f"{passed} of {len(recs)} checks verified.")
        parts.append("")
        parts.append(
            table(
                ["Resource", "Check", "Priority", "Outcome", "Finding"],
                [
                    [r.subject, r.title, r.priority.value, r.outcome.value, r.message or "verified"]
                    for r in recs
                ],
            )
        )
        parts.append("")
    return "\n".join(parts)
