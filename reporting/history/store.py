"""The history store interface: what one run leaves behind, and the reads the reports need.

A run is written once, by the controller, as one unit (one SQLite transaction, one BigQuery load
job), so a reader never sees half a run and two concurrent runs never interleave their rows.
Besides each case's outcome, a row carries the blocker's age forward (`first_seen`,
`consecutive_failures`, `previous_outcome`): the next run needs only the newest row of each case,
not the whole history, to know how long a blocker has been open.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass

__all__ = [
    "CaseEntry",
    "HistoryError",
    "HistoryStore",
    "RunEntry",
    "from_utc_text",
    "scope_key",
    "utc_text",
]


class HistoryError(Exception):
    """The store cannot be opened, read or written; the message says which and why (no secrets)."""


def scope_key(project: str, phase: str, markexpr: str, keyword: str) -> str:
    """Runs of the same scope are compared with each other (diff, trend, flapping).

    The manifest's path is left out on purpose: the nightly runs from a fresh checkout whose
    path changes, and it is still the same audit.
    """
    return f"{project}|{phase}|m={markexpr}|k={keyword}"


def utc_text(when: dt.datetime) -> str:
    """A timestamp as sortable text (SQLite compares them as strings)."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_utc_text(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class CaseEntry:
    """One case of one run, as history keeps it."""

    #: Stable identity across runs: `criterion:subject`.
    key: str
    criterion: str
    subject: str
    title: str
    #: The review's category: scripts, dependencies, infrastructure, data quality, naming.
    area: str
    category: str
    priority: str
    #: passed, failed, error, skipped or waived.
    outcome: str
    message: str
    owner: str
    #: "until YYYY-MM-DD (owner): reason" when a waiver applied; else "".
    waiver: str
    #: Start of the first run of the current failing streak; None while the case passes.
    first_seen: dt.datetime | None
    #: Failing runs in a row up to and including this one (0 when it passed).
    consecutive_failures: int
    #: The case's outcome in its previous recorded run ("" when this is its first).
    previous_outcome: str


@dataclass(frozen=True, slots=True)
class RunEntry:
    run_id: str
    project: str
    phase: str
    scope_key: str
    markexpr: str
    keyword: str
    manifest: str
    started: dt.datetime
    finished: dt.datetime
    verdict: str
    risk: str
    cases_run: int
    cases_total: int
    cases: tuple[CaseEntry, ...]

    def case(self, key: str) -> CaseEntry | None:
        for entry in self.cases:
            if entry.key == key:
                return entry
        return None


class HistoryStore(ABC):
    """Where runs are kept. Every method raises HistoryError, never a driver's exception."""

    #: Where the store is, fit to print (a path or bq://project.dataset.table; never a secret).
    location: str
    #: Rows the store holds but the suite cannot read (edited by hand, another version): left
    #: out of every answer, each named once here for a warning line.
    skipped: list[str]

    @abstractmethod
    def record(self, run: RunEntry) -> None:
        """Append one run with all its cases, atomically."""

    @abstractmethod
    def runs(
        self,
        project: str,
        phase: str,
        *,
        scope: str | None = None,
        before: dt.datetime | None = None,
        since: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[RunEntry]:
        """Runs of one project and phase (optionally one scope), newest first."""

    @abstractmethod
    def latest_cases(
        self, project: str, phase: str, before: dt.datetime | None = None
    ) -> dict[str, CaseEntry]:
        """The newest recorded row of every case of the project and phase, by key (any scope)."""

    def close(self) -> None:  # noqa: B027  (a store without resources has nothing to close)
        """Release connections."""
