"""The script inventory: each script's facts and status, from the records of the cases that ran.

What a script is (lines, dependencies, execution mode, last change) comes from the one case that
read it (`Criterion.describes`); nothing here reads the target repository.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from readiness.cases import cases_for
from readiness.criteria import CRITERIA
from readiness.manifest import LoadedManifest, Script
from readiness.memo import RunMemo
from readiness.priorities import Priority
from readiness.records import CaseRecord
from readiness.statuses import CRITERION_STATUS, Status, item_status, status_text
from readiness.undeclared import UndeclaredScript, undeclared_scripts
from reporting.script_tables import table_columns

__all__ = ["ScriptRow", "ScriptStatus", "build_inventory", "undeclared_line"]


#: Scripts share the one vocabulary of every document (readiness.statuses).
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
    loaded: LoadedManifest,
    memo: RunMemo,
    records: Iterable[CaseRecord],
    priority_of: dict[str, Priority] | None = None,
) -> list[ScriptRow]:
    """`priority_of`: root cases' effective priorities by node id (reporting.root_causes)."""
    scripts = [*loaded.manifest.scripts, *undeclared_scripts(loaded, memo)]
    by_subject: dict[str, list[CaseRecord]] = {}
    for r in records:
        if r.subject_kind == "script":
            by_subject.setdefault(r.subject, []).append(r)
    # A script is there when a describing case was generated for it (its file was found when
    # the cases were made), whether or not that case was selected in this run.
    present = {
        case.subject for c in CRITERIA.values() if c.describes for case in cases_for(c.id, loaded, memo)
    }
    phase = loaded.phase.id
    effective = priority_of or {}
    return [_row(s, by_subject.get(s.path, []), s.path in present, phase, effective) for s in scripts]


def _row(
    script: Script, recs: list[CaseRecord], exists: bool, phase: str, effective: dict[str, Priority]
) -> ScriptRow:
    described = next((r.script for r in recs if r.script is not None), None) if exists else None
    facts = described or {}
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
        lines=facts.get("lines"),
        last_modified=str(facts.get("last_modified", "")),
        dependencies=list(facts.get("dependencies", [])),
        execution_mode=str(facts.get("execution_mode", "")),
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
