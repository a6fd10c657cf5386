"""Markdown for what history adds: the cadence dashboard, the run-to-run diff, waivers, the trend.

Shared by the blocker analysis (in full) and the summary (short).
"""

from __future__ import annotations

import datetime as dt

from readiness.records import CaseRecord
from reporting import trend
from reporting.aging import SlaStatus, format_age
from reporting.audit import Audit
from reporting.documents.markdown import cell, table
from reporting.waivers import describe

__all__ = [
    "activity_lines",
    "blocker_rows",
    "cadence_table",
    "diff_lines",
    "history_line",
    "trend_image",
    "waiver_sections",
]


def _when(value: dt.datetime | None) -> str:
    return f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC" if value else "unknown"


def history_line(audit: Audit) -> str:
    return f"History: {audit.ops.history_line()}."


def activity_lines(audit: Audit) -> list[str]:
    """The recurring activities (the scheduled run, the issue review): a missed one in bold with
    the escalation that applies."""
    lines = []
    for a in audit.ops.activities:
        if a.missed:
            escalation = f" **Escalation: {cell(a.escalation)}.**" if a.escalation else ""
            lines.append(f"- **{a.state.value.upper()}: {a.activity.value}**: {cell(a.text)}.{escalation}")
        else:
            lines.append(f"- {a.activity.value.capitalize()}: {a.state.value}: {cell(a.text)}.")
    return lines or ["- Not known."]


def cadence_table(audit: Audit) -> str:
    rows = audit.cadence
    return table(
        ["Priority", "Target", "Open", "Within", "Due soon", "Overdue", "Waived", "Oldest open", "Status"],
        [
            [
                r.priority.value,
                r.target,
                r.open,
                r.within,
                r.due_soon,
                r.overdue,
                r.waived,
                r.oldest,
                r.status,
            ]
            for r in rows
        ],
    )


def blocker_rows(audit: Audit, record: CaseRecord) -> list[list[str]]:
    """Age, SLA and change rows for one blocker's table."""
    ops = audit.ops
    aging = ops.aging[record.key]
    sla = aging.status.value
    if aging.due is not None:
        sla += f" (due {_when(aging.due)})"
    change = ops.diff.change(record.key) if ops.diff else "unknown (no history)"
    if ops.diff and record.key in ops.diff.flapping:
        change += ", flapping"
    return [
        ["First seen", _when(aging.first_seen)],
        ["Age", format_age(aging.age(ops.now))],
        ["Failing runs in a row", str(aging.consecutive_failures) if ops.has_history else "unknown"],
        ["SLA status", sla],
        ["Escalation", aging.escalation or "none"],
        ["Change since last run", change or "-"],
    ]


def diff_lines(audit: Audit, limit: int | None = None) -> list[str]:
    diff = audit.ops.diff
    if diff is None:
        return ["_No history: changes since the last run are not known._"]
    if not diff.previous_run:
        head = "First recorded run of this scope: every open blocker is new."
    else:
        head = f"Compared with run {diff.previous_run} ({diff.previous_started})."
    lines = [head, ""]
    for label, keys in (
        ("New blockers", diff.new),
        ("Regressions (passed before, fail now)", diff.regressions),
        ("Still open", diff.still_open),
        ("Resolved", diff.resolved),
        ("Newly waived", diff.newly_waived),
        ("Flapping (changing state run after run)", diff.flapping),
    ):
        shown = keys if limit is None else keys[:limit]
        more = f", … and {len(keys) - len(shown)} more" if len(shown) < len(keys) else ""
        listed = ", ".join(f"`{cell(k)}`" for k in shown) + more
        lines.append(f"- {label}: {len(keys)}" + (f": {listed}" if keys else ""))
    return lines


def waiver_sections(audit: Audit, brief: bool = False) -> list[str]:
    w = audit.ops.waivers
    parts: list[str] = []
    waived = audit.waived
    if brief:
        parts.append(f"- Waived (accepted risk, not counted by the verdict): {len(waived)} case(s)")
        for r in waived[:5]:
            parts.append(f"  - `{cell(r.key)}` {describe(w.applied[r.key])}")
    else:
        parts += [
            "Waived failures do not count toward the verdict; each blocks again the day after it expires.",
            "",
            table(
                ["Case", "Priority", "Finding", "Reason", "Owner", "Expires", "SLA"],
                [
                    [
                        r.key,
                        r.priority.value,
                        r.message or r.title,
                        w.applied[r.key].reason,
                        w.applied[r.key].owner,
                        w.applied[r.key].expires.isoformat(),
                        SlaStatus.WAIVED.value,
                    ]
                    for r in waived
                ],
            ),
            "",
        ]
    for waiver, keys in w.expired:
        blocking = f"; blocks again: {', '.join(f'`{cell(k)}`' for k in keys)}" if keys else ""
        parts.append(f"- EXPIRED waiver `{cell(waiver.case)}` {cell(describe(waiver))}{blocking}")
    for waiver in w.unmatched:
        parts.append(
            f"- UNMATCHED waiver `{cell(waiver.case)}` matched no case of this run ({cell(describe(waiver))})"
        )
    for waiver in w.unused:
        parts.append(
            f"- Waiver `{cell(waiver.case)}` is no longer needed: its cases pass ({cell(describe(waiver))})"
        )
    for key, waiver in w.refused:
        parts.append(
            f"- REFUSED waiver `{cell(waiver.case)}` for `{cell(key)}`: a P0 case that could not be "
            "verified is never waived; fix what stops the check from running"
        )
    return parts


def trend_image(audit: Audit) -> list[str]:
    if not audit.ops.trend:
        return ["_No history: no trend._"]
    return [f"![Open blockers and pass rate over the last runs]({trend.file_name(audit.run.date)})"]
