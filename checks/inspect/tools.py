"""System tools: where they are on PATH and which version they report."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Final

from packaging.version import InvalidVersion, Version

__all__ = [
    "KNOWN_VERSION_ARGS",
    "ToolError",
    "ToolMissing",
    "VersionUnreadable",
    "tool_version",
    "version_args_for",
]

#: Each known tool's own version command. `--version` is not universal: a current `bq` stops
#: with "Unknown command line flag 'version'", and kubectl's bare `version` also asks the cluster.
KNOWN_VERSION_ARGS: Final[dict[str, tuple[str, ...]]] = {
    "bq": ("version",),
    "gsutil": ("version",),
    "gcloud": ("version",),
    "terraform": ("version",),
    "kubectl": ("version", "--client"),
    "helm": ("version", "--short"),
    "skaffold": ("version",),
    "docker": ("--version",),
    "go": ("version",),
    "java": ("-version",),
    "cbt": ("version",),
    "dbt": ("--version",),
    "pack": ("version",),
}

#: A version number, optionally `v`-prefixed (`Terraform v1.11.4`, `Client Version: v1.29.2`) or
#: `go`-prefixed (`go version go1.22.1`), standing alone (not part of a longer word or number).
_VERSION = re.compile(r"(?<![\w.])(?:v|go)?(\d+(?:\.\d+){1,3})(?![\w.])")


class ToolError(Exception):
    pass


class ToolMissing(ToolError):
    """The tool is not there (or cannot be started): a finding."""


class VersionUnreadable(ToolError):
    """The tool is there, but its version could not be read: unverified, never "upgrade"."""


def version_args_for(name: str, configured: list[str] | None) -> list[str]:
    """The manifest's `version_args` when it sets them, else the tool's own version command."""
    if configured is not None:
        return list(configured)
    return list(KNOWN_VERSION_ARGS.get(name.rsplit("/", 1)[-1], ("--version",)))


def tool_version(
    name: str, version_args: list[str] | None = None, timeout: float = 20.0
) -> tuple[str, Version]:
    """(path, version) of a tool on PATH; ToolMissing or VersionUnreadable say what went wrong."""
    args = version_args_for(name, version_args)
    command = " ".join([name, *args])
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(f"{name}: not found on PATH")
    try:
        proc = subprocess.run(
            [path, *args], capture_output=True, text=True, errors="replace", timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise VersionUnreadable(f"{name}: `{command}` did not answer in {timeout:.0f} s") from None
    except OSError as exc:
        raise ToolMissing(f"{name}: cannot run {path}: {exc.strerror}") from None
    output = proc.stdout + "\n" + proc.stderr
    for match in _VERSION.finditer(output):
        try:
            return path, Version(match.group(1))
        except InvalidVersion:
            continue
    first = (output.strip().splitlines() or ["no output"])[0][:120]
    status = f" (exit {proc.returncode})" if proc.returncode else ""
    raise VersionUnreadable(f"{name}: no version number in the output of `{command}`{status}: {first!r}")
