"""The script inventory: facts about each script, and its status from the cases that ran."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from checks.inspect.dockerfile import parse_dockerfile
from checks.inspect.files import RepoFileError, read_text
from checks.inspect.git_history import last_commit_dates
from checks.inspect.python_source import local_modules, parse_python, third_party
from checks.inspect.shell_source import called_tools
from checks.manifest import LoadedManifest, Script, ScriptKind
from checks.priority import Priority
from reporting.records import CaseRecord, Outcome

__all__ = ["ScriptRow", "ScriptStatus", "build_inventory"]


class ScriptStatus(StrEnum):
    READY = "READY"  # exists, sound, no blockers
    PARTIAL = "PARTIAL"  # exists, needs updates
    MISSING = "MISSING"  # required, absent
    BLOCKED = "BLOCKED"  # exists, has a critical (P0) blocker
    NOT_AUDITED = "NOT AUDITED"  # none of its cases was selected in this run


@dataclass(slots=True)
class ScriptRow:
    path: str
    purpose: str
    category: str
    kind: str
    phases: list[str]
    needed: bool
    priority: str
    status: ScriptStatus
    exists: bool
    lines: int | None
    last_modified: str
    dependencies: list[str]
    execution_mode: str
    blockers: list[str]
    recommendation: str
    create_hours: float

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


def build_inventory(loaded: LoadedManifest, records: Iterable[CaseRecord]) -> list[ScriptRow]:
    if not loaded.manifest.scripts:
        return []  # nothing to list, and no git process to start
    by_subject: dict[str, list[CaseRecord]] = {}
    for r in records:
        if r.subject_kind == "script":
            by_subject.setdefault(r.subject, []).append(r)
    scripts = loaded.manifest.scripts
    dates = last_commit_dates(loaded.root, [s.path for s in scripts])
    phase = loaded.phase.id
    return [_row(loaded, s, by_subject.get(s.path, []), dates, phase) for s in scripts]


def _row(
    loaded: LoadedManifest,
    script: Script,
    recs: list[CaseRecord],
    dates: dict[str, str] | None,
    phase: str,
) -> ScriptRow:
    path = loaded.root / script.path
    exists = path.is_file()
    deps, mode, lines = _facts(loaded.root, script) if exists else ([], "", None)
    status = _status(recs)
    open_recs = [r for r in recs if r.outcome.is_open]
    blockers = [f"{r.priority.value} {r.message or r.title}" for r in open_recs]
    return ScriptRow(
        path=script.path,
        purpose=script.purpose,
        category=script.category.value,
        kind=script.script_kind.value,
        phases=script.phase_ids(),
        needed=script.needed_by(phase),
        priority=script.priority_for("script_exists", phase).value,
        status=status,
        exists=exists,
        lines=lines,
        last_modified=_last_modified(path, script.path, dates) if exists else "",
        dependencies=deps,
        execution_mode=mode if exists else "",
        blockers=blockers,
        recommendation=_recommendation(status, script, open_recs),
        create_hours=script.create_hours,
    )


def _status(recs: list[CaseRecord]) -> ScriptStatus:
    if not recs:
        return ScriptStatus.NOT_AUDITED
    if any(r.criterion == "script_exists" and r.outcome is Outcome.FAILED for r in recs):
        return ScriptStatus.MISSING
    open_recs = [r for r in recs if r.outcome.is_open]
    if any(r.priority is Priority.P0 for r in open_recs):
        return ScriptStatus.BLOCKED
    if open_recs:
        return ScriptStatus.PARTIAL
    return ScriptStatus.READY


def _recommendation(status: ScriptStatus, script: Script, open_recs: list[CaseRecord]) -> str:
    if status is ScriptStatus.MISSING:
        hours = f" (estimated {script.create_hours:g} h)" if script.create_hours else ""
        return f"Create{hours}: {script.purpose}"
    if status is ScriptStatus.NOT_AUDITED:
        return "Run the full suite to audit"
    if not open_recs:
        return "None: ready to run"
    worst = min(open_recs, key=lambda r: r.priority.rank)
    action = str(worst.blocker.get("action") or "")
    return f"Fix before execution: {action}" if status is ScriptStatus.BLOCKED else f"Update: {action}"


def _last_modified(path: Path, rel: str, dates: dict[str, str] | None) -> str:
    if dates is not None and rel in dates:
        return dates[rel]
    # Not a git repo, or the file is not committed yet: the file's own time is the best we have.
    try:
        stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC).date().isoformat()
    except (OverflowError, ValueError, OSError):  # a time beyond year 9999, or no file
        stamp = "unknown"
    return f"{stamp} (mtime)" if dates is not None else stamp


def _facts(root: Path, script: Script) -> tuple[list[str], str, int | None]:
    """(top-level dependencies, execution mode, non-blank lines); unreadable files give blanks."""
    try:
        text = read_text(root, script.path)
    except RepoFileError:
        return [], "unreadable", None
    lines = sum(1 for line in text.splitlines() if line.strip())
    kind = script.script_kind
    if kind is ScriptKind.PYTHON:
        try:
            source = parse_python(text, script.path)
        except SyntaxError:
            return [], "python (does not parse)", lines
        flags = " ".join(source.flags)
        deps = third_party(source.imports, local_modules(root, script.path))
        return deps, f"python CLI {flags}".strip(), lines
    if kind is ScriptKind.SHELL:
        return called_tools(text), "shell", lines
    if kind is ScriptKind.DOCKERFILE:
        bases = [i.args.split()[0] for i in parse_dockerfile(text) if i.keyword == "FROM" and i.args]
        return bases, "container image", lines
    return [], "Cloud Build", lines
