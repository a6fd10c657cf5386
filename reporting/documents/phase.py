"""<PHASE>_READINESS_REPORT_YYYYMMDD.md: everything the phase needs (scripts, environment and every
Google-side item) with the phase's priority, its status and what it blocks; what must be created."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from readiness.criteria import CRITERIA, SubjectKind
from readiness.manifest import SECTION_SUBJECT
from readiness.manifest.base import AuditedItem
from readiness.manifest.gcp import Identity
from readiness.priorities import Priority
from readiness.records import CaseRecord
from readiness.statuses import item_status, status_text
from reporting.audit import Audit
from reporting.documents.markdown import cell, dated, header, table
from reporting.root_causes import RootCause
from reporting.verdict import Risk

__all__ = ["file_name", "item_risk", "render"]


def file_name(audit: Audit) -> str:
    phase_id = re.sub(r"[^A-Za-z0-9]+", "_", audit.loaded.phase.id).strip("_").upper()
    stem = phase_id if phase_id.startswith("PHASE") else f"PHASE_{phase_id}"
    return dated(audit, f"{stem}_READINESS_REPORT")


def item_risk(priority: Priority | None) -> Risk:
    """An item's risk from the priority of its most urgent open blocker (None: nothing open)."""
    if priority is Priority.P0:
        return Risk.HIGH
    if priority is Priority.P1:
        return Risk.MEDIUM
    return Risk.LOW


@dataclass(frozen=True, slots=True)
class _Context:
    records: dict[tuple[str, str], list[CaseRecord]]
    roots: dict[str, RootCause]
    priority_of: dict[str, Priority]


def _context(audit: Audit) -> _Context:
    records: dict[tuple[str, str], list[CaseRecord]] = {}
    for r in audit.records:
        records.setdefault((r.subject_kind, r.subject), []).append(r)
    roots = {c.record.nodeid: c for c in audit.roots}
    return _Context(records, roots, {n: c.priority for n, c in roots.items()})


def _columns(ctx: _Context, recs: list[CaseRecord]) -> list[str]:
    """Status, risk, what it blocks and its blockers, for one item's cases."""
    status, priority = item_status(recs, ctx.priority_of)
    own_roots = [ctx.roots[r.nodeid] for r in recs if r.nodeid in ctx.roots]
    # Impacts once each (a dataset's seven naming cases share one), then what could not run.
    blocks = list(dict.fromkeys(str(c.record.blocker.get("impact") or "") for c in own_roots))
    blocks += [f"{c.folded_text()} ({', '.join(r.key for r in c.folded)})" for c in own_roots if c.folded]
    blockers = [r.message or r.title for r in recs if r.outcome.is_open and not r.blocked_by]
    # A case held by a root of another item (the credentials, a disabled API) says which.
    inside = {r.key for r in recs}
    held = sorted({r.blocked_by for r in recs if r.blocked_by and r.blocked_by not in inside})
    blockers += [f"could not run: blocked by {key}" for key in held]
    return [
        status_text(status, priority),
        item_risk(priority).value,
        "; ".join(b for b in blocks if b) or "-",
        "; ".join(blockers) or "none",
    ]


#: The criterion whose priority is an item's priority for the phase: its kind's first criterion
#: (existence or reachability: what the phase needs of the item before anything else).
_MAIN: Final[dict[SubjectKind, str]] = {c.subject: c.id for c in reversed(CRITERIA.values())}


def _google_items(audit: Audit) -> list[tuple[SubjectKind, AuditedItem]]:
    manifest = audit.loaded.manifest
    items: list[tuple[SubjectKind, AuditedItem]] = []
    if manifest.gcp is not None:
        name = manifest.gcp.impersonate or "application default credentials"
        items.append((SubjectKind.IDENTITY, Identity(name=name, priority=manifest.gcp.priority)))
    for section, kind in SECTION_SUBJECT.items():
        if kind.google:
            items += [(kind, item) for item in getattr(manifest, section)]
    if manifest.billing is not None:
        items.append((SubjectKind.BILLING, manifest.billing))
    return items


def _google_rows(audit: Audit, ctx: _Context) -> list[list[str]]:
    phase = audit.loaded.phase.id
    rows = []
    for kind, item in _google_items(audit):
        if not item.needed_by(phase) and kind is not SubjectKind.IDENTITY:
            continue
        recs = list(ctx.records.get((kind.value, item.subject), []))
        if kind is SubjectKind.DATASET:
            # The dataset's mandate families are part of what the phase needs of it.
            recs += [
                r
                for (k, subject), found in ctx.records.items()
                if k == SubjectKind.FAMILY.value and subject.startswith(f"{item.subject}:")
                for r in found
            ]
        priority = item.priority_for(_MAIN[kind], phase).value
        rows.append([item.subject, kind.value, priority, *_columns(ctx, recs)])
    return rows


def render(audit: Audit) -> str:
    phase = audit.loaded.phase
    m = audit.loaded.manifest
    ctx = _context(audit)

    scripts = [s for s in audit.inventory if s.needed]
    script_rows = [
        [
            s.path,
            s.category,
            s.priority,
            "yes" if s.exists else "no",
            f"{s.create_hours:g} h" if not s.exists else "",
            *_columns(ctx, ctx.records.get(("script", s.path), [])),
        ]
        for s in scripts
    ]
    env_rows = []
    for kind, items in (("package", m.packages), ("tool", m.tools)):
        for item in items:
            if not item.needed_by(phase.id):
                continue
            criterion = "package_installed" if kind == "package" else "tool_available"
            env_rows.append(
                [
                    item.subject,
                    kind,
                    item.priority_for(criterion, phase.id).value,
                    *_columns(ctx, ctx.records.get((kind, item.subject), [])),
                ]
            )
    if m.gcp is None:
        google = [f"**Google Cloud not audited**: {cell(audit.scope.google_gap)}.", ""]
    else:
        google = [
            table(
                ["Item", "Kind", "Priority", "Status", "Risk", "Blocks", "Blockers"],
                _google_rows(audit, ctx),
            ),
            "",
        ]
    missing = [s for s in scripts if not s.exists]
    create_hours = sum(s.create_hours for s in missing)
    columns = ["Status", "Risk", "Blocks", "Blockers"]
    parts = [
        header(audit, f"Phase {phase.id} Readiness Report"),
        f"{phase.description}\n" if phase.description else "",
        "Priority: the phase's priority for the item. Status: MISSING (required, absent), BLOCKED "
        "(exists, cannot run as the phase will run it), PARTIAL (runs, needs updates), READY, with "
        "the priority of its most urgent open blocker beside it. Blocks: what its failure stops.",
        "",
        "## What the phase needs: scripts",
        "",
        table(["Script", "Category", "Priority", "Exists", "To create", *columns], script_rows),
        "",
        "## What the phase needs: environment",
        "",
        table(["Item", "Kind", "Priority", *columns], env_rows),
        "",
        "## What the phase needs: Google Cloud",
        "",
        *google,
        "## What must be created",
        "",
        table(
            ["Script", "Purpose", "Estimate"], [[s.path, s.purpose, f"{s.create_hours:g} h"] for s in missing]
        ),
        "",
        f"Total creation effort: **{create_hours:g} h** for {len(missing)} missing script(s); "
        f"{audit.start_text()} ({phase.start.isoformat()}).",
        "",
    ]
    return "\n".join(parts)
