"""IMPLEMENTATION_SCRIPT_INVENTORY_YYYYMMDD.md: every script with its status and facts."""

from __future__ import annotations

from collections import Counter

from readiness.statuses import STATUS_MEANING
from reporting.audit import Audit
from reporting.documents.markdown import dated, header, table
from reporting.inventory import ScriptStatus

__all__ = ["file_name", "render"]


def file_name(audit: Audit) -> str:
    return dated(audit, "IMPLEMENTATION_SCRIPT_INVENTORY")


def render(audit: Audit) -> str:
    rows = audit.inventory
    counts = Counter(r.status for r in rows)
    summary = table(
        ["Status", "Meaning", "Scripts"],
        [[s.value, STATUS_MEANING[s], counts.get(s, 0)] for s in ScriptStatus],
    )
    parts = [
        header(audit, "Implementation Script Inventory"),
        "## Status",
        "",
        summary,
        "",
        "The priority beside a status is that of its most urgent open blocker.",
        "",
    ]
    by_category: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_category.setdefault(row.category, []).append(index)
    for category in sorted(by_category):
        parts += [f"## {category.capitalize()} scripts", ""]
        parts.append(
            table(
                [
                    "Script",
                    "Status",
                    "Purpose",
                    "Lines",
                    "Last modified",
                    "Dependencies",
                    "Execution mode",
                    "Phases",
                    "Blockers",
                    "Recommendation",
                ],
                [
                    [
                        r.path,
                        r.status_text,
                        r.purpose,
                        "" if r.lines is None else r.lines,
                        r.last_modified,
                        r.dependencies,
                        r.execution_mode,
                        r.phases or "all",
                        r.blockers or "none",
                        r.recommendation,
                    ]
                    for r in (rows[i] for i in by_category[category])
                ],
            )
        )
        parts.append("")
    declared = [r for r in rows if r.naming_mandate or r.schema_mandate or r.cost_estimate]
    if declared:
        parts += [
            "## Tables: mandates and cost",
            "",
            "For the scripts that declare the tables they read and write (`reads`, `writes`, `queries`).",
            "",
            table(
                ["Script", "Status", "Naming mandate", "Schema mandate", "Cost estimate"],
                [
                    [
                        r.path,
                        r.status_text,
                        r.naming_mandate or "-",
                        r.schema_mandate or "-",
                        r.cost_estimate or "-",
                    ]
                    for r in declared
                ],
            ),
            "",
        ]
    return "\n".join(parts)
