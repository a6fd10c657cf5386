"""Last-modified dates of the target's files from its git history, in one `git log` pass."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["last_commit_dates"]

_GIT_LOG = ("git", "-c", "diff.renames=false")


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
        # -z: names exactly as stored (no C-quoting of non-ASCII, quotes or backslashes, which
        # would never match the manifest's paths), each ended by NUL.
        log = subprocess.run(
            [*_GIT_LOG, "-C", str(root), "log", "-z", "--format=%x01%cI", "--name-only", "--", "."],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return found
    date = ""
    after_header = False
    for token in log.stdout.split("\0"):
        if token.startswith("\x01"):
            date, after_header = token[1:11], True
            continue
        if after_header:  # the first name follows the header's line break
            token, after_header = token.removeprefix("\n"), False
        if token in wanted and wanted[token] not in found:
            found[wanted[token]] = date
            if len(found) == len(wanted):
                break
    return found
