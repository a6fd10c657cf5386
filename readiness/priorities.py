"""Priorities P0..P3, their meaning and their resolution SLAs."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Final

__all__ = ["PRIORITY_MEANING", "SLA", "Priority"]


class Priority(StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"

    @property
    def marker(self) -> str:
        """The pytest marker name that selects cases of this priority (`pytest -m p0`)."""
        return self.value.lower()

    @property
    def rank(self) -> int:
        return int(self.value[1])


#: What each priority means for execution (the audit's definitions).
PRIORITY_MEANING: Final[dict[Priority, str]] = {
    Priority.P0: "prevents execution entirely",
    Priority.P1: "prevents part of execution or makes it high-risk",
    Priority.P2: "slows execution or raises its cost",
    Priority.P3: "minor",
}

#: Resolution SLA per priority.
SLA: Final[dict[Priority, timedelta]] = {
    Priority.P0: timedelta(hours=24),
    Priority.P1: timedelta(weeks=1),
    Priority.P2: timedelta(weeks=2),
    Priority.P3: timedelta(days=30),
}
