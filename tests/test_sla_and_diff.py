"""Blocker aging against the SLAs, escalations, and what changed since the last run."""

from __future__ import annotations

import pytest
from ops_support import OpsTarget, run_at

from conftest import TargetRepo


@pytest.fixture
def ops(target: TargetRepo) -> OpsTarget:
    return OpsTarget(target)


def test_p0_blocker_is_due_soon_at_20_hours_and_overdue_after_24_with_an_emergency_meeting(
    pytester: pytest.Pytester, ops: OpsTarget
) -> None:
    ops.remove_a()
    first = run_at(pytester, ops, "2026-11-22T06:00:00")
    assert first.case("script_exists", "scripts/a.py")["sla_status"] == "within"
    soon = run_at(pytester, ops, "2026-11-23T02:00:00")
    assert soon.case("script_exists", "scripts/a.py")["sla_status"] == "due soon"
    assert soon.json()["sla_dashboard"][0]["status"] == "at risk"
    late = run_at(pytester, ops, "2026-11-23T07:00:00")
    case = late.case("script_exists", "scripts/a.py")
    assert case["sla_status"] == "overdue"
    assert case["age"] == "25 h"
    assert case["due"] == "2026-11-23T06:00:00+00:00"
    assert case["escalation"] == "P0 open > 24 h: emergency meeting"
    assert case["consecutive_failures"] == 3
    late.result.stdout.fnmatch_lines(
        ["*OVERDUE P0 script_exists:scripts/a.py: P0 open > 24 h: emergency meeting*"]
    )
    doc = late.doc("EXECUTION_BLOCKER_ANALYSIS")
    dashboard = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in doc.splitlines()
        if line.startswith("| P0") and "resolved within 24 h" in line
    ]
    assert dashboard == [
        [
            "P0",
            "resolved within 24 h",
            "1",
            "0",
            "0",
            "1",
            "0",
            "25 h",
            "MISSED: P0 open > 24 h: emergency meeting",
        ]
    ]
    assert "| Escalation            | P0 open > 24 h: emergency meeting" in doc


def test_p1_blocker_escalates_to_the_architect_after_a_week(
    pytester: pytest.Pytester, ops: OpsTarget
) -> None:
    ops.break_b()
    run_at(pytester, ops, "2026-11-22T06:00:00")
    six_days = run_at(pytester, ops, "2026-11-28T06:00:00")
    assert six_days.case("shell_executable", "scripts/b.sh")["sla_status"] == "due soon"
    late = run_at(pytester, ops, "2026-11-29T07:00:00")
    assert (
        late.case("shell_executable", "scripts/b.sh")["escalation"]
        == "P1 open > 1 week: architect intervention"
    )
    assert late.case("shell_executable", "scripts/b.sh")["age"] == "7.0 d"


def test_diff_names_new_resolved_and_regressed_blockers(pytester: pytest.Pytester, ops: OpsTarget) -> None:
    ops.break_b()
    run_at(pytester, ops, "2026-11-22T06:00:00")
    ops.fix_b()
    ops.break_a()
    ops.set_manifest(
        """
        [[scripts]]
        path = "scripts/c.py"
        purpose = "validate"
        category = "validation"
        priority = "P2"
        """
    )
    run = run_at(pytester, ops, "2026-11-23T06:00:00")
    diff = run.json()["diff"]
    assert diff["resolved"] == ["shell_executable:scripts/b.sh"]
    assert diff["regressions"] == ["imports_resolve:scripts/a.py", "python_parses:scripts/a.py"]
    assert diff["new"] == ["script_exists:scripts/c.py"]
    assert diff["still_open"] == []
    summary = run.doc("AUDIT_SUMMARY")
    assert "- Resolved: 1: `shell_executable:scripts/b.sh`" in summary
    assert "- New blockers: 1: `script_exists:scripts/c.py`" in summary
    run.result.stdout.fnmatch_lines(
        ["*since last run: 1 new, 2 regression(s), 0 still open, 1 resolved, 0 flapping"]
    )


def test_runs_are_compared_only_with_the_same_scope(pytester: pytest.Pytester, ops: OpsTarget) -> None:
    ops.break_b()
    run_at(pytester, ops, "2026-11-22T06:00:00")
    p0_only = run_at(pytester, ops, "2026-11-23T06:00:00", "-m", "p0")
    assert p0_only.json()["diff"]["previous_run"] is None
    p0_only.result.stdout.fnmatch_lines(["*(first run of this scope)"])


def test_a_case_that_keeps_changing_state_is_flagged_flapping(
    pytester: pytest.Pytester, ops: OpsTarget
) -> None:
    runs = []
    for day, broken in ((22, True), (23, False), (24, True), (25, False)):
        ops.break_b() if broken else ops.fix_b()
        runs.append(run_at(pytester, ops, f"2026-11-{day}T06:00:00"))
    assert runs[2].json()["diff"]["flapping"] == []  # two changes: a fix and a regression
    assert runs[3].json()["diff"]["flapping"] == ["shell_executable:scripts/b.sh"]
    assert runs[3].case("shell_executable", "scripts/b.sh")["flapping"] is True
