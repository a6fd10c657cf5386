"""Shell script facts: syntax (bash -n), mode, flags it handles, tools it calls."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

__all__ = ["bash_syntax_error", "called_tools", "handles_flag"]

#: Commands a pipeline script calls that the inventory lists as its dependencies.
_KNOWN_TOOLS = ("gcloud", "bq", "gsutil", "docker", "python3", "python", "jq", "curl", "git")


def bash_syntax_error(path: Path, timeout: float = 10.0) -> str | None:
    """The first error `bash -n` reports, or None when the script parses."""
    proc = subprocess.run(
        ["bash", "-n", str(path)], capture_output=True, text=True, errors="replace", timeout=timeout
    )
    if proc.returncode == 0:
        return None
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    return lines[0] if lines else f"bash -n exited {proc.returncode}"


def handles_flag(text: str, flag: str) -> bool:
    """True when the script names the flag as a case pattern, a comparison or a getopt long option.

    A shell script has no parser object to inspect, so the flag must appear as a token that
    code can match on, not inside a comment.
    """
    code = "\n".join(
        line.split("#", 1)[0] if not line.lstrip().startswith("#!") else "" for line in text.splitlines()
    )
    token = re.escape(flag)
    if re.search(rf"(?<![\w-]){token}(?![\w-])", code):
        return True
    long_name = flag.lstrip("-")
    # getopt --longoptions "workers:,dry-run"
    return bool(re.search(rf"(?:-l|--long(?:options)?)[ =]['\"]?[\w:,-]*\b{re.escape(long_name)}\b", code))


def called_tools(text: str) -> list[str]:
    found = []
    for tool in _KNOWN_TOOLS:
        if re.search(rf"(?m)(?:^|[;&|(`$]\s*|\s)({re.escape(tool)})(?=\s)", text):
            found.append(tool)
    return found
