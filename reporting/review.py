"""The bi-weekly issue-resolution review, written from history alone (no checks are run).

    python -m reporting.review --manifest readiness.toml [--out DIR] [--now ISO] [--history LOC]

Writes DIR/YYYY-MM-DD-issue-review.md (DIR defaults to `[cadence] reviews`, `reviews/` beside the
manifest): whether the scheduled run was missed and the review is late (reporting.activities); every
open blocker by priority and category with its SLA status, action items with owner and due
date (first seen + SLA), and what was resolved since the previous review (the newest earlier
review file in DIR, else two weeks ago). Exit status: 0 written, 1 history unreadable or the
file unwritable, 2 usage error (bad manifest, no history store).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from readiness.clock import parse_now
from readiness.criteria import Area
from readiness.manifest import ManifestError, load_manifest
from readiness.priorities import PRIORITY_MEANING, Priority
from readiness.records import Outcome
from reporting.activities import (
    ActivityStatus,
    last_review,
    nightly_scope,
    nightly_status,
    review_status,
    reviews_folder,
)
from reporting.aging import SlaStatus, format_age, sla_status
from reporting.documents.markdown import cell, table
from reporting.history import CaseEntry, HistoryError, RunEntry, open_store
from reporting.writer import DocumentWriteError, replace_document

__all__ = ["main", "render_review"]

#: The team's review cadence: the default "previous review" when no earlier file exists.
REVIEW_INTERVAL: Final = dt.timedelta(days=14)


def _when(value: dt.datetime | None) -> str:
    return f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC" if value else "unknown"


def previous_review(out_dir: Path, today: dt.date) -> dt.date | None:
    """The newest review before today's (today's is the one being written)."""
    return last_review(out_dir, today, inclusive=False)


def render_review(
    project: str,
    phase: str,
    location: str,
    latest: dict[str, CaseEntry],
    recent: list[RunEntry],
    now: dt.datetime,
    since: dt.datetime,
    since_label: str,
    activities: Sequence[ActivityStatus] = (),
) -> str:
    """The review's Markdown. `latest`: newest row per case; `recent`: runs since `since`, newest first."""
    open_cases = [c for c in latest.values() if Outcome(c.outcome).is_open]
    waived = [c for c in latest.values() if c.outcome == Outcome.WAIVED.value]
    status: dict[str, tuple[SlaStatus, dt.datetime | None, str]] = {}
    for c in open_cases:
        if c.first_seen is None:
            status[c.key] = (SlaStatus.UNKNOWN, None, "")
        else:
            status[c.key] = sla_status(Priority(c.priority), c.first_seen, now)
    last = recent[0] if recent else None
    parts = [
        f"# Issue-resolution review {now.date().isoformat()}",
        "",
        f"- Project: {cell(project)}; phase {cell(phase)}",
        f"- From history: {cell(location)} (no checks were run for this review)",
        (
            f"- Latest run: {last.run_id} at {_when(last.started)}: **{last.verdict}**"
            if last
            else "- Latest run: none since the previous review"
        ),
        f"- Previous review: {since_label}",
        "",
        "## Recurring activities",
        "",
        *(
            f"- **{a.state.value.upper()}: {a.activity.value}**: {cell(a.text)}."
            + (f" **Escalation: {cell(a.escalation)}.**" if a.escalation else "")
            if a.missed
            else f"- {a.activity.value.capitalize()}: {a.state.value}: {cell(a.text)}."
            for a in activities
        ),
        *([] if activities else ["- Not known."]),
        "",
        "## Cadence",
        "",
    ]
    rows = []
    for p in Priority:
        keys = [c.key for c in open_cases if c.priority == p.value]
        overdue = sum(1 for k in keys if status[k][0] is SlaStatus.OVERDUE)
        due_soon = sum(1 for k in keys if status[k][0] is SlaStatus.DUE_SOON)
        rows.append([p.value, PRIORITY_MEANING[p], len(keys), due_soon, overdue])
    parts += [table(["Priority", "Meaning", "Open", "Due soon", "Overdue"], rows), ""]

    parts += ["## Open blockers", ""]
    if not open_cases:
        parts += ["_None._", ""]
    areas = [a.value for a in Area]
    for p in Priority:
        group = [c for c in open_cases if c.priority == p.value]
        if not group:
            continue
        parts += [f"### {p.value} ({PRIORITY_MEANING[p]})", ""]
        for area in sorted({c.area for c in group}, key=lambda a: areas.index(a) if a in areas else 99):
            items = sorted((c for c in group if c.area == area), key=lambda c: c.key)
            parts += [
                f"#### {area}",
                "",
                table(
                    ["Case", "Finding", "Owner", "First seen", "Age", "Failing runs", "SLA status", "Due"],
                    [
                        [
                            c.key,
                            c.message or c.title,
                            c.owner or "unassigned",
                            _when(c.first_seen),
                            format_age(now - c.first_seen if c.first_seen else None),
                            c.consecutive_failures,
                            status[c.key][0].value,
                            _when(status[c.key][1]),
                        ]
                        for c in items
                    ],
                ),
                "",
            ]

    parts += ["## Action items", ""]
    ordered = sorted(open_cases, key=lambda c: (status[c.key][1] or now, c.priority, c.key))
    for c in ordered:
        state, due, escalation = status[c.key]
        flag = f" **{state.value.upper()}: {escalation}**" if escalation else f" ({state.value})"
        parts.append(
            f"- [ ] {c.priority} `{cell(c.key)}`: {cell(c.message or c.title)}; owner: "
            f"{cell(c.owner or 'unassigned')}; due {_when(due)}{flag}"
        )
    if not ordered:
        parts.append("- None.")
    parts.append("")

    resolved: dict[str, tuple[CaseEntry, RunEntry]] = {}
    for run in reversed(recent):  # oldest first; the newest pass wins
        for c in run.cases:
            if (
                c.outcome == Outcome.PASSED.value
                and c.previous_outcome
                and Outcome(c.previous_outcome).is_open
            ):
                resolved[c.key] = (c, run)
    still = {k: v for k, v in resolved.items() if latest.get(k) and latest[k].outcome == Outcome.PASSED.value}
    parts += [f"## Resolved since the previous review ({since_label})", ""]
    if still:
        parts += [
            table(
                ["Case", "Priority", "Category", "Owner", "Resolved in run"],
                [
                    [
                        c.key,
                        c.priority,
                        c.area,
                        c.owner or "unassigned",
                        f"{run.run_id} ({_when(run.started)})",
                    ]
                    for c, run in sorted(still.values(), key=lambda v: v[0].key)
                ],
            ),
            "",
        ]
    else:
        parts += ["_None._", ""]

    parts += ["## Waived (accepted risk)", ""]
    parts += [
        f"- `{cell(c.key)}` ({c.priority}) {cell(c.waiver)}" for c in sorted(waived, key=lambda c: c.key)
    ]
    parts += ["- None." if not waived else "", ""]
    return "\n".join(parts)


