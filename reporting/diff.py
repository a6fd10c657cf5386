"""What changed since the last run of the same scope, and which cases keep changing.

- new: open now; absent from the last run, or waived there (its waiver lapsed);
- regressions: open now, passed in the last run;
- still open: open in both;
- resolved: open in the last run, passes now;
- newly waived: open in the last run, waived now;
- flapping: changed between open and not open at least FLAP_CHANGES times over the last N runs
  (N = history.trend_runs, this run included). Flapping is a mark on top of the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Final

from readiness.records import Outcome
from reporting.history.store import RunEntry

__all__ = ["FLAP_CHANGES", "RunDiff", "diff_runs"]

#: "Changed state in several of the last N runs": fail, pass, fail, pass is three changes.
FLAP_CHANGES: Final = 3


def _open(outcome: str) -> bool:
    return Outcome(outcome).is_open


@dataclass(slots=True)
class RunDiff:
    #: The run compared against; "" when this scope has no earlier run.
    previous_run: str = ""
    previous_started: str = ""
    new: list[str] = field(default_factory=list)
    regressions: list[str] = field(default_factory=list)
    still_open: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    newly_waived: list[str] = field(default_factory=list)
    flapping: list[str] = field(default_factory=list)

    def change(self, key: str) -> str:
        """The one-word change of a case, for its row in the blocker analysis."""
        for label, keys in (
            ("new", self.new),
            ("regression", self.regressions),
            ("still open", self.still_open),
            ("resolved", self.resolved),
            ("newly waived", self.newly_waived),
        ):
            if key in keys:
                return label
        return ""

    def to_json(self) -> dict[str, object]:
        return {
            "previous_run": self.previous_run or None,
            "previous_started": self.previous_started or None,
            "new": self.new,
            "regressions": self.regressions,
            "still_open": self.still_open,
            "resolved": self.resolved,
            "newly_waived": self.newly_waived,
            "flapping": self.flapping,
        }


def diff_runs(current: dict[str, Outcome], earlier: list[RunEntry], window: int) -> RunDiff:
    """Compare this run's outcomes (key -> outcome) with earlier runs of its scope, newest first."""
    diff = RunDiff()
    if earlier:
        last = earlier[0]
        diff.previous_run = last.run_id
        diff.previous_started = last.started.isoformat()
        before = {c.key: c.outcome for c in last.cases}
        for key, outcome in sorted(current.items()):
            prev = before.get(key)
            if outcome.is_open:
                if prev is None or prev == Outcome.WAIVED.value:
                    diff.new.append(key)
                elif prev == Outcome.PASSED.value:
                    diff.regressions.append(key)
                else:
                    diff.still_open.append(key)
            elif prev is not None and _open(prev):
                (diff.resolved if outcome is Outcome.PASSED else diff.newly_waived).append(key)
    else:
        diff.new = sorted(k for k, o in current.items() if o.is_open)
    runs = list(reversed(earlier[: window - 1]))  # oldest first, this run last
    for key, outcome in sorted(current.items()):
        entries = [r.case(key) for r in runs]
        states = [_open(e.outcome) for e in entries if e is not None]
        states.append(outcome.is_open)
        changes = sum(1 for a, b in pairwise(states) if a != b)
        if changes >= FLAP_CHANGES:
            diff.flapping.append(key)
    return diff
