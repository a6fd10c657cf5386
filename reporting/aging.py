"""Blocker aging against the team's resolution SLAs, and the escalation a missed SLA calls for.

P0 within 24 hours, P1 within a week, P2 within two weeks, P3 within a month (readiness.priorities.SLA).
A blocker's clock starts at the first run of its current failing streak; a pass resets it. A
waived failure keeps ageing (the risk is accepted, not fixed): when the waiver expires the
blocker is as old as it really is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from readiness.priorities import SLA, Priority
from readiness.records import Outcome
from reporting.history.store import CaseEntry

__all__ = [
    "DUE_SOON_FRACTION",
    "ESCALATION",
    "Aging",
    "SlaStatus",
    "age_case",
    "format_age",
    "sla_status",
]

#: A blocker is "due soon" in the last quarter of its SLA (P0: 6 h, P1: 42 h, P2: 3.5 d, P3: 7.5 d).
DUE_SOON_FRACTION: Final = 0.25

#: What the team does when a blocker outlives its SLA.
ESCALATION: Final[dict[Priority, str]] = {
    Priority.P0: "P0 open > 24 h: emergency meeting",
    Priority.P1: "P1 open > 1 week: architect intervention",
    Priority.P2: "P2 open > 2 weeks: QA re-prioritises",
    Priority.P3: "P3 open > 1 month: review whether it is still relevant",
}


class SlaStatus(StrEnum):
    WITHIN = "within"
    DUE_SOON = "due soon"
    OVERDUE = "overdue"
    #: Accepted risk: no SLA runs against the team while the waiver holds.
    WAIVED = "waived"
    #: No history: the blocker's age is not known.
    UNKNOWN = "unknown"
    #: The case passes: nothing to resolve.
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Aging:
    first_seen: dt.datetime | None
    consecutive_failures: int
    previous_outcome: str
    status: SlaStatus
    #: first_seen + SLA.
    due: dt.datetime | None
    escalation: str

    def age(self, now: dt.datetime) -> dt.timedelta | None:
        return now - self.first_seen if self.first_seen is not None else None


def sla_status(
    priority: Priority, first_seen: dt.datetime, now: dt.datetime
) -> tuple[SlaStatus, dt.datetime, str]:
    """(status, due, escalation) of a blocker open since `first_seen`; escalation only when overdue."""
    sla = SLA[priority]
    due = first_seen + sla
    if now > due:
        return SlaStatus.OVERDUE, due, ESCALATION[priority]
    if due - now <= sla * DUE_SOON_FRACTION:
        return SlaStatus.DUE_SOON, due, ""
    return SlaStatus.WITHIN, due, ""


#: The agings most cases have (frozen, so shared): a pass with no earlier row, and an open or a
#: waived case when there is no history to age it by.
_RESOLVED: Final = Aging(None, 0, "", SlaStatus.RESOLVED, None, "")
_UNAGED: Final = Aging(None, 1, "", SlaStatus.UNKNOWN, None, "")
_WAIVED_UNAGED: Final = Aging(None, 1, "", SlaStatus.WAIVED, None, "")


def age_case(
    priority: Priority,
    outcome: Outcome,
    previous: CaseEntry | None,
    started: dt.datetime,
    now: dt.datetime,
    history: bool,
) -> Aging:
    """This run's aging of one case, carried forward from its newest earlier row.

    `started` is this run's start (a new blocker is first seen then); `now` is when it is judged.
    """
    prev_outcome = previous.outcome if previous is not None else ""
    if outcome is Outcome.PASSED:
        return _RESOLVED if not prev_outcome else Aging(None, 0, prev_outcome, SlaStatus.RESOLVED, None, "")
    if not history:
        return _WAIVED_UNAGED if outcome is Outcome.WAIVED else _UNAGED
    if previous is not None and previous.outcome != Outcome.PASSED.value and previous.first_seen is not None:
        first_seen = previous.first_seen
        consecutive = previous.consecutive_failures + 1
    else:
        first_seen, consecutive = started, 1
    if outcome is Outcome.WAIVED:
        return Aging(first_seen, consecutive, prev_outcome, SlaStatus.WAIVED, first_seen + SLA[priority], "")
    status, due, escalation = sla_status(priority, first_seen, now)
    return Aging(first_seen, consecutive, prev_outcome, status, due, escalation)


def format_age(age: dt.timedelta | None) -> str:
    """ "30 h" under three days, else "4.5 d"; "unknown" without history."""
    if age is None:
        return "unknown"
    hours = age.total_seconds() / 3600
    if hours < 72:
        return f"{hours:.0f} h"
    return f"{hours / 24:.1f} d"
