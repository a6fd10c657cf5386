"""The recurring activities of the audit's cadence, and when one was missed.

The operational cadence escalates when a recurring activity is missed: the scheduled (nightly)
run, whose limit is the repository sync's (no run for more than 3 days), and the issue review
(more than one cycle after the previous one). Both are judged at the run's "now"
(`--readiness-now`, the review's `--now`) from what is on record: the newest run of the
scheduled run's scope in history, and the newest review file in the reviews folder. The expected
cadence is the manifest's `[cadence]` (readiness.manifest.Cadence).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from readiness.manifest import Cadence, LoadedManifest
from reporting.history.store import scope_key

__all__ = [
    "Activity",
    "ActivityStatus",
    "State",
    "last_review",
    "nightly_scope",
    "nightly_status",
    "review_status",
    "reviews_folder",
]

_REVIEW_FILE: Final = re.compile(r"^(\d{4}-\d{2}-\d{2})-issue-review\.md$")
#: A scheduled run drifts (a queue, a slow machine): it counts as missed only once half an
#: interval has passed beyond the next expected start.
_DRIFT: Final = 0.5


class Activity(StrEnum):
    NIGHTLY = "nightly run"
    REVIEW = "issue review"


class State(StrEnum):
    ON_SCHEDULE = "on schedule"
    #: Missed, not yet long enough to escalate.
    MISSED = "missed"
    ESCALATED = "escalated"
    #: Nothing on record to judge by.
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ActivityStatus:
    activity: Activity
    state: State
    #: When it last happened, as far as the record shows.
    last: dt.datetime | None
    #: One sentence, e.g. "no nightly run of this scope (full suite) for 4 days (...)".
    text: str
    #: What the cadence calls for ("" unless escalated).
    escalation: str = ""

    @property
    def missed(self) -> bool:
        return self.state in (State.MISSED, State.ESCALATED)

    def line(self) -> str:
        """ "ESCALATED nightly run: no nightly run ...; escalation: ..." (plain text)."""
        head = f"{self.state.value.upper()} {self.activity.value}" if self.missed else self.activity.value
        tail = f"; escalation: {self.escalation}" if self.escalation else ""
        return f"{head}: {self.text}{tail}"

    def to_json(self) -> dict[str, object]:
        return {
            "activity": self.activity.value,
            "state": self.state.value,
            "last": self.last.isoformat() if self.last else None,
            "text": self.text,
            "escalation": self.escalation,
        }


def nightly_scope(loaded: LoadedManifest) -> str:
    """The history scope key of the scheduled run (project, phase, its -m and -k)."""
    c = loaded.manifest.cadence
    return scope_key(loaded.manifest.project.name, loaded.phase.id, c.nightly_markexpr, c.nightly_keyword)


def _selection(cadence: Cadence) -> str:
    parts = [f"-m {cadence.nightly_markexpr!r}"] if cadence.nightly_markexpr else []
    parts += [f"-k {cadence.nightly_keyword!r}"] if cadence.nightly_keyword else []
    return " ".join(parts) or "full suite"


def _when(value: dt.datetime) -> str:
    return f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def _span(delta: dt.timedelta) -> str:
    """ "4 days" from two days on, else "36 h"."""
    days = delta.total_seconds() / 86400
    if days >= 2:
        return f"{int(days)} days"
    return f"{delta.total_seconds() / 3600:.0f} h"


def _every(hours: float) -> str:
    return "every day" if hours == 24 else f"every {hours:g} h"


def _escalate_to(owner: str) -> str:
    return f"escalate to {owner}" if owner else "escalate to the project lead"


def nightly_status(
    last: dt.datetime | None, now: dt.datetime, cadence: Cadence, history: bool, owner: str = ""
) -> ActivityStatus:
    """The scheduled run, from the start of its newest run before `now` (`history`: whether a
    store was read at all)."""
    scope = f"this scope ({_selection(cadence)})"
    if not history:
        return ActivityStatus(
            Activity.NIGHTLY, State.UNKNOWN, None, f"not known: no history store records the runs of {scope}"
        )
    if last is None:
        return ActivityStatus(Activity.NIGHTLY, State.UNKNOWN, None, f"no earlier run of {scope} on record")
    gap = now - last
    interval = dt.timedelta(hours=cadence.nightly_hours)
    limit = dt.timedelta(days=cadence.sync_days)
    expected = f"last {_when(last)}; expected {_every(cadence.nightly_hours)}"
    if gap > limit:
        return ActivityStatus(
            Activity.NIGHTLY,
            State.ESCALATED,
            last,
            f"no nightly run of {scope} for {_span(gap)} ({expected})",
            f"scheduled run missed for more than {cadence.sync_days:g} days, as late as a repository "
            f"sync may be: {_escalate_to(owner)}; restore the schedule and run the audit today",
        )
    if gap > interval * (1 + _DRIFT):
        return ActivityStatus(
            Activity.NIGHTLY,
            State.MISSED,
            last,
            f"no nightly run of {scope} for {_span(gap)} ({expected}); "
            f"escalates after {cadence.sync_days:g} days",
        )
    return ActivityStatus(Activity.NIGHTLY, State.ON_SCHEDULE, last, f"last run of {scope} {_when(last)}")


def reviews_folder(loaded: LoadedManifest) -> Path:
    """Where the issue reviews are written and looked for."""
    return loaded.path.parent / loaded.manifest.cadence.reviews


def last_review(folder: Path, before: dt.date, *, inclusive: bool = True) -> dt.date | None:
    """The date of the newest review file in `folder` on or before `before` (strictly before
    when not `inclusive`: the review being written today is not its own previous one)."""
    dates = []
    try:
        children = list(folder.iterdir()) if folder.is_dir() else []
    except OSError:
        children = []
    for child in children:
        match = _REVIEW_FILE.match(child.name)
        if match is None:
            continue
        try:
            day = dt.date.fromisoformat(match.group(1))
        except ValueError:
            continue  # 2026-13-45-issue-review.md is not a review date
        if day < before or (inclusive and day == before):
            dates.append(day)
    return max(dates) if dates else None


def review_status(
    last: dt.date | None, now: dt.datetime, cadence: Cadence, where: str, owner: str = ""
) -> ActivityStatus:
    """The issue review, from the date of the previous one (`where`: the folder, for the text)."""
    cycle = dt.timedelta(days=cadence.review_days)
    if last is None:
        return ActivityStatus(Activity.REVIEW, State.UNKNOWN, None, f"no issue review on file in {where}")
    held = dt.datetime.combine(last, dt.time(), tzinfo=dt.UTC)
    # A review is held on a day: the one due today is not late until the day is over.
    due = held + cycle
    cycle_text = f"every {cadence.review_days:g} days"
    if now.date() > due.date():
        return ActivityStatus(
            Activity.REVIEW,
            State.ESCALATED,
            held,
            f"previous issue review {last.isoformat()}, {_span(now - held)} ago: overdue since "
            f"{due.date().isoformat()} (one cycle: {cycle_text})",
            f"issue review more than one cycle late: {_escalate_to(owner)}; hold it now (readiness review)",
        )
    return ActivityStatus(
        Activity.REVIEW,
        State.ON_SCHEDULE,
        held,
        f"previous issue review {last.isoformat()}; next due {due.date().isoformat()} ({cycle_text})",
    )
