"""The GO / CONDITIONAL GO / NO-GO verdict, its risk level and its exit codes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from readiness.priorities import Priority
from readiness.records import CaseRecord
from reporting.root_causes import RootCause, blocker_counts, count_text, roots_of

__all__ = ["EXIT_CODES", "Risk", "Verdict", "VerdictResult", "decide", "short_finding"]


class Verdict(StrEnum):
    GO = "GO"
    CONDITIONAL_GO = "CONDITIONAL GO"
    NO_GO = "NO-GO"


class Risk(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


#: Exit status with `--readiness-exit=verdict` (documented in the README); pytest uses 0-5.
EXIT_CODES: Final[dict[Verdict, int]] = {
    Verdict.GO: 0,
    Verdict.CONDITIONAL_GO: 10,
    Verdict.NO_GO: 11,
}


@dataclass(frozen=True, slots=True)
class VerdictResult:
    verdict: Verdict
    risk: Risk
    #: Why, in one sentence per reason.
    reasons: tuple[str, ...]
    #: Which blockers make the risk what it is, in one or two lines.
    risk_reasons: tuple[str, ...] = ()


#: Root causes named in the risk's reasons before "and N more".
_NAMED: Final = 3
_SHORT: Final = 110


def decide(records: Iterable[CaseRecord]) -> VerdictResult:
    """NO-GO when a P0 case did not verifiably pass (or nothing ran); CONDITIONAL GO on P1.

    Every case counts; the reasons count blockers by root cause (reporting.root_causes: a case
    that could not run because another failed is folded under it): "3 P0 blockers (5 cases)".
    """
    records = list(records)
    if not records:
        return VerdictResult(
            Verdict.NO_GO,
            Risk.HIGH,
            ("no readiness case ran: nothing was verified",),
            ("HIGH: nothing was verified",),
        )
    roots = roots_of(records)
    counts = blocker_counts(roots)
    p0 = [c for c in roots if c.priority is Priority.P0]
    p1 = [c for c in roots if c.priority is Priority.P1]
    if p0:
        return VerdictResult(
            Verdict.NO_GO, Risk.HIGH, (count_text(Priority.P0, *counts[Priority.P0]),), _risk("HIGH:", p0)
        )
    if p1:
        return VerdictResult(
            Verdict.CONDITIONAL_GO,
            Risk.MEDIUM,
            (count_text(Priority.P1, *counts[Priority.P1]),),
            _risk("MEDIUM: no P0 blocker;", p1),
        )
    slower = [c for c in roots if c.priority is Priority.P2]
    low = "LOW: no P0 or P1 blocker" + (
        f"; {count_text(Priority.P2, *counts[Priority.P2])} may slow it" if slower else ""
    )
    return VerdictResult(Verdict.GO, Risk.LOW, ("every selected P0 and P1 case passed",), (low,))


def short_finding(record: CaseRecord) -> str:
    """A blocker in a few words: its finding, prefixed by its subject unless it names it."""
    text = record.message or f"{record.title}: {record.outcome.value}"
    if record.subject and record.subject not in text:
        text = f"{record.subject}: {text}"
    return text if len(text) <= _SHORT else text[: _SHORT - 1] + "…"


def _risk(head: str, roots: list[RootCause]) -> tuple[str, ...]:
    priority = roots[0].priority
    named = "; ".join(
        short_finding(c.record) + (f" ({c.folded_text()})" if c.folded else "") for c in roots[:_NAMED]
    )
    more = f"; and {len(roots) - _NAMED} more" if len(roots) > _NAMED else ""
    blockers = f"{len(roots)} {priority.value} blocker{'s' if len(roots) != 1 else ''}"
    return (f"{head} {blockers}: {named}{more}",)
