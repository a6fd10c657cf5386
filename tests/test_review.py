"""The issue-resolution review, written from history alone by `python -m reporting.review`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ops_support import OpsTarget, run_at

from conftest import REPO, TargetRepo


def review(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reporting.review", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_review_lists_open_blockers_actions_and_what_was_resolved(
    pytester: pytest.Pytester, target: TargetRepo
) -> None:
    ops = OpsTarget(target)
    ops.remove_a()
    ops.break_b()
    run_at(pytester, ops, "2026-11-20T06:00:00")
    ops.fix_a()
    run_at(pytester, ops, "2026-11-21T06:00:00")
    out = pytester.path / "reviews"
    (out).mkdir()
    (out / "2026-11-10-issue-review.md").write_text("# an earlier review\n")

    done = review("--manifest", str(ops.manifest), "--out", str(out), "--now", "2026-11-24T09:00:00")
    assert done.returncode == 0, done.stderr
    text = (out / "2026-11-24-issue-review.md").read_text()
    assert "- Previous review: 2026-11-10" in text
    assert "- Latest run: " in text and "**CONDITIONAL GO**" in text
    assert "### P1 (prevents part of execution or makes it high-risk)\n\n#### scripts\n" in text
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("| ")
    ]
    assert [
        "shell_executable:scripts/b.sh",
        "scripts/b.sh: not executable (mode 0644)",
        "bob",
        "2026-11-20 06:00 UTC",
        "4.1 d",
        "2",
        "within",
        "2026-11-27 06:00 UTC",
    ] in rows
    assert (
        "- [ ] P1 `shell_executable:scripts/b.sh`: scripts/b.sh: not executable (mode 0644); owner: bob; "
        "due 2026-11-27 06:00 UTC (within)"
    ) in text
    resolved = text.split("## Resolved since the previous review (2026-11-10)")[1]
    assert "| script_exists:scripts/a.py | P0         | scripts    | alice" in resolved
    assert "### P0" not in text  # nothing open at P0 any more
    assert str(out / "2026-11-24-issue-review.md") in done.stdout


def test_review_flags_overdue_actions_with_their_escalation(
    pytester: pytest.Pytester, target: TargetRepo
) -> None:
    ops = OpsTarget(target)
    ops.remove_a()
    run_at(pytester, ops, "2026-11-20T06:00:00")
    done = review("--manifest", str(ops.manifest), "--now", "2026-11-22")
    assert done.returncode == 0, done.stderr
    text = (ops.repo.root / "reviews" / "2026-11-22-issue-review.md").read_text()
    assert "due 2026-11-21 06:00 UTC **OVERDUE: P0 open > 24 h: emergency meeting**" in text
    assert "- Previous review: none on file; since 2026-11-08" in text


def test_review_without_a_store_is_a_usage_error(target: TargetRepo, tmp_path: Path) -> None:
    ops = OpsTarget(target)
    ops.manifest.write_text(ops.manifest.read_text().replace('store = "history.sqlite"', 'store = ""'))
    done = review("--manifest", str(ops.manifest), "--out", str(tmp_path / "r"))
    assert done.returncode == 2
    assert "no history store: set [history] store or pass --history" in done.stderr
    assert not (tmp_path / "r").exists()
