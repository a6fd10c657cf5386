"""One record per case: what the check was, how it ended, and what it found."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from checks.priority import Priority

__all__ = ["CaseRecord", "Outcome"]


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    #: The check could not run (setup failed, no access, an API error): unverified.
    ERROR = "error"
    SKIPPED = "skipped"
    #: A verified failure whose risk the manifest accepts until a date (see waivers).
    WAIVED = "waived"

    @property
    def is_open(self) -> bool:
        """Whether the case stands as a blocker: anything not verified to pass."""
        return self not in (Outcome.PASSED, Outcome.WAIVED)


@dataclass(slots=True)
class CaseRecord:
    nodeid: str
    criterion: str
    title: str
    area: str
    subject: str
    subject_kind: str
    category: str
    priority: Priority
    phase: str
    needed: bool
    phases: list[str]
    owner: str
    blocker: dict[str, Any]
    outcome: Outcome = Outcome.PASSED
    message: str = ""
    facts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_report_data(cls, nodeid: str, data: dict[str, Any]) -> CaseRecord:
        return cls(
            nodeid=nodeid,
            criterion=data["criterion"],
            title=data["title"],
            area=data["area"],
            subject=data["subject"],
            subject_kind=data["subject_kind"],
            category=data["category"],
            priority=Priority(data["priority"]),
            phase=data["phase"],
            needed=bool(data["needed"]),
            phases=list(data["phases"]),
            owner=data.get("owner", ""),
            blocker=dict(data["blocker"]),
        )

    @property
    def key(self) -> str:
        """Stable identity across runs: the criterion and the subject, not a volatile node id."""
        return f"{self.criterion}:{self.subject}"

    def to_json(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "key": self.key,
            "criterion": self.criterion,
            "title": self.title,
            "area": self.area,
            "subject": self.subject,
            "subject_kind": self.subject_kind,
            "category": self.category,
            "priority": self.priority.value,
            "phase": self.phase,
            "needed": self.needed,
            "phases": self.phases,
            "owner": self.owner,
            "outcome": self.outcome.value,
            "message": self.message,
            "blocker": self.blocker,
            "facts": self.facts,
        }
