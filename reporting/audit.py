"""Everything one run found, aggregated once on the controller: what every document renders."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from checks.cases import cases_for
from checks.criteria import CRITERIA
from checks.manifest import LoadedManifest
from checks.priority import PRIORITY_MEANING, SLA, Priority
from reporting.history.store import RunEntry, scope_key
from reporting.inventory import ScriptRow, ScriptStatus, build_inventory
from reporting.operations import CadenceRow, Operations, Past, build_operations, case_entries
from reporting.records import CaseRecord, Outcome
from reporting.verdict import VerdictResult, decide

__all__ = ["Audit", "RunInfo", "Scope", "build_audit"]


@dataclass(frozen=True, slots=True)
class Scope:
    """What this run covered, so a P0-only GO is never read as a full audit."""

    markexpr: str
    keyword: str
    cases_run: int
    #: Every case the manifest defines, selected or not.
    cases_total: int

    @property
    def is_full(self) -> bool:
        return not self.markexpr and not self.keyword and self.cases_run >= self.cases_total

    def describe(self) -> str:
        parts = []
        if self.markexpr:
            parts.append(f"-m {self.markexpr!r}")
        if self.keyword:
            parts.append(f"-k {self.keyword!r}")
        selection = " ".join(parts) if parts else "no selection (full suite)"
        kind = "full audit" if self.is_full else "PARTIAL audit"
        return f"{kind}: {selection}; {self.cases_run} of {self.cases_total} cases run"


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    started: dt.datetime
    finished: dt.datetime
    #: The date the documents are named and dated with.
    date: dt.date


@dataclass(slots=True)
class Audit:
    loaded: LoadedManifest
    run: RunInfo
    scope: Scope
    records: list[CaseRecord]
    verdict: VerdictResult
    inventory: list[ScriptRow]
    #: History, waivers, SLA aging, the diff and the trend (reporting.operations).
    ops: Operations
    #: Every case that did not verifiably pass, most urgent first.
    blockers: list[CaseRecord]
    #: Cases per priority and outcome.
    counts: dict[Priority, dict[Outcome, int]]
    #: The SLA cadence dashboard, one row per priority.
    cadence: list[CadenceRow]
    extra: dict[str, Any] = field(default_factory=dict)

    def missing_scripts(self) -> list[ScriptRow]:
        return [s for s in self.inventory if s.status is ScriptStatus.MISSING]

    @property
    def waived(self) -> list[CaseRecord]:
        return [r for r in self.records if r.outcome is Outcome.WAIVED]

    @property
    def scope_key(self) -> str:
        return scope_key(
            self.loaded.manifest.project.name, self.loaded.phase.id, self.scope.markexpr, self.scope.keyword
        )

    def case_json(self, record: CaseRecord) -> dict[str, Any]:
        data = record.to_json()
        self.ops.add_case_json(record, data)
        return data

    def history_entry(self) -> RunEntry:
        """This run as one history entry (written once, by the controller)."""
        return RunEntry(
            run_id=self.run.run_id,
            project=self.loaded.manifest.project.name,
            phase=self.loaded.phase.id,
            scope_key=self.scope_key,
            markexpr=self.scope.markexpr,
            keyword=self.scope.keyword,
            manifest=str(self.loaded.path),
            started=self.run.started,
            finished=self.run.finished,
            verdict=self.verdict.verdict.value,
            risk=self.verdict.risk.value,
            cases_run=self.scope.cases_run,
            cases_total=self.scope.cases_total,
            cases=case_entries(self.records, self.ops),
        )

    def to_json(self) -> dict[str, Any]:
        m = self.loaded.manifest
        phase = self.loaded.phase
        return {
            "project": m.project.name,
            "manifest": str(self.loaded.path),
            "target_root": str(self.loaded.root),
            "phase": {"id": phase.id, "name": phase.name, "start": phase.start.isoformat()},
            "run": {
                "id": self.run.run_id,
                "date": self.run.date.isoformat(),
                "started": self.run.started.isoformat(),
                "finished": self.run.finished.isoformat(),
            },
            "scope": {
                "markexpr": self.scope.markexpr,
                "keyword": self.scope.keyword,
                "cases_run": self.scope.cases_run,
                "cases_total": self.scope.cases_total,
                "full": self.scope.is_full,
                "description": self.scope.describe(),
            },
            "verdict": {
                "verdict": self.verdict.verdict.value,
                "risk": self.verdict.risk.value,
                "reasons": list(self.verdict.reasons),
            },
            "counts": {p.value: {o.value: n for o, n in row.items()} for p, row in self.counts.items()},
            "priorities": {
                p.value: {"meaning": PRIORITY_MEANING[p], "sla_hours": SLA[p].total_seconds() / 3600}
                for p in Priority
            },
            "inventory": [row.to_json() for row in self.inventory],
            "blockers": [self.case_json(r) for r in self.blockers],
            "cases": [self.case_json(r) for r in self.records],
            **self.ops.to_json(self.cadence),
            **self.extra,
        }


def count_all_cases(loaded: LoadedManifest) -> int:
    return sum(len(cases_for(cid, loaded)) for cid in CRITERIA)


def build_audit(
    loaded: LoadedManifest,
    records: list[CaseRecord],
    run: RunInfo,
    markexpr: str,
    keyword: str,
    past: Past | None = None,
    history_location: str = "",
    history_problem: str = "",
) -> Audit:
    """Aggregate one run. Waivers are applied first, so the verdict never counts a waived case.

    Records do not change once the audit exists, so what several documents ask of them (the
    blockers, the counts, the cadence) is worked out here, once.
    """
    records = sorted(records, key=attrgetter("nodeid"))
    scope = Scope(markexpr, keyword, len(records), count_all_cases(loaded))
    ops = build_operations(loaded, records, run.run_id, run.started, past, history_location, history_problem)
    counts = {p: dict.fromkeys(Outcome, 0) for p in Priority}
    for r in records:
        counts[r.priority][r.outcome] += 1
    open_records = [r for r in records if r.outcome.is_open]
    return Audit(
        loaded=loaded,
        run=run,
        scope=scope,
        records=records,
        verdict=decide(records),
        inventory=build_inventory(loaded, records),
        ops=ops,
        blockers=sorted(open_records, key=lambda r: (r.priority.rank, r.area, r.subject, r.criterion)),
        counts=counts,
        cadence=ops.cadence(records),
    )
