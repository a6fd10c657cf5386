"""<PHASE>_READINESS_REPORT_YYYYMMDD.md: what the phase needs, what exists, what must be created."""

from __future__ import annotations

import re

from checks.priority import Priority
from reporting.audit import Audit
from reporting.documents.markdown import dated, header, table
from reporting.records import CaseRecord
from reporting.verdict import Risk

__all__ = ["file_name", "item_risk", "render"]


def file_name(audit: Audit) -> str:
    phase_id = re.sub(r"[^A-Za-z0-9]+", "_", audit.loaded.phase.id).strip("_").upper()
    stem = phase_id if phase_id.startswith("PHASE") else f"PHASE_{phase_id}"
    return dated(audit, f"{stem}_READINESS_REPORT")


def item_risk(open_records: list[CaseRecord]) -> Risk:
    if not open_records:
        return Risk.LOW
    if any(r.priority is Priority.P0 for r in open_records):
        return Risk.HIGH
    if any(r.priority is Priority.P1 for r in open_records):
        return Risk.MEDIUM
    return Risk.LOW


def render(audit: Audit) -> str:
    phase = audit.loaded.phase
    m = audit.loaded.manifest
    open_by_subject: dict[tuple[str, str], list[CaseRecord]] = {}
    for r in audit.blockers:
        open_by_subject.setdefault((r.subject_kind, r.subject), []).append(r)

    scripts = [s for s in audit.inventory if s.needed]
    script_rows = [
        [
            s.path,
            s.category,
            s.priority,
            s.status.value,
            "yes" if s.exists else "no",
            f"{s.create_hours:g} h" if not s.exists else "",
            item_risk(open_by_subject.get(("script", s.path), [])).value,
            "; ".join(r.message or r.title for r in open_by_subject.get(("script", s.path), [])) or "none",
        ]
        for s in scripts
    ]
    env_rows = []
    for kind, items in (("package", m.packages), ("tool", m.tools)):
        for item in items:
            if not item.needed_by(phase.id):
                continue
            recs = open_by_subject.get((kind, item.subject), [])
            env_rows.append(
                [
                    item.subject,
                    kind,
                    item.priority_for(
                        "package_installed" if kind == "package" else "tool_available", phase.id
                    ).value,
                    "open" if recs else "ok",
                    item_risk(recs).value,
                    "; ".join(r.message or r.title for r in recs) or "none",
                ]
            )
    missing = [s for s in scripts if not s.exists]
    create_hours = sum(s.create_hours for s in missing)
    days_left = (phase.start - audit.run.date).days
    parts = [
        header(audit, f"Phase {phase.id} Readiness Report"),
        f"{phase.description}\n" if phase.description else "",
        "## What the phase needs: scripts",
        "",
        table(
            ["Script", "Category", "Priority", "Status", "Exists", "To create", "Risk", "Blockers"],
            script_rows,
        ),
        "",
        "## What the phase needs: environment",
        "",
        table(["Item", "Kind", "Priority", "State", "Risk", "Blockers"], env_rows),
        "",
        "## What must be created",
        "",
        table(
            ["Script", "Purpose", "Estimate"], [[s.path, s.purpose, f"{s.create_hours:g} h"] for s in missing]
        ),
        "",
        f"Total creation effort: **{create_hours:g} h** for {len(missing)} missing script(s); "
        f"{days_left} day(s) until the planned start on {phase.start.isoformat()}.",
        "",
    ]
    return "\n".join(parts)
