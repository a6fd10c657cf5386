"""What history adds to one run's audit: waivers applied, blocker ages and SLA status, the diff
against the last run of the same scope, the cadence dashboard and the trend points.

Built once on the controller (reporting.audit.build_audit) from this run's records and what
the store said before the run (`Past`); turned back into one history row set (`run_entry`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from readiness.manifest import LoadedManifest
from readiness.priorities import SLA, Priority
from readiness.records import CaseRecord
from reporting.activities import ActivityStatus, last_review, nightly_status, review_status, reviews_folder
from reporting.aging import ESCALATION, Aging, SlaStatus, age_case, format_age
from reporting.diff import RunDiff, diff_runs
from reporting.history.store import CaseEntry, HistoryStore, RunEntry
from reporting.trend import TrendPoint, point, point_from_entry
from reporting.waivers import WaiverReport, apply_waivers, describe

__all__ = ["CadenceRow", "Operations", "Past", "build_operations", "case_entries", "read_past"]


@dataclass(frozen=True, slots=True)
class Past:
    """What the store knew before this run."""

    #: Earlier runs of the same scope, newest first (at most trend_runs - 1).
    scope_runs: list[RunEntry]
    #: The newest earlier row of every case of the project and phase, any scope.
    latest: dict[str, CaseEntry]
    #: When the newest earlier run of the scheduled (nightly) scope started (None: none on record).
    last_nightly: dt.datetime | None = None


def read_past(
    store: HistoryStore,
    project: str,
    phase: str,
    scope: str,
    before: dt.datetime,
    window: int,
    nightly_scope: str | None = None,
) -> Past:
    """Raises HistoryError when the store cannot be read. `nightly_scope`: the scheduled run's
    scope key, whose newest run tells whether the schedule was kept (reporting.activities)."""
    runs = store.runs(project, phase, scope=scope, before=before, limit=window - 1)
    nightly = runs[:1] if nightly_scope in (None, scope) else []
    if nightly_scope is not None and nightly_scope != scope:
        nightly = store.runs(project, phase, scope=nightly_scope, before=before, limit=1)
    last = nightly[0].started if nightly else None
    return Past(runs, store.latest_cases(project, phase, before=before), last)


@dataclass(frozen=True, slots=True)
class CadenceRow:
    """One line of the cadence dashboard: the SLA target against the blockers open now."""

    priority: Priority
    open: int
    within: int
    due_soon: int
    overdue: int
    waived: int
    oldest: str
    #: "on target", "at risk" (something due soon) or "MISSED: <escalation>".
    status: str

    @property
    def target(self) -> str:
        hours = SLA[self.priority].total_seconds() / 3600
        return f"resolved within {hours / 24:g} d" if hours >= 72 else f"resolved within {hours:g} h"

    def to_json(self) -> dict[str, object]:
        return {
            "priority": self.priority.value,
            "target": self.target,
            "open": self.open,
            "within": self.within,
            "due_soon": self.due_soon,
            "overdue": self.overdue,
            "waived": self.waived,
            "oldest": self.oldest,
            "status": self.status,
        }


@dataclass(slots=True)
class Operations:
    #: The store's location ("" when history is not configured).
    history_location: str
    #: "not configured", "unavailable", "read", "recorded" or "not written".
    history_status: str
    #: Why, when the store could not be used.
    history_detail: str
    now: dt.datetime
    waivers: WaiverReport
    aging: dict[str, Aging]
    diff: RunDiff | None
    trend: list[TrendPoint] = field(default_factory=list)
    #: The recurring activities (scheduled run, issue review) and whether one was missed.
    activities: list[ActivityStatus] = field(default_factory=list)
    _aging_cache: dict[Aging | None, dict[str, object]] = field(default_factory=dict, init=False, repr=False)

    @property
    def has_history(self) -> bool:
        return self.history_status in ("read", "recorded", "not written")

    def history_line(self) -> str:
        if self.history_status == "not configured":
            return "not configured (set --history or [history] store): ages and changes are not known"
        if self.history_status == "recorded":
            return f"recorded in {self.history_location}"
        if self.history_status == "read":
            return f"read from {self.history_location}"
        return f"NOT written ({self.history_location}): {self.history_detail}"

    def add_case_json(self, record: CaseRecord, data: dict[str, Any]) -> None:
        """Add the history-derived fields of one case to its JSON (`data`)."""
        key = record.key
        waiver = self.waivers.applied.get(key)
        data.update(self._aging_json(self.aging.get(key)))
        data["diff"] = self.diff.change(key) if self.diff else None
        data["flapping"] = bool(self.diff and key in self.diff.flapping)
        data["waiver"] = (
            {"reason": waiver.reason, "owner": waiver.owner, "expires": waiver.expires.isoformat()}
            if waiver
            else None
        )

    def _aging_json(self, aging: Aging | None) -> dict[str, object]:
        """An aging's fields as JSON; worked out once per distinct aging (most cases share one:
        passed, or open without history)."""
        cached = self._aging_cache.get(aging)
        if cached is None:
            age = aging.age(self.now) if aging else None
            cached = self._aging_cache[aging] = {
                "first_seen": aging.first_seen.isoformat() if aging and aging.first_seen else None,
                "age_hours": round(age.total_seconds() / 3600, 2) if age is not None else None,
                "age": format_age(age) if aging and aging.first_seen else None,
                "consecutive_failures": aging.consecutive_failures if aging else None,
                "sla_status": aging.status.value if aging else None,
                "due": aging.due.isoformat() if aging and aging.due else None,
                "escalation": aging.escalation if aging else "",
            }
        return cached

    def cadence(self, records: list[CaseRecord]) -> list[CadenceRow]:
        """One row per priority, from one pass over the records (a large audit has thousands)."""
        waived = self.waivers.applied
        relevant: dict[Priority, list[CaseRecord]] = {p: [] for p in Priority}
        for r in records:
            if r.outcome.is_open or r.key in waived:
                relevant[r.priority].append(r)
        rows = []
        for p, recs in relevant.items():
            statuses = [self.aging[r.key].status for r in recs if r.key in self.aging]
            open_recs = [r for r in recs if r.outcome.is_open]
            ages = [a for r in open_recs if (a := self.aging[r.key].age(self.now)) is not None]
            overdue = statuses.count(SlaStatus.OVERDUE)
            due_soon = statuses.count(SlaStatus.DUE_SOON)
            if overdue:
                status = f"MISSED: {ESCALATION[p]}"
            elif due_soon:
                status = "at risk"
            elif not self.has_history and open_recs:
                status = "unknown (no history)"
            else:
                status = "on target"
            rows.append(
                CadenceRow(
                    priority=p,
                    open=len(open_recs),
                    within=statuses.count(SlaStatus.WITHIN),
                    due_soon=due_soon,
                    overdue=overdue,
                    waived=statuses.count(SlaStatus.WAIVED),
                    oldest=format_age(max(ages)) if ages else "-",
                    status=status,
                )
            )
        return rows

    def to_json(self, cadence: list[CadenceRow]) -> dict[str, object]:
        return {
            "history": {
                "store": self.history_location or None,
                "status": self.history_status,
                "detail": self.history_detail,
            },
            "waivers": self.waivers.to_json(),
            "diff": self.diff.to_json() if self.diff else None,
            "sla_dashboard": [row.to_json() for row in cadence],
            "trend": [p.to_json() for p in self.trend],
            "activities": [a.to_json() for a in self.activities],
        }


def build_operations(
    loaded: LoadedManifest,
    records: list[CaseRecord],
    run_id: str,
    started: dt.datetime,
    past: Past | None,
    history_location: str,
    history_problem: str,
) -> Operations:
    """Apply the waivers (records change in place), then age, diff and trend with `past`."""
    waivers = apply_waivers(records, list(loaded.manifest.waivers), started.date())
    history = past is not None
    latest = past.latest if past else {}
    aging = {
        r.key: age_case(r.priority, r.outcome, latest.get(r.key), started, started, history) for r in records
    }
    diff = None
    trend: list[TrendPoint] = []
    if past is not None:
        window = loaded.manifest.history.trend_runs
        diff = diff_runs({r.key: r.outcome for r in records}, past.scope_runs, window)
        trend = [point_from_entry(run) for run in reversed(past.scope_runs)]
        trend.append(point(run_id, started, [(r.priority, r.outcome) for r in records]))
    if not history_location:
        status = "not configured"
    elif history_problem:
        status = "unavailable"
    else:
        status = "read"
    cadence = loaded.manifest.cadence
    owner = loaded.manifest.owners.default
    folder = reviews_folder(loaded)
    activities = [
        nightly_status(past.last_nightly if past else None, started, cadence, history, owner),
        review_status(last_review(folder, started.date()), started, cadence, str(folder), owner),
    ]
    return Operations(
        history_location=history_location,
        history_status=status,
        history_detail=history_problem,
        now=started,
        waivers=waivers,
        aging=aging,
        diff=diff,
        trend=trend,
        activities=activities,
    )


def case_entries(records: list[CaseRecord], ops: Operations) -> tuple[CaseEntry, ...]:
    """This run's cases as history rows, with their ages carried forward."""
    entries = []
    for r in sorted(records, key=lambda r: r.key):
        aging = ops.aging[r.key]
        waiver = ops.waivers.applied.get(r.key)
        entries.append(
            CaseEntry(
                key=r.key,
                criterion=r.criterion,
                subject=r.subject,
                title=r.title,
                area=r.area,
                category=r.category,
                priority=r.priority.value,
                outcome=r.outcome.value,
                message=r.message,
                owner=r.owner,
                waiver=describe(waiver) if waiver else "",
                first_seen=aging.first_seen,
                consecutive_failures=aging.consecutive_failures,
                previous_outcome=aging.previous_outcome,
            )
        )
    return tuple(entries)
