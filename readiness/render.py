"""The manifest `readiness init` writes: valid TOML, with a comment on every guess to review."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Final

from checks.run_env import base_python
from readiness.discovery import DEFAULT_EXCLUDE
from readiness.environment import EnvironmentFound
from readiness.manifest import ScriptKind
from readiness.scan import Entry, PackageFound, RepoScan

__all__ = ["environment_block", "manifest_text", "package_block", "script_block", "tool_block"]

#: The phase a first manifest audits; the user renames it to the real one.
PHASE_ID: Final = "1"


def _s(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's; control characters never reach here)."""
    return json.dumps(value, ensure_ascii=False)


def _list(values: list[str]) -> str:
    return "[" + ", ".join(_s(v) for v in values) + "]"


def _where(places: list[str], limit: int = 3) -> str:
    more = f" and {len(places) - limit} more" if len(places) > limit else ""
    return ", ".join(places[:limit]) + more


def script_block(entry: Entry) -> list[str]:
    out: list[str] = []
    if entry.needed:
        # Cloud Build steps have no line number: one config running it twice is named once.
        out.append(f"# Run by {_where(list(dict.fromkeys(entry.invoked_by)))}: needed, so P1.")
    else:
        out.append("# Nothing in the repository runs it: P3 until you say the phase needs it.")
    if not entry.exists:
        out.append("# NOT in the repository: script_exists fails until it is written (set create_hours).")
    if entry.console_scripts:
        out.append(f"# Console script: {', '.join(entry.console_scripts)} (pyproject.toml).")
    why = (
        f"the word {entry.category_word!r} in its path"
        if entry.category_word
        else "nothing in its name: a default"
    )
    out.append(f"# category from {why}; review.")
    if not entry.purpose and entry.exists:
        out.append("# No docstring or leading comment: write the purpose.")
    if entry.defined_flags:
        out.append(f"# Its parser defines: {' '.join(entry.defined_flags)}")
    if entry.note:
        out.append(f"# {entry.note}")
    if entry.started_note:
        out.append(f"# {entry.started_note}")
    if entry.needs:
        label = "calls" if entry.kind == "shell" else "runs" if entry.kind == "dockerfile" else "imports"
        out.append(f"# {label}: {', '.join(entry.needs)}")
    out += [
        "[[scripts]]",
        f"path = {_s(entry.path)}",
        f"purpose = {_s(entry.purpose or _default_purpose(entry))}",
        f"category = {_s(entry.category)}",
    ]
    inferred = ScriptKind.infer(entry.path)
    if inferred is None or inferred.value != entry.kind:
        out.append(f"kind = {_s(entry.kind)}")
    out.append(f'priority = "{"P1" if entry.needed else "P3"}"')
    if entry.invoked_flags:
        out.append(
            "# The flags the repository passes when it runs it (cli_flags checks the parser has them)."
        )
        out.append(f"flags = {_list(entry.invoked_flags)}")
    if entry.context is not None:
        out.append(f"# context: {entry.context_why}.")
        out.append(f"context = {_s(entry.context)}")
    started = entry.started_with
    if started is not None:
        if started == "path":
            how = "by its path (./x.sh): shell_executable checks its bit and shebang"
        else:
            how = "sourced" if started == "source" else f"with {started}"
            how += ": neither the executable bit nor a shebang is needed"
        out.append(f"# Started {how} (seen at {_where(list(dict.fromkeys(entry.invoked_by)))}).")
        out.append(f"started_with = {_s(started)}")
    if entry.environment is not None:
        out.append("# The requirements file nearest above it: its imports are checked there.")
        out.append(f"environment = {_s(entry.environment)}")
    return out