def _parse_now(text: str | None) -> dt.datetime:
    return parse_now(text) if text else dt.datetime.now(dt.UTC)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reporting.review", description="Write the issue-resolution review from run history."
    )
    parser.add_argument("--manifest", required=True, type=Path, help="the readiness manifest")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder of the reviews (default: [cadence] reviews, reviews/ beside the manifest)",
    )
    parser.add_argument("--now", default=None, help="ISO date or datetime of the review (default: now)")
    parser.add_argument("--history", default=None, help="store (default: the manifest's [history] store)")
    parser.add_argument("--phase", default=None, help="phase (default: the manifest's project.phase)")
    args = parser.parse_args(argv)
    try:
        loaded = load_manifest(args.manifest, args.phase)
        now = _parse_now(args.now)
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: --now: {exc}", file=sys.stderr)
        return 2
    location = args.history or loaded.manifest.history.store
    if not location:
        print(
            f"error: {args.manifest}: no history store: set [history] store or pass --history",
            file=sys.stderr,
        )
        return 2
    base = Path.cwd() if args.history else loaded.path.parent
    out_dir: Path = args.out or reviews_folder(loaded)
    prev = previous_review(out_dir, now.date())
    since = dt.datetime.combine(prev, dt.time(), tzinfo=dt.UTC) if prev is not None else now - REVIEW_INTERVAL
    since_label = prev.isoformat() if prev else f"none on file; since {since.date().isoformat()}"
    project, phase = loaded.manifest.project.name, loaded.phase.id
    try:
        store = open_store(location, base, must_exist=True)
        try:
            latest = store.latest_cases(project, phase, before=now + dt.timedelta(microseconds=1))
            recent = store.runs(project, phase, since=since, before=now + dt.timedelta(microseconds=1))
            nightly = store.runs(
                project,
                phase,
                scope=nightly_scope(loaded),
                before=now + dt.timedelta(microseconds=1),
                limit=1,
            )
        finally:
            store.close()
    except HistoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for note in store.skipped:
        print(f"warning: {note}", file=sys.stderr)
    cadence, owner = loaded.manifest.cadence, loaded.manifest.owners.default
    activities = [
        nightly_status(nightly[0].started if nightly else None, now, cadence, True, owner),
        review_status(prev, now, cadence, str(out_dir), owner),
    ]
    text = render_review(project, phase, store.location, latest, recent, now, since, since_label, activities)
    path = out_dir / f"{now.date().isoformat()}-issue-review.md"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        # Beside its final name, flushed, then renamed: a killed review leaves the previous one.
        replace_document(out_dir, path.name, text)
    except OSError as exc:
        print(f"error: {path}: cannot write the review: {exc.strerror}", file=sys.stderr)
        return 1
    except DocumentWriteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"review written: {path} ({sum(1 for c in latest.values() if Outcome(c.outcome).is_open)} open blocker(s))"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
