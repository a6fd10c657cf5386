"""EXECUTION_BLOCKER_ANALYSIS_YYYYMMDD.md: every failure and error as a blocker, P0 first."""

from __future__ import annotations

from checks.priority import PRIORITY_MEANING, SLA, Priority
from reporting.audit import Audit
from reporting.documents import operations as ops_doc
from reporting.documents.markdown import cell, dated, header, table

__all__ = ["file_name", "render"]


def file_name(audit: Audit) -> str:
    return dated(audit, "EXECUTION_BLOCKER_ANALYSIS")


def _hours(value: object) -> str:
    return f"{value:g} h" if isinstance(value, (int, float)) else "unknown"


def render(audit: Audit) -> str:
    blockers = audit.blockers
    parts = [header(audit, "Execution Blocker Analysis")]
    parts.append(
        table(
            ["Priority", "Meaning", "SLA", "Open blockers"],
            [
                [
                    p.value,
                    PRIORITY_MEANING[p],
                    f"{SLA[p].total_seconds() / 3600:g} h",
                    sum(1 for b in blockers if b.priority is p),
                ]
                for p in Priority
            ],
        )
    )
    parts += [
        "",
        ops_doc.history_line(audit),
        "",
        "## Resolution cadence (SLA dashboard)",
        "",
        ops_doc.cadence_table(audit),
        "",
        "## Changes since the last run",
        "",
        *ops_doc.diff_lines(audit),
        "",
    ]
    for p in Priority:
        group = [b for b in blockers if b.priority is p]
        parts += [f"## {p.value} blockers ({PRIORITY_MEANING[p]})", ""]
        if not group:
            parts += ["_None._", ""]
            continue
        for number, b in enumerate(group, 1):
            info = b.blocker
            phases = ", ".join(b.phases) if b.phases else "all phases"
            parts += [
                f"### {p.value}-{number}: {cell(b.subject)}: {cell(b.title)}",
                "",
                table(
                    ["Field", "Value"],
                    [
                        ["Finding", f"{b.outcome.value}: {b.message}" if b.message else b.outcome.value],
                        ["Area", b.area],
                        ["Impact", info.get("impact", "")],
                        ["Affected phases", phases + ("" if b.needed else " (not needed by this phase)")],
                        ["Estimated delay", _hours(info.get("delay_hours"))],
                        ["Mitigation", info.get("mitigation", "")],
                        ["Workaround", info.get("workaround", "")],
                        ["Recommended action", info.get("action", "")],
                        ["Owner", b.owner or "unassigned"],
                        *ops_doc.blocker_rows(audit, b),
                        ["Case", b.nodeid],
                    ],
                ),
                "",
            ]
    parts += ["## Waivers (accepted risk)", "", *ops_doc.waiver_sections(audit), ""]
    return "\n".join(parts)
