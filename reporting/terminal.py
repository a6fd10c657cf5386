"""The run's end in the terminal: the verdict, its reasons, the counts per priority, the
blockers by root cause, then what the history, waivers and SLAs add."""

from __future__ import annotations

from typing import Any, Final

from tabulate import tabulate

from readiness.records import Outcome
from reporting.audit import Audit
from reporting.inventory import undeclared_line
from reporting.verdict import short_finding

__all__ = ["operations", "verdict_and_blockers"]


def verdict_and_blockers(tr: Any, audit: Audit) -> None:
    verdict = audit.verdict
    colour = {"GO": "green", "CONDITIONAL GO": "yellow"}.get(verdict.verdict.value, "red")
    tr.write_sep("=", f"readiness: {audit.verdict_line} (risk {verdict.risk.value})", **{colour: True})
    for reason in verdict.reasons:
        tr.write_line(f"  {reason}")
    for reason in verdict.risk_reasons:
        tr.write_line(f"  risk {reason}")
    for line in _counts_table(audit).splitlines():
        tr.write_line(f"  {line}")
    _summarise_blockers(tr, audit)
    tr.write_line(f"  scope: {audit.scope.describe()}")
    if undeclared := undeclared_line(audit.inventory):
        tr.write_line(f"  {undeclared}")


def operations(tr: Any, audit: Audit, history_seconds: float | None, history_notes: list[str]) -> None:
    """History, the change since the last run, overdue blockers and waivers."""
    ops = audit.ops
    took = f" in {history_seconds * 1000:.0f} ms" if history_seconds is not None else ""
    tr.write_line(f"  history: {ops.history_line()}{took}", red=ops.history_status == "not written")
    for note in history_notes:
        tr.write_line(f"  history warning: {note}", yellow=True)
    if ops.diff is not None:
        d = ops.diff
        tr.write_line(
            f"  since last run: {len(d.new)} new, {len(d.regressions)} regression(s), "
            f"{len(d.still_open)} still open, {len(d.resolved)} resolved, {len(d.flapping)} flapping"
            + ("" if d.previous_run else " (first run of this scope)")
        )
    overdue = [r for r in audit.blockers if ops.aging[r.key].escalation]
    for r in overdue[:5]:
        tr.write_line(f"  OVERDUE {r.priority.value} {r.key}: {ops.aging[r.key].escalation}", red=True)
    for activity in (a for a in ops.activities if a.missed):
        tr.write_line(f"  {activity.line()}", red=bool(activity.escalation), yellow=not activity.escalation)
    w = ops.waivers
    if w.applied or w.expired or w.unmatched or w.refused or w.unused:
        tr.write_line(
            f"  waivers: {len(w.applied)} case(s) waived, {len(w.expired)} expired, "
            f"{len(w.unmatched)} matched nothing, {len(w.unused)} no longer needed, "
            f"{len(w.refused)} refused (P0 not verified)"
        )


def _counts_table(audit: Audit) -> str:
    """Cases per priority and outcome, the priorities that had cases, for the terminal."""
    rows = [
        [priority.value, sum(n for o, n in row.items() if o.is_open), total, *row.values()]
        for priority, row in audit.counts.items()
        if (total := sum(row.values()))
    ]
    return tabulate(
        rows, headers=["priority", "open", "total", *(o.value for o in Outcome)], tablefmt="simple"
    )


#: Blockers the terminal lists before pointing at the documents.
_TERMINAL_BLOCKERS: Final = 10


def _summarise_blockers(tr: Any, audit: Audit) -> None:
    """One line per root cause, most urgent first, with what it kept from running; then the
    scratch objects still present."""
    counts = [audit.blocker_count_text(p) for p, (n, _) in audit.blocker_counts.items() if n]
    tr.write_line(f"  blockers: {', '.join(counts) if counts else 'none'}")
    for root in audit.roots[:_TERMINAL_BLOCKERS]:
        folded = f" ({root.folded_text()})" if root.folded else ""
        tr.write_line(f"    {root.priority.value} {short_finding(root.record)}{folded}")
    if len(audit.roots) > _TERMINAL_BLOCKERS:
        tr.write_line(f"    … and {len(audit.roots) - _TERMINAL_BLOCKERS} more in the blocker analysis")
    for leftover in audit.leftovers:
        tr.write_line(f"  scratch left: {leftover.describe()}", yellow=True)
