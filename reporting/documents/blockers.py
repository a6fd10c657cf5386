"""EXECUTION_BLOCKER_ANALYSIS_YYYYMMDD.md: every failure and error as a blocker, P0 first."""

from __future__ import annotations

from readiness.priorities import PRIORITY_MEANING, SLA, Priority
from reporting.audit import Audit
from reporting.documents import history_sections
from reporting.documents.leftovers import leftover_lines
from reporting.documents.markdown import cell, dated, header, table
from reporting.root_causes import RootCause

__all__ = ["file_name", "render"]


def file_name(audit: Audit) -> str:
    return dated(audit, "EXECUTION_BLOCKER_ANALYSIS")


def _hours(value: object) -> str:
    return f"{value:g} h" if isinstance(value, (int, float)) else "unknown"


def _priority_row(root: RootCause) -> list[list[str]]:
    if root.priority is root.record.priority:
        return []
    raised = min(root.folded, key=lambda r: r.priority.rank)
    return [
        [
            "Priority",
            f"{root.priority.value}: its own is {root.record.priority.value}; it blocks {raised.key}",
        ]
    ]


def _folded_row(root: RootCause) -> list[list[str]]:
    if not root.folded:
        return []
    listed = ", ".join(f"{r.key} ({r.priority.value})" for r in root.folded)
    return [["Could not run because of it", f"{root.folded_text()}: {listed}"]]


def render(audit: Audit) -> str:
    roots = audit.roots
    counts = audit.blocker_counts
    parts = [header(audit, "Execution Blocker Analysis")]
    parts += [
        "One blocker per root cause: the checks that could not run because of it are folded under "
        "it, and count at their own priority in the verdict. A blocker is as urgent as the most "
        "urgent case it holds.",
        "",
    ]
    parts.append(
        table(
            ["Priority", "Meaning", "SLA", "Open blockers", "Cases"],
            [
                [p.value, PRIORITY_MEANING[p], f"{SLA[p].total_seconds() / 3600:g} h", *counts[p]]
                for p in Priority
            ],
        )
    )
    parts += [
        "",
        "## Scratch objects left behind",
        "",
        *leftover_lines(audit),
        "",
        "## Recurring activities (missed runs and reviews)",
        "",
        *history_sections.activity_lines(audit),
        "",
        history_sections.history_line(audit),
        "",
        "## Resolution cadence (SLA dashboard)",
        "",
        history_sections.cadence_table(audit),
        "",
        "## Changes since the last run",
        "",
        *history_sections.diff_lines(audit),
        "",
    ]
    for p in Priority:
        group = [c for c in roots if c.priority is p]
        parts += [f"## {p.value} blockers ({PRIORITY_MEANING[p]})", ""]
        if not group:
            parts += ["_None._", ""]
            continue
        for number, root in enumerate(group, 1):
            b = root.record
            info = b.blocker
            phases = ", ".join(b.phases) if b.phases else "all phases"
            parts += [
                f"### {p.value}-{number}: {cell(b.subject)}: {cell(b.title)}",
                "",
                table(
                    ["Field", "Value"],
                    [
                        ["Finding", f"{b.outcome.value}: {b.message}" if b.message else b.outcome.value],
                        *_priority_row(root),
                        *_folded_row(root),
                        ["Area", b.area],
                        ["Impact", info.get("impact", "")],
                        ["Affected phases", phases + ("" if b.needed else " (not needed by this phase)")],
                        ["Estimated delay", _hours(info.get("delay_hours"))],
                        ["Mitigation", info.get("mitigation", "")],
                        ["Workaround", info.get("workaround", "")],
                        ["Recommended action", info.get("action", "")],
                        ["Owner", b.owner or "unassigned"],
                        *history_sections.blocker_rows(audit, b),
                        ["Case", b.nodeid],
                    ],
                ),
                "",
            ]
    parts += ["## Waivers (accepted risk)", "", *history_sections.waiver_sections(audit), ""]
    return "\n".join(parts)
