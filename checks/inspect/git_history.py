"""Last-modified dates of the target's files from its git history, in one `git log` pass.

git runs through safe_git: nothing the audited repository configures is ever executed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from checks.inspect.safe_git import LOG_SAFE_OPTIONS, run_git

__all__ = ["last_commit_dates"]


def last_commit_dates(root: Path, paths: list[str], timeout: float = 60.0) -> dict[str, str] | None:
    """Path -> ISO date of the last commit touching it; None when root is not in a git work tree.

    One `git log --name-only` walk serves every path (newest first, so the first sighting
    wins); asking git once per file would cost a process per script.
    """
    try:
        inside = run_git(root, ["rev-parse", "--show-prefix"], timeout)
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
        args = ["-c", "diff.renames=false", "log", *LOG_SAFE_OPTIONS, "-z", "--format=%x01%cI"]
        log = run_git(root, [*args, "--name-only", "--", "."], timeout)
    except (OSError, subprocess.TimeoutExpired):
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
