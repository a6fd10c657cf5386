"""System tools: where they are on PATH and which version they report."""

from __future__ import annotations

import re
import shutil
import subprocess

from packaging.version import InvalidVersion, Version

__all__ = ["ToolError", "tool_version"]

_VERSION = re.compile(r"(?<![\w.])(\d+(?:\.\d+){1,3})(?![\w.])")


class ToolError(Exception):
    pass


def tool_version(name: str, version_args: list[str], timeout: float = 20.0) -> tuple[str, Version]:
    """(path, version) of a tool on PATH; ToolError names what went wrong."""
    path = shutil.which(name)
    if path is None:
        raise ToolError(f"{name}: not found on PATH")
    try:
        proc = subprocess.run(
            [path, *version_args], capture_output=True, text=True, errors="replace", timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise ToolError(
            f"{name}: `{name} {' '.join(version_args)}` did not answer in {timeout:.0f} s"
        ) from None
    except OSError as exc:
        raise ToolError(f"{name}: cannot run {path}: {exc.strerror}") from None
    output = proc.stdout + "\n" + proc.stderr
    for match in _VERSION.finditer(output):
        try:
            return path, Version(match.group(1))
        except InvalidVersion:
            continue
    first = (output.strip().splitlines() or ["no output"])[0][:120]
    raise ToolError(
        f"{name}: no version number in the output of `{name} {' '.join(version_args)}`: {first!r}"
    )
