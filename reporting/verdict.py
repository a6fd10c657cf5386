"""The GO / CONDITIONAL GO / NO-GO verdict, its risk level and its exit codes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from checks.priority import Priority
from reporting.records import CaseRecord

__all__ = ["EXIT_CODES", "Risk", "Verdict", "VerdictResult", "decide"]


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


def decide(records: Iterable[CaseRecord]) -> VerdictResult:
    """NO-GO when a P0 case did not verifiably pass (or nothing ran); CONDITIONAL GO on P1."""
    records = list(records)
    if not records:
        return VerdictResult(Verdict.NO_GO, Risk.HIGH, ("no readiness case ran: nothing was verified",))
    p0 = [r for r in records if r.priority is Priority.P0 and r.outcome.is_open]
    p1 = [r for r in records if r.priority is Priority.P1 and r.outcome.is_open]
    if p0:
        return VerdictResult(Verdict.NO_GO, Risk.HIGH, tuple(_reasons(p0, "P0")))
    if p1:
        return VerdictResult(Verdict.CONDITIONAL_GO, Risk.MEDIUM, tuple(_reasons(p1, "P1")))
    return VerdictResult(Verdict.GO, Risk.LOW, ("every selected P0 and P1 case passed",))


def _reasons(open_records: list[CaseRecord], priority: str) -> list[str]:
    by_outcome: dict[str, int] = {}
    for r in open_records:
        by_outcome[r.outcome.value] = by_outcome.get(r.outcome.value, 0) + 1
    parts = [f"{n} {outcome}" for outcome, n in sorted(by_outcome.items())]
    return [f"{len(open_records)} {priority} case(s) not passed ({', '.join(parts)})"]
