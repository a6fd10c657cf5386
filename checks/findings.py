"""How a check reports what it found: a finding reads like a line of the audit, not a traceback."""

from __future__ import annotations

import datetime as dt
from typing import Any, NoReturn

import pytest

from readiness.statuses import ABSENT_FACT
from readiness.unverified import CheckError

__all__ = ["Unverified", "absent", "age_text", "finding", "unverified"]


# pytest.fail.Exception is pytest's public name for its failure type, which typing cannot see.
class Unverified(CheckError, pytest.fail.Exception):  # type: ignore[misc,name-defined]
    """Why a case could not be verified, reported as its message alone.

    A CheckError like any other (the results plugin reads it as unverified, never a finding),
    and to pytest a failure without traceback (`pytrace=False`): for any other exception pytest
    formats the traceback, reading and parsing the module of every frame, only for the results
    plugin to replace it by this one line.
    """

    def __init__(self, message: str) -> None:
        pytest.fail.Exception.__init__(self, message, pytrace=False)


def finding(message: str) -> NoReturn:
    """Fail the case with `message` as the whole report ("scripts/x.sh: not executable")."""
    __tracebackhide__ = True
    failure = pytest.fail.Exception(message, pytrace=False)
    # Raised from an `except` block, the caught error would be printed above the finding.
    failure.__suppress_context__ = True
    raise failure


def absent(facts: dict[str, Any], message: str) -> NoReturn:
    """A finding that the item itself does not exist: its status is MISSING, not BLOCKED."""
    __tracebackhide__ = True
    facts[ABSENT_FACT] = True
    finding(message)


def unverified(message: str) -> NoReturn:
    """The check could not run (no access, tool missing): an error, never a pass."""
    __tracebackhide__ = True
    raise Unverified(message) from None


def age_text(age: dt.timedelta) -> str:
    """An age the way a finding states it: "45 s", "12 min", "9.5 h", "9.0 days"."""
    seconds = age.total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 72 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
