"""Shell script facts: syntax (bash -n), mode, flags it handles, tools it calls."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

__all__ = ["bash_syntax_error", "called_tools", "crlf_line", "handles_flag", "start_problem"]

#: Commands a pipeline script calls that the inventory lists as its dependencies.
_KNOWN_TOOLS = ("gcloud", "bq", "gsutil", "docker", "python3", "python", "jq", "curl", "git")


def bash_syntax_error(path: Path, timeout: float = 10.0) -> str | None:
    """The first error `bash -n` reports, or None when the script parses.

    `bash -n` reads the script without executing any command (noexec): safe on a repository
    we must never run.
    """
    proc = subprocess.run(
        ["bash", "-n", str(path)], capture_output=True, text=True, errors="replace", timeout=timeout
    )
    if proc.returncode == 0:
        return None
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    return lines[0] if lines else f"bash -n exited {proc.returncode}"


def crlf_line(text: str) -> int | None:
    """The first line ending in CR LF: bash reads the CR as part of the command (`$'\\r'`)."""
    at = text.find("\r\n")
    return text.count("\n", 0, at) + 1 if at >= 0 else None


def start_problem(path: str, text: str, *, from_a_shell: bool = False) -> str | None:
    """Why `./script.sh` cannot start, or None: the kernel reads the shebang line, nothing else.

    `from_a_shell`: typed in a shell (a runbook's `./x.sh`), a file without a shebang still runs:
    the kernel refuses it (ENOEXEC) and the shell runs it itself, as POSIX requires. Only a
    program's exec (a container's CMD, subprocess) needs the line."""
    first = text.split("\n", 1)[0]
    if not first.startswith("#!"):
        if from_a_shell:
            return None
        return (
            f"{path}: no shebang line (e.g. #!/usr/bin/env bash): ./{os.path.basename(path)} runs in "
            "whatever shell calls it, and fails with 'Exec format error' when started by a program "
            "(subprocess, a container's CMD, a Cloud Build step)"
        )
    if first.endswith("\r"):
        return (
            f"{path}: the shebang line ends in a carriage return (CRLF line endings): the kernel "
            f"looks for {first[2:].strip()!r}+'\\r' and fails with 'bad interpreter'"
        )
    try:
        words = shlex.split(first[2:])
    except ValueError:
        words = first[2:].split()
    if not words:
        return f"{path}: empty shebang line"
    interpreter = words[0]
    if os.path.basename(interpreter) == "env":
        rest = [w for w in words[1:] if not w.startswith("-")]
        if not rest:
            return f"{path}: shebang {first!r} names no program for env to run"
        program = rest[0]
        if shutil.which(program) is None:
            return f"{path}: shebang interpreter {program!r} is not installed (not on PATH)"
        return None
    if not os.access(interpreter, os.X_OK):
        return f"{path}: shebang interpreter {interpreter!r} is not installed (no such executable)"
    return None


def _getopt_strings(code: str) -> tuple[str | None, list[str] | None]:
    """(short option letters, long option names) the script's getopts/getopt accepts.

    None for either means the script declares no such string, so tokens decide.
    """
    shorts: str | None = None
    longs: list[str] | None = None
    for match in re.finditer(r"\bgetopts\s+(['\"]?)([^\s'\"]+)\1", code):
        shorts = (shorts or "") + match.group(2)
    for match in re.finditer(r"\bgetopt\b([^\n]*)", code):
        args = match.group(1)
        short = re.search(r"(?:-o|--options)[ =](['\"]?)([^\s'\"]*)\1", args)
        if short:
            shorts = (shorts or "") + short.group(2)
        for found in re.finditer(r"(?:-l|--long(?:options)?)[ =](['\"]?)([^\s'\"]*)\1", args):
            longs = (longs or []) + [n.rstrip(":") for n in found.group(2).split(",") if n]
    return shorts, longs


def handles_flag(text: str, flag: str) -> bool:
    """True when the script accepts the flag.

    A script with a getopts/getopt option string accepts exactly what the string declares
    (a `-x` mentioned elsewhere is not parsed by it). Otherwise a shell script has no parser
    object to inspect, so the flag must appear as a token code can match on (a case pattern,
    a comparison), not inside a comment.
    """
    code = "\n".join(
        line.split("#", 1)[0] if not line.lstrip().startswith("#!") else "" for line in text.splitlines()
    )
    shorts, longs = _getopt_strings(code)
    if flag.startswith("--") and longs is not None:
        return flag[2:] in longs
    if not flag.startswith("--") and len(flag) == 2 and shorts is not None:
        return flag[1] != ":" and flag[1] in shorts
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
