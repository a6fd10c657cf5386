"""The standup page's blocker list without a browser: one line per root cause, what it folded
counted, every value text."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from readiness.priorities import Priority
from readiness.records import CaseRecord, Outcome
from reporting.aging import Aging, SlaStatus
from reporting.root_causes import RootCause
from reporting.standup import blocker_line, root_blockers

NOW = dt.datetime(2026, 11, 23, 7, tzinfo=dt.UTC)


def _record(
    subject: str, priority: Priority, outcome: Outcome = Outcome.ERROR, owner: str = ""
) -> CaseRecord:
    return CaseRecord(
        nodeid=f"checks/x.py::check[{subject}]",
        criterion="credentials_token",
        title="a token can be obtained",
        area="gcp",
        subject=subject,
        subject_kind="identity",
        category="",
        priority=priority,
        phase="4C",
        needed=True,
        phases=[],
        owner=owner,
        blocker={},
        outcome=outcome,
        message=f"{subject}: unverified: no credentials",
    )


def _audit(roots: list[RootCause]) -> Any:
    first_seen = NOW - dt.timedelta(hours=25)
    aging = {
        r.key: Aging(
            first_seen,
            2,
            "error",
            SlaStatus.OVERDUE,
            first_seen + dt.timedelta(hours=24),
            "P0 open > 24 h: emergency meeting",
        )
        for root in roots
        for r in root.cases
    }
    return SimpleNamespace(roots=roots, ops=SimpleNamespace(aging=aging, now=NOW))


def test_blockers_are_listed_most_urgent_first_by_what_they_block() -> None:
    p1, p0 = _record("b", Priority.P1), _record("a", Priority.P0)
    p3_blocking_p0 = RootCause(_record("c", Priority.P3), [_record("d", Priority.P0)])
    roots = root_blockers(_audit([RootCause(p1, []), RootCause(p0, []), p3_blocking_p0]))
    assert [r.record.subject for r in roots] == ["a", "c", "b"]
    assert "<span class='prio prio-P0'>P0</span>" in blocker_line(_audit([p3_blocking_p0]), p3_blocking_p0)


def test_a_root_cause_lists_once_and_counts_the_checks_it_kept_from_running() -> None:
    token = _record("pipeline@sa", Priority.P0, owner="platform")
    folded = [_record(f"dataset_{i}", Priority.P0) for i in range(3)]
    audit = _audit([RootCause(token, folded)])
    roots = root_blockers(audit)
    assert len(roots) == 1 and roots[0].record is token
    line = blocker_line(audit, roots[0])
    for part in (
        "owner platform",
        "age 25 h of 24 h SLA",
        "due 2026-11-23 06:00 UTC",
        "OVERDUE: P0 open &gt; 24 h",
        "+3 checks could not run",
    ):
        assert part in line, (part, line)


def test_subject_and_finding_with_markup_stay_text() -> None:
    hostile = _record("<img src=x onerror=alert(1)>", Priority.P0)
    audit = _audit([RootCause(hostile, [])])
    line = blocker_line(audit, root_blockers(audit)[0])
    assert "<img" not in line and "&lt;img src=x onerror=alert(1)&gt;" in line
