"""Last-modified dates of the target's files from its git history, in one `git log` pass."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["last_commit_dates"]


def last_commit_dates(root: Path, paths: list[str], timeout: float = 60.0) -> dict[str, str] | None:
    """Path -> ISO date of the last commit touching it; None when root is not in a git work tree.

    One `git log --name-only` walk serves every path (newest first, so the first sighting
    wins); asking git once per file would cost a process per script.
    """
    try:
        inside = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--show-prefix"],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if inside.returncode != 0:
        return None
    prefix = inside.stdout.strip()
    wanted = {prefix + p: p for p in paths}
    found: dict[str, str] = {}
    try:
        log = subprocess.run(
            ["git", "-C", str(root), "log", "--format=%x00%cI", "--name-only", "--no-renames", "--", "."],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return found
    date = ""
    for line in log.stdout.splitlines():
        if line.startswith("\0"):
            date = line[1:11]
        elif line in wanted and wanted[line] not in found:
            found[wanted[line]] = date
            if len(found) == len(wanted):
                break
    return found
