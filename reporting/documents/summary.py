"""AUDIT_SUMMARY_YYYYMMDD.md: the verdict and the answers to the audit's critical questions.

Kept to three pages at most: lists are cut to the most urgent entries, with a pointer to the
blocker analysis for the rest.
"""

from __future__ import annotations

from typing import Final

from readiness.criteria import CRITERIA
from readiness.priorities import Priority
from readiness.records import CaseRecord
from reporting.audit import Audit
from reporting.documents import blockers as blockers_doc
from reporting.documents import history_sections
from reporting.documents.leftovers import leftover_lines
from reporting.documents.markdown import cell, dated, header, table
from reporting.inventory import undeclared_line
from reporting.root_causes import RootCause
from reporting.verdict import Verdict

__all__ = ["blocker_totals", "file_name", "render"]

_MAX_LISTED: Final = 10


def file_name(audit: Audit) -> str:
    return dated(audit, "AUDIT_SUMMARY")


def _listed(roots: list[RootCause], audit: Audit) -> list[str]:
    lines = [line for root in roots[:_MAX_LISTED] for line in _root_line(root)]
    if len(roots) > _MAX_LISTED:
        lines.append(f"- … and {len(roots) - _MAX_LISTED} more in {blockers_doc.file_name(audit)}")
    return lines or ["- None found."]


def _root_line(root: RootCause) -> list[str]:
    """One blocker: the root's finding, and what it kept from running folded under it."""
    lines = [f"- {root.priority.value} {_finding(root.record)}"]
    if root.folded:
        lines.append(f"  - {root.folded_text()}: {', '.join(f'`{cell(r.key)}`' for r in root.folded)}")
    return lines


def _finding(r: CaseRecord) -> str:
    """The record's message, prefixed by its subject unless the message already names it."""
    text = r.message or r.title
    if r.subject not in text:
        text = f"{r.subject}: {text}"
    return cell(text)


def blocker_totals(audit: Audit) -> str:
    """ "3 P0 blockers (5 cases), 12 P1 blockers (14 cases)": the priorities that have any."""
    parts = [audit.blocker_count_text(p) for p, (n, _) in audit.blocker_counts.items() if n]
    return ", ".join(parts) if parts else "no open blocker"


def render(audit: Audit) -> str:
    phase = audit.loaded.phase
    verdict = audit.verdict
    roots = audit.roots
    infra = [c for c in roots if (k := CRITERIA.get(c.record.criterion)) is not None and k.section]
    deps = [c for c in roots if c.record.area == "dependencies"]
    missing = audit.missing_scripts()
    hours = sum(s.create_hours for s in missing)
    delaying = [c for c in roots if c.priority in (Priority.P0, Priority.P1)]
    gap = audit.scope.google_gap

    if verdict.verdict is Verdict.GO and audit.scope.is_full:
        can_start = f"**Yes.** Every check passed that could block phase {cell(phase.id)}."
    elif verdict.verdict is Verdict.GO:
        can_start = f"**Yes, for the audited scope only** ({cell(audit.scope.describe())}); " + (
            "Google Cloud was not audited." if gap else "run the full suite before relying on it."
        )
    else:
        urgent = [
            audit.blocker_count_text(p) for p in (Priority.P0, Priority.P1) if audit.blocker_counts[p][0]
        ]
        can_start = f"**No.** {' and '.join(urgent)} stand."
    if gap:
        infra_lines = [
            f"- **Google Cloud not audited**: {cell(gap)}.",
            *(_listed(infra, audit) if infra else []),
        ]
    else:
        infra_lines = _listed(infra, audit)

    counts = audit.counts
    count_rows = [[p.value, *(counts[p][o] for o in counts[p])] for p in Priority]
    outcomes = [o.value for o in next(iter(counts.values()))]
    missing_lines = [
        f"- {cell(s.path)} ({cell(s.purpose)}): {s.create_hours:g} h" for s in missing[:_MAX_LISTED]
    ]
    risk_reasons = [cell(r) for r in verdict.risk_reasons]
    parts = [
        header(audit, "Audit Summary"),
        f"## Verdict: {cell(audit.verdict_line)}",
        "",
        f"Risk level: **{verdict.risk.value}**. " + " ".join(f"{cell(r)}." for r in verdict.reasons),
        "",
        f"Blockers, one per root cause: {blocker_totals(audit)}. Cases per priority and outcome:",
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
        f"Total: {hours:g} h for {len(missing)} script(s); {audit.start_text()}.",
        *([f"{undeclared}.", ""] if (undeclared := undeclared_line(audit.inventory)) else [""]),
        "### Infrastructure blockers",
        "",
        *infra_lines,
        "",
        "### Dependency issues",
        "",
        *_listed(deps, audit),
        "",
        f"### Risk level: {verdict.risk.value}",
        "",
        *risk_reasons,
        "",
        "### Likely blockers if started on that date",
        "",
        *_listed(delaying, audit),
        "",
        "### Scratch objects left behind",
        "",
        *leftover_lines(audit),
        "",
        "## Operations",
        "",
        history_sections.history_line(audit),
        "",
        "### Recurring activities",
        "",
        *history_sections.activity_lines(audit),
        "",
        "### Resolution cadence",
        "",
        history_sections.cadence_table(audit),
        "",
        "### Since the last run",
        "",
        *history_sections.diff_lines(audit, limit=_MAX_LISTED),
        "",
        "### Waivers",
        "",
        *history_sections.waiver_sections(audit, brief=True),
        "",
        "### Trend",
        "",
        *history_sections.trend_image(audit),
        "",
    ]
    return "\n".join(parts)
