"""The script inventory: facts about each script, and its status from the cases that ran."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from checks.discovery import UndeclaredScript, undeclared_scripts
from checks.inspect.dockerfile import parse_dockerfile
from checks.inspect.files import RepoFileError, read_text
from checks.inspect.git_history import last_commit_dates
from checks.inspect.python_source import local_modules, parse_python, third_party
from checks.inspect.shell_source import called_tools
from checks.manifest import LoadedManifest, Script, ScriptKind
from checks.priority import Priority
from reporting.records import CaseRecord
from reporting.script_tables import table_columns
from reporting.statuses import CRITERION_STATUS, Status, item_status, status_text

__all__ = ["ScriptRow", "ScriptStatus", "build_inventory", "undeclared_line"]


#: Scripts share the one vocabulary of every document (reporting.statuses).
ScriptStatus = Status


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
    #: The most urgent priority among its open cases, shown beside the status ("" when none).
    status_priority: str
    exists: bool
    lines: int | None
    last_modified: str
    dependencies: list[str]
    execution_mode: str
    blockers: list[str]
    recommendation: str
    create_hours: float
    #: Its declared tables judged (reporting.script_tables): naming, schema, cost ("" = none).
    naming_mandate: str = ""
    schema_mandate: str = ""
    cost_estimate: str = ""

    @property
    def status_text(self) -> str:
        """ "BLOCKED (P1)", as every document writes it."""
        return status_text(self.status, Priority(self.status_priority) if self.status_priority else None)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["status_text"] = self.status_text
        return data


def build_inventory(
    loaded: LoadedManifest, records: Iterable[CaseRecord], priority_of: dict[str, Priority] | None = None
) -> list[ScriptRow]:
    """`priority_of`: root cases' effective priorities by node id (reporting.root_causes)."""
    scripts = [*loaded.manifest.scripts, *undeclared_scripts(loaded)]
    if not scripts:
        return []  # nothing to list, and no git process to start
    by_subject: dict[str, list[CaseRecord]] = {}
    for r in records:
        if r.subject_kind == "script":
            by_subject.setdefault(r.subject, []).append(r)
    dates = last_commit_dates(loaded.root, [s.path for s in scripts])
    phase = loaded.phase.id
    effective = priority_of or {}
    return [_row(loaded, s, by_subject.get(s.path, []), dates, phase, effective) for s in scripts]


def _row(
    loaded: LoadedManifest,
    script: Script,
    recs: list[CaseRecord],
    dates: dict[str, str] | None,
    phase: str,
    effective: dict[str, Priority],
) -> ScriptRow:
    path = loaded.root / script.path
    exists = path.is_file()
    deps, mode, lines = _facts(loaded.root, script) if exists else ([], "", None)
    priority: Priority | None
    if isinstance(script, UndeclaredScript):
        status, priority = Status.UNDECLARED, Priority.P3
    else:
        status, priority = item_status(recs, effective)
    open_recs = [r for r in recs if r.outcome.is_open]
    # One entry per root cause: the cases it kept from running are counted, not repeated.
    roots = [r for r in open_recs if not r.blocked_by]
    folded = {r.key: sum(1 for o in open_recs if o.blocked_by == r.key) for r in roots}
    blockers = [
        f"{effective.get(r.nodeid, r.priority).value} {r.message or r.title}"
        + (
            f" (+{folded[r.key]} check{'s' if folded[r.key] != 1 else ''} could not run)"
            if folded[r.key]
            else ""
        )
        for r in roots
    ]
    tables = table_columns(recs)
    return ScriptRow(
        path=script.path,
        purpose=script.purpose,
        category=script.category.value,
        kind=script.script_kind.value,
        phases=script.phase_ids(),
        needed=script.needed_by(phase),
        priority=script.priority_for("script_exists", phase).value,
        status=status,
        status_priority=priority.value if priority is not None else "",
        exists=exists,
        lines=lines,
        last_modified=_last_modified(path, script.path, dates) if exists else "",
        dependencies=deps,
        execution_mode=mode if exists else "",
        blockers=blockers,
        recommendation=_recommendation(status, script, roots or open_recs, effective),
        create_hours=script.create_hours,
        naming_mandate=tables.naming,
        schema_mandate=tables.schema,
        cost_estimate=tables.cost,
    )


def undeclared_line(rows: list[ScriptRow]) -> str:
    """The summary's count of undeclared scripts ("" when the manifest names them all)."""
    count = sum(1 for r in rows if r.status is ScriptStatus.UNDECLARED)
    if not count:
        return ""
    noun, verb = ("script", "is") if count == 1 else ("scripts", "are")
    return f"{count} {noun} in the repository {verb} not in the manifest (inventory status UNDECLARED)"


def _recommendation(
    status: Status, script: Script, roots: list[CaseRecord], effective: dict[str, Priority]
) -> str:
    """What to do, from the root finding that decides the status (a script that does not parse
    is told to fix its syntax, not to add the flags its parser cannot be read for)."""
    if status is Status.UNDECLARED:
        fix = f"; fix first: {roots[0].message or roots[0].title}" if roots else ""
        return f"Declare it in the manifest (`readiness init` suggests an entry){fix}"
    if status is Status.MISSING:
        hours = f" (estimated {script.create_hours:g} h)" if script.create_hours else ""
        return f"Create{hours}: {script.purpose}"
    if status is Status.NOT_AUDITED:
        return "Run the full suite to audit"
    if not roots:
        return "None: ready to run"
    deciding = [r for r in roots if CRITERION_STATUS.get(r.criterion, Status.BLOCKED) is status] or roots
    worst = min(deciding, key=lambda r: effective.get(r.nodeid, r.priority).rank)
    action = str(worst.blocker.get("action") or worst.message or worst.title)
    return f"Fix before execution: {action}" if status is Status.BLOCKED else f"Update: {action}"


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
