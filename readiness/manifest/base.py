"""Building blocks shared by every manifest section: strict models, priorities, blocker metadata."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from readiness.priorities import Priority

__all__ = ["AuditedItem", "Blocker", "PhasePriority", "PriorityField", "StrictModel"]


def _parse_priority(value: object) -> Priority:
    if isinstance(value, str) and value in Priority.__members__:
        return Priority(value)
    raise ValueError(f"unknown priority {value!r} (expected P0, P1, P2 or P3)")


def _parse_priority_or_map(value: object) -> Priority | dict[str, Priority]:
    if isinstance(value, dict):
        return {str(phase): _parse_priority(p) for phase, p in value.items()}
    return _parse_priority(value)


PriorityField = Annotated[Priority, BeforeValidator(_parse_priority)]
#: A priority for every phase, or a table `{phase id = priority}` when it differs by phase.
PhasePriority = Annotated[Priority | dict[str, Priority], BeforeValidator(_parse_priority_or_map)]


class StrictModel(BaseModel):
    # inf and nan are valid TOML floats but would pass `ge=0` and make the JSON output invalid.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Blocker(StrictModel):
    """What a failure of this item means, for the blocker analysis."""

    impact: str = ""
    mitigation: str = ""
    workaround: str = ""
    action: str = ""
    #: Hours of delay to the phase if this blocker is open when it starts.
    delay_hours: float | None = Field(default=None, ge=0)

    def over(self, base: Blocker) -> Blocker:
        """This metadata, with blanks filled from `base` (item over criterion over defaults)."""
        if not self.model_fields_set:
            # Nothing of its own (most items): every such case shares the base's one object.
            return base
        merged = {k: (v if v not in ("", None) else getattr(base, k)) for k, v in self.model_dump().items()}
        return Blocker(**merged)


class AuditedItem(StrictModel):
    """Fields shared by every audited item."""

    #: Phases that need the item; empty means every phase.
    phases: list[str] = []
    priority: PhasePriority = Priority.P2
    #: Per-criterion priority overrides, e.g. `cli_flags = "P2"`.
    criteria: dict[str, PriorityField] = {}
    blocker: Blocker = Blocker()
    owner: str = ""

    @property
    def subject(self) -> str:
        """The name reports give the item; every section's model defines it."""
        return ""

    def needed_by(self, phase: str) -> bool:
        if isinstance(self.priority, dict):
            return phase in self.priority
        return not self.phases or phase in self.phases

    def priority_for(self, criterion: str, phase: str) -> Priority:
        """The priority of one case: an override for the criterion, else the item's for the phase.

        An item the audited phase does not need is still audited (it feeds the inventory), but
        at P3: its problems cannot delay this phase.
        """
        if criterion in self.criteria:
            return self.criteria[criterion]
        if not self.needed_by(phase):
            return Priority.P3
        if isinstance(self.priority, dict):
            return self.priority[phase]
        return self.priority

    def phase_ids(self) -> list[str]:
        return list(self.priority) if isinstance(self.priority, dict) else list(self.phases)
