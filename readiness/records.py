"""One record per case: what the check was, how it ended, and what it found."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from readiness.cases import Case
from readiness.priorities import Priority

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
    #: Shared between the records of cases with the same metadata object: read, never modify.
    blocker: dict[str, Any]
    outcome: Outcome = Outcome.PASSED
    message: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    #: The key of the case whose failure kept this one from being checked ("" when none):
    #: set at aggregation by reporting.root_causes.
    blocked_by: str = ""
    #: What the inventory says of the script, from its describing case (checks/script_facts.py);
    #: None for every other case. Shown in the inventory, not in the case's JSON.
    script: dict[str, Any] | None = None

    @classmethod
    def from_case(cls, nodeid: str, case: Case, blocker: dict[str, Any]) -> CaseRecord:
        """`blocker`: the case's blocker metadata as JSON (its dump, shared where the object is)."""
        criterion, item = case.criterion, case.item
        return cls(
            nodeid=nodeid,
            criterion=criterion.id,
            title=criterion.title,
            area=criterion.area.value,
            subject=item.subject,
            subject_kind=criterion.subject.value,
            category=case.category,
            priority=case.priority,
            phase=case.phase,
            needed=item.needed_by(case.phase),
            phases=item.phase_ids(),
            owner=case.owner,
            blocker=blocker,
        )

    @classmethod
    def unknown_case(cls, nodeid: str, reference: list[Any]) -> CaseRecord:
        """A report naming a case the controller's manifest does not have: the manifest or the
        target tree changed while the suite ran, so what the check verified is not what this
        audit describes. Unverified, and at P0: such a run cannot earn a GO."""
        criterion_id, _, subject = reference
        return cls(
            nodeid=nodeid,
            criterion=str(criterion_id),
            title="case unknown to this run's manifest",
            area="run",
            subject=str(subject),
            subject_kind="",
            category="",
            priority=Priority.P0,
            phase="",
            needed=True,
            phases=[],
            owner="",
            blocker={},
            outcome=Outcome.ERROR,
            message=(
                "unverified: the manifest or the target tree changed while the suite ran "
                "(a worker ran a case this run's manifest does not have); run the suite again"
            ),
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
            "blocked_by": self.blocked_by,
        }
