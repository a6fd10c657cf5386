"""Waivers: accepted risk from the manifest, applied on the controller when the audit is built.

A failed case matching an unexpired waiver becomes WAIVED: shown with its reason, owner and
expiry, not counted by the verdict. It blocks again the day after `expires`. A waiver never
hides a P0 case that could not be verified (error or skip): nobody can accept a risk nobody
has measured. Expired waivers and waivers that matched nothing are reported, so the manifest
does not silently accumulate dead ones.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from readiness.manifest import Waiver
from readiness.priorities import Priority
from readiness.records import CaseRecord, Outcome

__all__ = ["WaiverReport", "apply_waivers", "describe", "matches", "waiver_for"]


def matches(waiver: Waiver, key: str) -> bool:
    """The waiver's `case` is a key (`criterion:subject`) or an fnmatch pattern over keys."""
    return waiver.case == key or fnmatchcase(key, waiver.case)


def describe(waiver: Waiver) -> str:
    return f"until {waiver.expires.isoformat()} ({waiver.owner}): {waiver.reason}"


@dataclass(slots=True)
class WaiverReport:
    #: Case key -> the waiver that turned its failure into WAIVED.
    applied: dict[str, Waiver] = field(default_factory=dict)
    #: Waivers past their expiry date, with the keys of the cases they would have matched.
    expired: list[tuple[Waiver, list[str]]] = field(default_factory=list)
    #: Unexpired waivers that matched no case of this run.
    unmatched: list[Waiver] = field(default_factory=list)
    #: Unexpired waivers whose cases all passed: they can be removed.
    unused: list[Waiver] = field(default_factory=list)
    #: (case key, waiver): P0 cases that could not be verified; a waiver cannot hide them.
    refused: list[tuple[str, Waiver]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        def one(w: Waiver) -> dict[str, str]:
            return {"case": w.case, "reason": w.reason, "owner": w.owner, "expires": w.expires.isoformat()}

        return {
            "applied": {key: one(w) for key, w in sorted(self.applied.items())},
            "expired": [{**one(w), "cases": keys} for w, keys in self.expired],
            "unmatched": [one(w) for w in self.unmatched],
            "unused": [one(w) for w in self.unused],
            "refused": [{**one(w), "key": key} for key, w in self.refused],
        }


def _waivable(record: CaseRecord) -> bool:
    if record.outcome is Outcome.FAILED:
        return True
    # An unverified case is a measured risk only below P0.
    return record.outcome in (Outcome.ERROR, Outcome.SKIPPED) and record.priority is not Priority.P0


def waiver_for(record: CaseRecord, waivers: list[Waiver], today: dt.date) -> Waiver | None:
    """The first unexpired waiver that would turn this record's outcome into WAIVED, or None
    (the same rule as apply_waivers, for one case judged before the audit is built)."""
    if not _waivable(record):
        return None
    return next((w for w in waivers if w.expires >= today and matches(w, record.key)), None)


def apply_waivers(records: list[CaseRecord], waivers: list[Waiver], today: dt.date) -> WaiverReport:
    """Mark waived records in place (outcome WAIVED) and report on every waiver."""
    report = WaiverReport()
    for waiver in waivers:
        matched = [r for r in records if matches(waiver, r.key)]
        if waiver.expires < today:
            report.expired.append((waiver, [r.key for r in matched if r.outcome is not Outcome.PASSED]))
            continue
        if not matched:
            report.unmatched.append(waiver)
            continue
        used = False
        for record in matched:
            if record.outcome is Outcome.WAIVED:  # an earlier waiver took it
                used = True
            elif _waivable(record):
                record.outcome = Outcome.WAIVED
                report.applied[record.key] = waiver
                used = True
            elif record.outcome.is_open:
                report.refused.append((record.key, waiver))
                used = True
        if not used:
            report.unused.append(waiver)
    return report
