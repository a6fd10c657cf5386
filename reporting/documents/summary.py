"""AUDIT_SUMMARY_YYYYMMDD.md: the verdict and the answers to the audit's critical questions.

Kept to three pages at most: lists are cut to the most urgent entries, with a pointer to the
blocker analysis for the rest.
"""

from __future__ import annotations

from typing import Final

from checks.criteria import CRITERIA
from checks.priority import Priority
from reporting.audit import Audit
from reporting.documents import blockers as blockers_doc
from reporting.documents import operations as ops_doc
from reporting.documents.markdown import cell, dated, header, table
from reporting.inventory import undeclared_line
from reporting.records import CaseRecord
from reporting.verdict import Verdict

__all__ = ["file_name", "render"]

_MAX_LISTED: Final = 10


def file_name(audit: Audit) -> str:
    return dated(audit, "AUDIT_SUMMARY")


def _listed(recs: list[CaseRecord], audit: Audit) -> list[str]:
    lines = [f"- {r.priority.value} {_finding(r)}" for r in recs[:_MAX_LISTED]]
    if len(recs) > _MAX_LISTED:
        lines.append(f"- … and {len(recs) - _MAX_LISTED} more in {blockers_doc.file_name(audit)}")
    return lines or ["- None found."]


def _finding(r: CaseRecord) -> str:
    """The record's message, prefixed by its subject unless the message already names it."""
    text = r.message or r.title
    if r.subject not in text:
        text = f"{r.subject}: {text}"
    return cell(text)


def render(audit: Audit) -> str:
    phase = audit.loaded.phase
    verdict = audit.verdict
    blockers = audit.blockers
    infra = [b for b in blockers if (c := CRITERIA.get(b.criterion)) is not None and c.section]
    deps = [b for b in blockers if b.area == "dependencies"]
    missing = audit.missing_scripts()
    hours = sum(s.create_hours for s in missing)
    days_left = (phase.start - audit.run.date).days
    delaying = [b for b in blockers if b.priority in (Priority.P0, Priority.P1)]

    if verdict.verdict is Verdict.GO and audit.scope.is_full:
        can_start = f"**Yes.** Every check passed that could block phase {cell(phase.id)}."
    elif verdict.verdict is Verdict.GO:
        can_start = (
            f"**Yes, for the audited scope only** ({audit.scope.describe()}); "
            "run the full suite before relying on it."
        )
    else:
        can_start = f"**No.** {len(delaying)} P0/P1 blocker(s) stand; {'; '.join(verdict.reasons)}."

    counts = audit.counts
    count_rows = [[p.value, *(counts[p][o] for o in counts[p])] for p in Priority]
    outcomes = [o.value for o in next(iter(counts.values()))]
    missing_lines = [
        f"- {cell(s.path)} ({cell(s.purpose)}): {s.create_hours:g} h" for s in missing[:_MAX_LISTED]
    ]
    parts = [
        header(audit, "Audit Summary"),
        f"## Verdict: {verdict.verdict.value}",
        "",
        f"Risk level: **{verdict.risk.value}**. " + " ".join(f"{r}." for r in verdict.reasons),
        "",
        table(["Priority", *outcomes], count_rows),
        "",
        "## Critical questions",
        "",
        f"### Can phase {cell(phase.id)} start on {phase.start.isoformat()} with zero delays?",
        "",
        can_start,
        "",
        "### Which scripts are missing, and how long to create them?",
        "",
        *(missing_lines or ["- None."]),
        "",
        f"Total: {hours:g} h for {len(missing)} script(s); {days_left} day(s) until the planned start.",
        *([f"{undeclared}.", ""] if (undeclared := undeclared_line(audit.inventory)) else [""]),
        "### Infrastructure blockers",
        "",
        *_listed(infra, audit),
        "",
        "### Dependency issues",
        "",
        *_listed(deps, audit),
        "",
        f"### Risk level: {verdict.risk.value}",
        "",
        "### Likely blockers if started on that date",
        "",
        *_listed(delaying, audit),
        "",
        "## Operations",
        "",
        ops_doc.history_line(audit),
        "",
        "### Resolution cadence",
        "",
        ops_doc.cadence_table(audit),
        "",
        "### Since the last run",
        "",
        *ops_doc.diff_lines(audit, limit=_MAX_LISTED),
        "",
        "### Waivers",
        "",
        *ops_doc.waiver_sections(audit, brief=True),
        "",
        "### Trend",
        "",
        *ops_doc.trend_image(audit),
        "",
    ]
    return "\n".join(parts)
