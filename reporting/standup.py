"""The standup page's summary: what the team discusses every morning, as HTML for pytest-html.

The verdict with its reasons, the P0 and P1 root-cause blockers (owner, age against the SLA,
due date, escalation), the SLA cadence, what changed since the last run of the same scope, the
trend chart, the scope and links to the documents written beside the page. A function of the
audit alone; every value from the manifest, the repository or the run is escaped here.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from html import escape
from typing import Final
from urllib.parse import quote

from readiness.priorities import SLA, Priority
from readiness.records import CaseRecord, Outcome
from reporting.aging import format_age
from reporting.audit import Audit
from reporting.root_causes import RootCause
from reporting.verdict import Verdict

__all__ = ["blocker_line", "page_title", "render_summary", "root_blockers", "sla_text"]

#: Root-cause blockers listed by name; the rest are counted, so the summary prints in three pages.
MAX_LISTED: Final = 12
#: Keys listed per line of "since the last run".
MAX_KEYS: Final = 5
#: A finding's length in the blocker list (the full message is in the results table).
MAX_FINDING: Final = 240

COLOURS: Final = {Verdict.GO: "#1a7f37", Verdict.CONDITIONAL_GO: "#9a6700", Verdict.NO_GO: "#cf222e"}


def root_blockers(audit: Audit) -> list[RootCause]:
    """The audit's open blockers, one per root cause (with the cases it kept from running), most
    urgent first by the root's effective priority: the one place the page learns what blocks."""
    return sorted(audit.roots, key=lambda b: b.priority.rank)


def page_title(audit: Audit) -> str:
    """Plain text (the page template escapes it)."""
    m, phase = audit.loaded.manifest, audit.loaded.phase
    return f"Readiness: {m.project.name}, phase {phase.id}: {audit.verdict.verdict.value}"


def sla_text(priority: Priority) -> str:
    hours = SLA[priority].total_seconds() / 3600
    if hours < 72:
        return f"{hours:g} h"
    days = hours / 24
    if days % 7:
        return f"{days:g} d"
    weeks = days / 7
    return f"{weeks:g} week" + ("s" if weeks > 1 else "")


def _when(value: dt.datetime | None) -> str:
    return f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC" if value else "unknown"


def _finding(record: CaseRecord) -> str:
    text = record.message or record.title
    return text if len(text) <= MAX_FINDING else text[: MAX_FINDING - 1] + "…"


def blocker_line(audit: Audit, blocker: RootCause) -> str:
    """One line of the list: subject, finding, owner, age against the SLA, due, escalation, folded."""
    r, priority = blocker.record, blocker.priority
    aging = audit.ops.aging.get(r.key)
    age = aging.age(audit.ops.now) if aging is not None else None
    overdue = bool(aging and aging.escalation)
    parts = [
        f"<span class='prio prio-{priority.value}'>{priority.value}</span>",
        f"<b class='subject'>{escape(r.subject)}</b>",
        f"<span class='finding'>{escape(_finding(r))}</span>",
        f"<span class='owner'>owner {escape(r.owner or 'unassigned')}</span>",
        f"<span class='age'>age {format_age(age)} of {sla_text(priority)} SLA</span>",
    ]
    if aging is not None and aging.due is not None:
        parts.append(f"<span class='due'>due {_when(aging.due)}</span>")
    if overdue and aging is not None:
        parts.append(f"<span class='escalation'>OVERDUE: {escape(aging.escalation)}</span>")
    if blocker.folded:
        parts.append(f"<span class='folded'>{blocker.folded_text()}</span>")
    return f"<li class='blocker{' overdue' if overdue else ''}'>" + " · ".join(parts) + "</li>"


def _blockers(audit: Audit, analysis: str) -> str:
    urgent = [b for b in root_blockers(audit) if b.priority in (Priority.P0, Priority.P1)]
    if not urgent:
        return (
            "<h3>P0 and P1 blockers</h3><p id='readiness-root-blockers'>None: no P0 or P1 case is open.</p>"
        )
    lines = [blocker_line(audit, b) for b in urgent[:MAX_LISTED]]
    more = ""
    if len(urgent) > MAX_LISTED:
        more = f"<p>+{len(urgent) - MAX_LISTED} more P0/P1 blockers: {analysis}</p>"
    folded = sum(len(b.folded) for b in urgent)
    head = f"{len(urgent)} root cause(s)" + (f", blocking {folded} more check(s)" if folded else "")
    return f"<h3>P0 and P1 blockers: {head}</h3><ol id='readiness-root-blockers'>{''.join(lines)}</ol>{more}"


def _counts(audit: Audit) -> str:
    head = "".join(f"<th>{o.value}</th>" for o in Outcome)
    rows = "".join(
        f"<tr><td>{p.value}</td><td class='open-{p.value}'>{sum(n for o, n in row.items() if o.is_open)}</td>"
        + "".join(f"<td class='count-{o.value}'>{row[o]}</td>" for o in Outcome)
        + "</tr>"
        for p, row in audit.counts.items()
    )
    return (
        "<table id='readiness-blockers' class='readiness-table'>"
        f"<tr><th>Priority</th><th>Open blockers</th>{head}</tr>{rows}</table>"
    )


