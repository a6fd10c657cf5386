"""Missed recurring activities: the scheduled (nightly) run and the issue review, judged from
history and the reviews on file at a controlled clock (`--readiness-now`, the review's `--now`)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ops_support import OpsTarget, run_at

from conftest import REPO, AuditRun, TargetRepo
from readiness.clock import parse_now
from readiness.manifest import Cadence
from reporting.activities import State, last_review, nightly_status, review_status

NOW = "2026-11-22T06:00:00"

NIGHTLY_ESCALATION = (
    "scheduled run missed for more than 3 days, as late as a repository sync may be: "
    "escalate to the project lead; restore the schedule and run the audit today"
)
REVIEW_ESCALATION = (
    "issue review more than one cycle late: escalate to the project lead; hold it now (readiness review)"
)


def _activities(run: AuditRun) -> dict[str, dict[str, Any]]:
    return {a["activity"]: a for a in run.json()["activities"]}


def _review_file(ops: OpsTarget, day: str) -> None:
    folder = ops.repo.root / "reviews"
    folder.mkdir(exist_ok=True)
    (folder / f"{day}-issue-review.md").write_text("# an earlier review\n")


def test_a_nightly_missed_for_4_days_and_a_review_3_weeks_old_escalate_in_every_report(
    pytester: pytest.Pytester, target: TargetRepo
) -> None:
    ops = OpsTarget(target)
    ops.break_b()
    run_at(pytester, ops, "2026-11-18T06:00:00")
    _review_file(ops, "2026-11-01")
    run = run_at(pytester, ops, NOW, "--html", "report.html", "--self-contained-html")

    activities = _activities(run)
    nightly, review = activities["nightly run"], activities["issue review"]
    assert nightly["state"] == "escalated"
    assert nightly["text"] == (
        "no nightly run of this scope (full suite) for 4 days (last 2026-11-18 06:00 UTC; expected every day)"
    )
    assert nightly["escalation"] == NIGHTLY_ESCALATION
    assert review["state"] == "escalated"
    assert review["text"].startswith(
        "previous issue review 2026-11-01, 21 days ago: overdue since 2026-11-15"
    )
    assert review["escalation"] == REVIEW_ESCALATION

    line = (
        "- **ESCALATED: nightly run**: no nightly run of this scope (full suite) for 4 days "
        f"(last 2026-11-18 06:00 UTC; expected every day). **Escalation: {NIGHTLY_ESCALATION}.**"
    )
    for stem in ("AUDIT_SUMMARY", "EXECUTION_BLOCKER_ANALYSIS"):
        doc = run.doc(stem)
        assert line in doc, stem
        assert "- **ESCALATED: issue review**: previous issue review 2026-11-01" in doc, stem
    page = (pytester.path / "report.html").read_text()
    assert "<li class='activity missed' data-state='escalated'><b>ESCALATED</b> nightly run: " in page
    run.result.stdout.fnmatch_lines(
        [
            "*ESCALATED nightly run: no nightly run of this scope (full suite) for 4 days*",
            "*ESCALATED issue review: previous issue review 2026-11-01*",
        ]
    )


def test_a_nightly_12_hours_ago_and_a_review_a_week_ago_are_on_schedule(
    pytester: pytest.Pytester, target: TargetRepo
) -> None:
    ops = OpsTarget(target)
    run_at(pytester, ops, "2026-11-21T18:00:00")
    _review_file(ops, "2026-11-15")
    run = run_at(pytester, ops, NOW)

    activities = _activities(run)
    assert activities["nightly run"] == {
        "activity": "nightly run",
        "state": "on schedule",
        "last": "2026-11-21T18:00:00+00:00",
        "text": "last run of this scope (full suite) 2026-11-21 18:00 UTC",
        "escalation": "",
    }
    assert activities["issue review"]["state"] == "on schedule"
    assert activities["issue review"]["escalation"] == ""
    assert "next due 2026-11-29" in activities["issue review"]["text"]
    for stem in ("AUDIT_SUMMARY", "EXECUTION_BLOCKER_ANALYSIS"):
        doc = run.doc(stem)
        assert "ESCALATED" not in doc and "MISSED" not in doc, stem
        assert "- Nightly run: on schedule: last run of this scope (full suite) 2026-11-21 18:00 UTC." in doc
    assert "ESCALATED" not in run.output


def test_the_nightly_is_the_declared_scope_whatever_this_run_selects(
    pytester: pytest.Pytester, target: TargetRepo
) -> None:
    ops = OpsTarget(target)
    run_at(pytester, ops, "2026-11-18T06:00:00")  # the full suite
    run_at(pytester, ops, "2026-11-21T18:00:00", "-m", "p0")  # a manual P0 gate is not the nightly
    gate = run_at(pytester, ops, NOW, "-m", "p0")
    assert _activities(gate)["nightly run"]["state"] == "escalated"

    # Declared: the scheduled run is the P0 gate, tolerated 5 days late, reviews every 30 days.
    ops.set_manifest('\n[cadence]\nnightly_markexpr = "p0"\nsync_days = 5\nreview_days = 30\n')
    _review_file(ops, "2026-11-01")
    later = run_at(pytester, ops, "2026-11-22T07:00:00")
    activities = _activities(later)
    assert activities["nightly run"]["state"] == "on schedule"
    assert activities["nightly run"]["text"].startswith("last run of this scope (-m 'p0') 2026-11-22 06:00")
    assert activities["issue review"]["state"] == "on schedule"


@pytest.mark.parametrize(
    ("last", "state", "escalated"),
    [
        ("2026-11-18T06:00:00", State.ESCALATED, True),
        ("2026-11-20T06:00:00", State.MISSED, False),
        ("2026-11-21T06:00:00", State.ON_SCHEDULE, False),  # 24 h: the run of yesterday
        ("2026-11-21T18:00:00", State.ON_SCHEDULE, False),
    ],
)
def test_nightly_status_by_the_time_since_the_last_run(last: str, state: State, escalated: bool) -> None:
    status = nightly_status(parse_now(last), parse_now(NOW), Cadence(), history=True)
    assert status.state is state
    assert bool(status.escalation) is escalated
    if state is State.MISSED:
        assert status.text.endswith("; escalates after 3 days")


def test_nightly_status_without_history_or_runs_is_unknown_never_escalated() -> None:
    none = nightly_status(None, parse_now(NOW), Cadence(), history=True)
    assert (none.state, none.escalation) == (State.UNKNOWN, "")
    assert none.text == "no earlier run of this scope (full suite) on record"
    blind = nightly_status(None, parse_now(NOW), Cadence(), history=False)
    assert (blind.state, blind.escalation) == (State.UNKNOWN, "")


@pytest.mark.parametrize(
    ("previous", "state"),
    [("2026-11-01", State.ESCALATED), ("2026-11-08", State.ON_SCHEDULE), ("2026-11-15", State.ON_SCHEDULE)],
)
def test_review_is_overdue_after_one_cycle(previous: str, state: State) -> None:
    status = review_status(dt.date.fromisoformat(previous), parse_now(NOW), Cadence(), "reviews", "lead")
    assert status.state is state
    assert bool(status.escalation) is (state is State.ESCALATED)
    if status.escalation:
        assert "escalate to lead" in status.escalation


def test_last_review_ignores_other_files_and_impossible_dates(tmp_path: Path) -> None:
    for name in (
        "2026-11-01-issue-review.md",
        "2026-13-45-issue-review.md",
        "notes.md",
        "2026-12-01-issue-review.md",
    ):
        (tmp_path / name).write_text("x")
    assert last_review(tmp_path, dt.date(2026, 11, 22)) == dt.date(2026, 11, 1)
    assert last_review(tmp_path, dt.date(2026, 12, 1)) == dt.date(2026, 12, 1)
    assert last_review(tmp_path, dt.date(2026, 12, 1), inclusive=False) == dt.date(2026, 11, 1)
    assert last_review(tmp_path / "absent", dt.date(2026, 12, 1)) is None


def _review(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "readiness.cli", "review", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("last_run", "previous_review", "escalated"),
    [("2026-11-18T06:00:00", "2026-11-01", True), ("2026-11-21T18:00:00", "2026-11-15", False)],
)
def test_readiness_review_reports_a_missed_nightly_and_an_overdue_review(
    pytester: pytest.Pytester, target: TargetRepo, last_run: str, previous_review: str, escalated: bool
) -> None:
    ops = OpsTarget(target)
    ops.break_b()
    run_at(pytester, ops, last_run)
    _review_file(ops, previous_review)
    done = _review("--manifest", str(ops.manifest), "--now", NOW)
    assert done.returncode == 0, done.stderr
    text = (ops.repo.root / "reviews" / "2026-11-22-issue-review.md").read_text()
    section = text.split("## Recurring activities\n\n", 1)[1].split("\n\n", 1)[0]
    if escalated:
        assert section.splitlines() == [
            "- **ESCALATED: nightly run**: no nightly run of this scope (full suite) for 4 days "
            f"(last 2026-11-18 06:00 UTC; expected every day). **Escalation: {NIGHTLY_ESCALATION}.**",
            "- **ESCALATED: issue review**: previous issue review 2026-11-01, 21 days ago: overdue since "
            f"2026-11-15 (one cycle: every 14 days). **Escalation: {REVIEW_ESCALATION}.**",
        ]
    else:
        assert section.splitlines() == [
            "- Nightly run: on schedule: last run of this scope (full suite) 2026-11-21 18:00 UTC.",
            "- Issue review: on schedule: previous issue review 2026-11-15; next due 2026-11-29 (every 14 days).",
        ]
