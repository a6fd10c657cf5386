"""Everything one run found, aggregated once on the controller: what every document renders."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Final

from readiness.cases import cases_for
from readiness.criteria import CRITERIA, SubjectKind
from readiness.manifest import LoadedManifest
from readiness.memo import RunMemo
from readiness.priorities import PRIORITY_MEANING, SLA, Priority
from readiness.records import CaseRecord, Outcome
from reporting.history.store import RunEntry, scope_key
from reporting.history_facts import CadenceRow, Operations, Past, build_operations, case_entries
from reporting.inventory import ScriptRow, ScriptStatus, build_inventory
from reporting.root_causes import RootCause, assign_roots, blocker_counts, count_text, roots_of
from reporting.verdict import Verdict, VerdictResult, decide

__all__ = ["LEFTOVER_FACT", "Audit", "Leftover", "RunInfo", "Scope", "build_audit", "days_to_start"]


@dataclass(frozen=True, slots=True)
class Scope:
    """What this run covered, so a P0-only GO is never read as a full audit."""

    markexpr: str
    keyword: str
    cases_run: int
    #: Every case the manifest defines, selected or not.
    cases_total: int
    #: Why Google Cloud was not audited ("" when it was): no [gcp], or no Google case selected.
    google_gap: str = ""

    @property
    def is_full(self) -> bool:
        return (
            not self.markexpr
            and not self.keyword
            and self.cases_run >= self.cases_total
            and not self.google_gap
        )

    @property
    def selected_all(self) -> bool:
        return not self.markexpr and not self.keyword and self.cases_run >= self.cases_total

    def describe(self) -> str:
        parts = []
        if self.markexpr:
            parts.append(f"-m {self.markexpr!r}")
        if self.keyword:
            parts.append(f"-k {self.keyword!r}")
        selection = " ".join(parts) if parts else "no selection (full suite)"
        if self.is_full:
            kind = "full audit"
        elif self.selected_all:
            kind = "repository checks only"
        else:
            kind = "PARTIAL audit"
        gap = f"; Google Cloud not audited ({self.google_gap})" if self.google_gap else ""
        return f"{kind}: {selection}; {self.cases_run} of {self.cases_total} cases run{gap}"


def google_gap(loaded: LoadedManifest, records: list[CaseRecord]) -> str:
    """Why Google Cloud was not audited in this run, or "" when some Google case ran."""
    if loaded.manifest.gcp is None:
        return "the manifest has no [gcp] section"
    if not any(r.subject_kind and SubjectKind(r.subject_kind).google for r in records):
        return "no Google case was selected in this run"
    return ""


def days_to_start(start: dt.date, today: dt.date) -> str:
    """ "8 days until the planned start", or "the planned start was 8 days ago"."""
    days = (start - today).days
    if days == 0:
        return "the planned start is today"
    plural = "s" if abs(days) != 1 else ""
    if days > 0:
        return f"{days} day{plural} until the planned start"
    return f"the planned start was {-days} day{plural} ago"


@dataclass(frozen=True, slots=True)
class Leftover:
    """A scratch object a probe could not remove and found still present afterwards."""

    #: `project.dataset.table` or `gs://bucket/object`.
    name: str
    #: When it expires on its own (ISO), "" if unknown.
    expires: str
    #: The probe case that left it.
    case: str
    #: Seen after the failed delete; False: whether it is there could not be read either.
    confirmed: bool = True

    def describe(self) -> str:
        when = f"expires on its own at {self.expires}" if self.expires else "expiry unknown"
        state = (
            "still present after the run" if self.confirmed else "may still be present (could not be checked)"
        )
        return (
            f"{self.name}: {state} ({when}); `pytest --sweep-scratch` deletes it once the run is an hour old"
        )


#: The fact the write probes record, after checking, for scratch objects still present.
LEFTOVER_FACT: Final = "scratch_left"


def leftovers(records: list[CaseRecord]) -> list[Leftover]:
    found = []
    for r in records:
        for item in r.facts.get(LEFTOVER_FACT) or ():
            if isinstance(item, dict) and item.get("name"):
                expires = str(item.get("expires") or "")
                found.append(Leftover(str(item["name"]), expires, r.key, item.get("confirmed") is not False))
    return found


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
    #: History, waivers, SLA aging, the diff and the trend (reporting.history_facts).
    ops: Operations
    #: Every case that did not verifiably pass, most urgent first.
    blockers: list[CaseRecord]
    #: Cases per priority and outcome.
    counts: dict[Priority, dict[Outcome, int]]
    #: The SLA cadence dashboard, one row per priority.
    cadence: list[CadenceRow]
    #: One blocker per root cause, most urgent first (what documents, terminal and counts show).
    roots: list[RootCause] = field(default_factory=list)
    #: Scratch objects still present after the run.
    leftovers: list[Leftover] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def blocker_counts(self) -> dict[Priority, tuple[int, int]]:
        """(blockers, cases) per effective priority."""
        return blocker_counts(self.roots)

    def blocker_count_text(self, priority: Priority) -> str:
        """ "3 P0 blockers (5 cases)"."""
        return count_text(priority, *self.blocker_counts[priority])

    @property
    def verdict_line(self) -> str:
        """The verdict as it is read, with what it does not cover: "GO for the repository
        checks; infrastructure not audited"."""
        verdict = self.verdict.verdict
        if not self.scope.google_gap:
            return verdict.value
        if verdict is Verdict.GO:
            return "GO for the repository checks; infrastructure not audited"
        return f"{verdict.value}; Google Cloud not audited"

    def start_text(self) -> str:
        return days_to_start(self.loaded.phase.start, self.run.date)

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
                "google_not_audited": self.scope.google_gap,
                "description": self.scope.describe(),
            },
            "verdict": {
                "verdict": self.verdict.verdict.value,
                "risk": self.verdict.risk.value,
                "reasons": list(self.verdict.reasons),
                "headline": self.verdict_line,
                "risk_reasons": list(self.verdict.risk_reasons),
            },
            "counts": {p.value: {o.value: n for o, n in row.items()} for p, row in self.counts.items()},
            "blocker_counts": {
                p.value: {"blockers": b, "cases": c} for p, (b, c) in self.blocker_counts.items()
            },
            "priorities": {
                p.value: {"meaning": PRIORITY_MEANING[p], "sla_hours": SLA[p].total_seconds() / 3600}
                for p in Priority
            },
            "inventory": [row.to_json() for row in self.inventory],
            "blockers": [self.case_json(r) for r in self.blockers],
            "roots": [c.to_json() for c in self.roots],
            "leftovers": [
                {"name": x.name, "expires": x.expires, "case": x.case, "confirmed": x.confirmed}
                for x in self.leftovers
            ],
            "cases": [self.case_json(r) for r in self.records],
            **self.ops.to_json(self.cadence),
            **self.extra,
        }


def count_all_cases(loaded: LoadedManifest, memo: RunMemo) -> int:
    return sum(len(cases_for(cid, loaded, memo)) for cid in CRITERIA)


def build_audit(
    loaded: LoadedManifest,
    memo: RunMemo,
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
    # Before anything reads the records: which open case kept which other from running.
    assign_roots(loaded, records, memo)
    roots = roots_of(records)
    scope = Scope(markexpr, keyword, len(records), count_all_cases(loaded, memo), google_gap(loaded, records))
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
        inventory=build_inventory(loaded, memo, records, {c.record.nodeid: c.priority for c in roots}),
        ops=ops,
        blockers=sorted(open_records, key=lambda r: (r.priority.rank, r.area, r.subject, r.criterion)),
        counts=counts,
        cadence=ops.cadence(records),
        roots=roots,
        leftovers=leftovers(records),
    )