def _cadence(audit: Audit) -> str:
    rows = "".join(
        f"<tr><td>{c.priority.value}</td><td>{escape(c.target)}</td><td>{c.open}</td><td>{c.within}</td>"
        f"<td>{c.due_soon}</td><td>{c.overdue}</td><td>{c.waived}</td><td>{escape(c.oldest)}</td>"
        f"<td>{escape(c.status)}</td></tr>"
        for c in audit.cadence
    )
    return (
        "<h3>SLA cadence</h3><table id='readiness-cadence' class='readiness-table'><tr><th>Priority</th>"
        "<th>Target</th><th>Open</th><th>Within</th><th>Due soon</th><th>Overdue</th><th>Waived</th>"
        f"<th>Oldest open</th><th>Status</th></tr>{rows}</table>"
    )


def _activities(audit: Audit) -> str:
    """The scheduled run and the issue review; a missed one with the escalation that applies."""
    items = "".join(
        f"<li class='activity{' missed' if a.missed else ''}' data-state='{escape(a.state.value)}'>"
        + (f"<b>{escape(a.state.value.upper())}</b> " if a.missed else "")
        + f"{escape(a.activity.value)}: {escape(a.text)}"
        + (f" · <span class='escalation'>{escape(a.escalation)}</span>" if a.escalation else "")
        + "</li>"
        for a in audit.ops.activities
    )
    return f"<h3>Recurring activities</h3><ul id='readiness-activities'>{items}</ul>"


def _keys(keys: Sequence[str]) -> str:
    shown = ", ".join(f"<code>{escape(k)}</code>" for k in keys[:MAX_KEYS])
    more = f", +{len(keys) - MAX_KEYS} more" if len(keys) > MAX_KEYS else ""
    return f": {shown}{more}" if keys else ""


def _changes(audit: Audit) -> str:
    diff = audit.ops.diff
    if diff is None:
        return (
            "<h3>Since the last run</h3><p id='readiness-diff'>Not known: no history is configured "
            "(--history or [history] store).</p>"
        )
    head = (
        f"Compared with run {escape(diff.previous_run)} ({escape(diff.previous_started)})."
        if diff.previous_run
        else "First recorded run of this scope: every open blocker is new."
    )
    lines = "".join(
        f"<li data-change='{name}'>{label}: <b>{len(keys)}</b>{_keys(keys)}</li>"
        for name, label, keys in (
            ("new", "New", diff.new),
            ("resolved", "Resolved", diff.resolved),
            ("regressions", "Regressions (passed before, fail now)", diff.regressions),
            ("flapping", "Flapping", diff.flapping),
        )
    )
    return f"<h3>Since the last run</h3><div id='readiness-diff'><p>{head}</p><ul>{lines}</ul></div>"


def _trend(chart: str | None) -> str:
    if chart is None:
        return "<p id='readiness-trend'>Trend: no history yet (record runs with --history).</p>"
    # An image, not inline markup: the browser draws it and runs nothing it might contain.
    data = base64.b64encode(chart.encode()).decode("ascii")
    return (
        "<div id='readiness-trend'><h3>Trend: open blockers and pass rate over the last runs</h3>"
        f"<img alt='readiness trend' src='data:image/svg+xml;base64,{data}'/></div>"
    )


def _links(links: Sequence[tuple[str, str]]) -> str:
    items = "".join(f"<li><a href='{escape(quote(href))}'>{escape(name)}</a></li>" for name, href in links)
    return f"<h3>Documents written beside this page</h3><ul id='readiness-documents'>{items}</ul>"


def render_summary(audit: Audit, chart: str | None, links: Sequence[tuple[str, str]]) -> str:
    """The page's summary, verdict first. `links`: (document name, relative href)."""
    verdict = audit.verdict
    colour = COLOURS[verdict.verdict]
    analysis = next(
        (f"<a href='{escape(quote(href))}'>{escape(name)}</a>" for name, href in links if "BLOCKER" in name),
        "see the blocker analysis",
    )
    return (
        f"<section id='readiness-standup'>"
        f"<div id='readiness-verdict' class='verdict' style='border:3px solid {colour}'>"
        f"<h2 style='color:{colour};margin:0'>Verdict: {escape(verdict.verdict.value)} "
        f"(risk {escape(verdict.risk.value)})</h2>"
        f"<p class='reasons'>{escape(' '.join(verdict.reasons))}</p>"
        f"<p class='scope'>Scope: {escape(audit.scope.describe())}</p>"
        f"{_counts(audit)}"
        "</div>"
        f"{_blockers(audit, analysis)}"
        f"{_cadence(audit)}"
        f"{_activities(audit)}"
        f"{_changes(audit)}"
        f"{_trend(chart)}"
        f"<h3>Scope</h3><p id='readiness-scope'>{escape(audit.scope.describe())}; run "
        f"{escape(audit.run.run_id)}, {_when(audit.run.started)}; history: "
        f"{escape(audit.ops.history_line())}</p>"
        f"{_links(links)}"
        "</section>"
    )
