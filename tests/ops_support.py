"""Helpers for the operations tests: a tiny target whose defects are switched between runs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from conftest import AuditRun, TargetRepo, run_suite

#: Two scripts, each a switchable defect: P0 scripts/a.py (missing or broken), P1 scripts/b.sh
#: (executable or not).
OPS_MANIFEST = """
[[scripts]]
path = "scripts/a.py"
purpose = "generate features"
category = "generation"
priority = "P0"
owner = "alice"

[[scripts]]
path = "scripts/b.sh"
purpose = "merge"
category = "extraction/merge"
priority = "P1"
owner = "bob"

[history]
store = "history.sqlite"
"""


class OpsTarget:
    def __init__(self, repo: TargetRepo, extra: str = "") -> None:
        self.repo = repo
        repo.write("requirements.txt", "")
        self.manifest = repo.manifest(OPS_MANIFEST + extra)
        self.fix_a()
        self.fix_b()

    @property
    def store(self) -> Path:
        return self.repo.root / "history.sqlite"

    def fix_a(self) -> None:
        self.repo.write("scripts/a.py", "print('ok')\n")

    def remove_a(self) -> None:
        (self.repo.root / "scripts/a.py").unlink()

    def break_a(self) -> None:
        self.repo.write("scripts/a.py", "def broken(:\n")

    def fix_b(self) -> None:
        self.repo.write("scripts/b.sh", "#!/bin/bash\necho merge\n", mode=0o755)

    def break_b(self) -> None:
        (self.repo.root / "scripts/b.sh").chmod(0o644)

    def set_manifest(self, extra: str) -> None:
        self.manifest = self.repo.manifest(OPS_MANIFEST + extra)


def run_at(pytester: pytest.Pytester, target: OpsTarget, when: str, *args: str) -> AuditRun:
    """One audit of the target at a controlled time, documents in their own folder."""
    out = "out-" + when.replace(":", "").replace("-", "")
    return run_suite(pytester, target.manifest, "--readiness-now", when, *args, out=out)


def stored_runs(store: Path) -> list[tuple[str, int]]:
    """(run id, number of cases) of every run in an SQLite store, oldest first."""
    with sqlite3.connect(store) as conn:
        rows = conn.execute(
            "SELECT r.run_id, COUNT(c.key) FROM runs r LEFT JOIN cases c ON c.run_id = r.run_id "
            "GROUP BY r.run_id ORDER BY r.started"
        ).fetchall()
    return [(str(a), int(b)) for a, b in rows]