def environment_block(env: EnvironmentFound) -> list[str]:
    where = f"the scripts under {env.folder}/" if env.folder else "the scripts it is nearest to"
    out = [
        f"# Built from {env.requirements} into a cached virtualenv (uv) to check {where};",
        '# set python = "/path/to/python" instead to use an existing interpreter.',
        "[[environments]]",
        f"name = {_s(env.name)}",
        f"requirements = {_list([env.requirements])}",
    ]
    if env.python_version:
        out.insert(
            -3, f"# python_version from {env.dockerfile}; that Python must be installed here to build it."
        )
        if not base_python(env.python_version):
            out.insert(
                -3,
                f"# Python {env.python_version} is not installed here: the imports stay unverified until it"
                " is (pyenv install), or delete python_version to use this machine's Python.",
            )
        out.append(f"python_version = {_s(env.python_version)}")
    return out


def _default_purpose(entry: Entry) -> str:
    if entry.kind == "dockerfile":
        return "Container image (describe what runs in it)"
    if entry.kind == "cloudbuild":
        return "Cloud Build config (describe what it builds)"
    return "TODO: describe"


def package_block(package: PackageFound) -> list[str]:
    need = "imported by a script the repository runs: P1" if package.needed else "P3"
    return [
        f"# {package.where}: {package.written} ({need}). spec is the range the scripts need;",
        "# empty accepts any installed version: set it.",
        "[[packages]]",
        f"name = {_s(package.name)}",
        'spec = ""',
        f'priority = "{"P1" if package.needed else "P3"}"',
    ]


#: Tools that do not answer `--version` (bq fails on it: "Unknown command line flag").
_VERSION_ARGS: Final = {"bq": ["version"], "kubectl": ["version", "--client"]}


def tool_block(name: str, users: list[str], needed: bool) -> list[str]:
    out = [
        f"# Called by {_where(users)}; set min_version if an old one breaks them.",
        "[[tools]]",
        f"name = {_s(name)}",
        f'priority = "{"P1" if needed else "P3"}"',
    ]
    if name in _VERSION_ARGS:
        out.append(f"version_args = {_list(_VERSION_ARGS[name])}")
    return out


def manifest_text(repo: RepoScan, manifest_path: Path, today: dt.date) -> str:
    root = os.path.relpath(repo.root, manifest_path.resolve().parent)
    if root.startswith("../../.."):  # far apart: the absolute path reads better and moves as well
        root = str(repo.root)
    needed = {e.path for e in repo.entries if e.needed}
    out = [
        f"# Readiness manifest written by `readiness init` on {today.isoformat()} from {repo.root.name}/.",
        "# Every value is a guess from the repository's files (nothing was run): read the comments,",
        "# fix what is wrong, delete what the pipeline does not need. Running init again never",
        "# changes this file; it prints what is new in the repository as suggestions.",
        "# Audit:  pytest --manifest THIS_FILE   (see the readiness README)",
        "",
        "[project]",
        f"name = {_s(repo.root.name)}",
        "# The repository, relative to this file.",
        f"root = {_s(Path(root).as_posix())}",
        f"phase = {_s(PHASE_ID)}",
    ]
    if repo.requirements:
        out.append(f"requirements = {_list(repo.requirements)}")
    out += [
        "",
        "# One phase starting today: rename it, set its real start date, add the others.",
        "[[phases]]",
        f"id = {_s(PHASE_ID)}",
        'name = "First audit"',
        f"start = {today.isoformat()}",
        "",
        "# Which files every audit looks at beyond the scripts listed here (UNDECLARED in the",
        "# inventory). Names without '/' match any folder or file of that name.",
        "[discovery]",
        f"exclude = {_list(list(DEFAULT_EXCLUDE))}",
    ]
    for env in repo.environments:
        out += ["", *environment_block(env)]
    if repo.unresolved:
        out += ["", "# Named by the repository but not in it:"]
        out += [f"#   {line}" for line in repo.unresolved]
    if repo.problems:
        out += ["", "# Not read while scanning:"]
        out += [f"#   {line}" for line in repo.problems]
    for entry in repo.entries:
        out += ["", *script_block(entry)]
    for package in repo.packages:
        out += ["", *package_block(package)]
    for name, users in sorted(repo.tools.items()):
        out += ["", *tool_block(name, users, any(u in needed for u in users))]
    return "\n".join(out) + "\n"
