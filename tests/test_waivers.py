"""Waivers: accepted risk until a date, never a way to hide what could not be verified in P0."""

from __future__ import annotations

import pytest
from ops_support import OpsTarget, run_at

from conftest import TargetRepo

WAIVE_B = """
[[waivers]]
case = "shell_executable:scripts/b.sh"
reason = "invoked through bash until the repo mode is fixed"
owner = "carol"
expires = 2026-11-23
"""


def test_waived_failure_counts_until_its_expiry_day_and_blocks_the_day_after(
    pytester: pytest.Pytester, target: TargetRepo
) -> None:
    ops = OpsTarget(target, WAIVE_B)
    ops.break_b()
    last_day = run_at(pytester, ops, "2026-11-23T23:00:00", "--readiness-exit", "verdict")
    assert last_day.ret == 0
    assert last_day.json()["verdict"]["verdict"] == "GO"
    case = last_day.case("shell_executable", "scripts/b.sh")
    assert case["outcome"] == "waived" and case["sla_status"] == "waived"
    assert case["waiver"] == {
        "reason": "invoked through bash until the repo mode is fixed",
        "owner": "carol",
        "expires": "2026-11-23",
    }
    doc = last_day.doc("EXECUTION_BLOCKER_ANALYSIS")
    assert (
        "| shell_executable:scripts/b.sh | P1         | scripts/b.sh: not executable (mode 0644) "
        "| invoked through bash until the repo mode is fixed | carol   | 2026-11-23"
    ) in doc
    last_day.result.stdout.fnmatch_lines(["*waivers: 1 case(s) waived, 0 expired*"])

    day_after = run_at(pytester, ops, "2026-11-24T06:00:00", "--readiness-exit", "verdict")
    assert day_after.ret == 10
    assert day_after.json()["verdict"]["verdict"] == "CONDITIONAL GO"
    assert day_after.case("shell_executable", "scripts/b.sh")["outcome"] == "failed"
    # The waiver lapsed: the blocker is back, as old as it really is.
    assert day_after.case("shell_executable", "scripts/b.sh")["first_seen"] == "2026-11-23T23:00:00+00:00"
    assert day_after.json()["diff"]["new"] == ["shell_executable:scripts/b.sh"]
    assert (
        "- EXPIRED waiver `shell_executable:scripts/b.sh` until 2026-11-23 (carol): invoked through bash "
        "until the repo mode is fixed; blocks again: `shell_executable:scripts/b.sh`"
    ) in day_after.doc("AUDIT_SUMMARY")


def test_a_waiver_never_hides_a_p0_case_that_could_not_be_verified(
    pytester: pytest.Pytester, target: TargetRepo
) -> None:
    ops = OpsTarget(
        target,
        """
        [[waivers]]
        case = "*:scripts/a.py"
        reason = "rewrite in progress"
        owner = "alice"
        expires = 2026-12-31
        """,
    )
    ops.break_a()
    run = run_at(pytester, ops, "2026-11-22T06:00:00")
    assert run.case("python_parses", "scripts/a.py")["outcome"] == "waived"
    assert run.case("imports_resolve", "scripts/a.py")["outcome"] == "error"
    assert run.json()["verdict"]["verdict"] == "NO-GO"
    assert run.json()["waivers"]["refused"][0]["key"] == "imports_resolve:scripts/a.py"
    assert (
        "- REFUSED waiver `*:scripts/a.py` for `imports_resolve:scripts/a.py`: a P0 case that could not be verified"
        in run.doc("EXECUTION_BLOCKER_ANALYSIS")
    )


def test_unmatched_and_no_longer_needed_waivers_are_reported(
    pytester: pytest.Pytester, target: TargetRepo
) -> None:
    ops = OpsTarget(
        target,
        """
        [[waivers]]
        case = "cli_flags:scripts/gone.py"
        reason = "script retired"
        owner = "dave"
        expires = 2026-12-31

        [[waivers]]
        case = "shell_executable:scripts/b.sh"
        reason = "mode fix pending"
        owner = "bob"
        expires = 2026-12-31
        """,
    )
    run = run_at(pytester, ops, "2026-11-22T06:00:00")
    summary = run.doc("AUDIT_SUMMARY")
    assert (
        "- UNMATCHED waiver `cli_flags:scripts/gone.py` matched no case of this run "
        "(until 2026-12-31 (dave): script retired)"
    ) in summary
    assert "- Waiver `shell_executable:scripts/b.sh` is no longer needed: its cases pass" in summary
    assert run.json()["verdict"]["verdict"] == "GO"
