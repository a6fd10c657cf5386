"""How a check reports what it found: a finding reads like a line of the audit, not a traceback."""

from __future__ import annotations

import datetime as dt
import re
from typing import Final, NoReturn

import pytest

__all__ = ["CheckError", "age_text", "error_facts", "finding", "unverified"]

#: How checks/gcp/errors.describe words a call refused because its API is disabled.
_DISABLED: Final = re.compile(r"API (?P<service>[a-z0-9.-]+\.googleapis\.com) is disabled")


def finding(message: str) -> NoReturn:
    """Fail the case with `message` as the whole report ("scripts/x.sh: not executable")."""
    __tracebackhide__ = True
    failure = pytest.fail.Exception(message, pytrace=False)
    # Raised from an `except` block, the caught error would be printed above the finding.
    failure.__suppress_context__ = True
    raise failure


def unverified(message: str) -> NoReturn:
    """The check could not run (no access, tool missing): an error, never a pass."""
    __tracebackhide__ = True
    raise CheckError(message) from None


class CheckError(Exception):
    """Raised when a criterion cannot be verified; reported as an error with this message."""


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


def error_facts(message: str) -> dict[str, str]:
    """Facts an unverified case's message carries for its record: the disabled service (the
    message is what survives the caches and the xdist handover, so it is the one source)."""
    disabled = _DISABLED.search(message)
    return {"service_disabled": disabled["service"]} if disabled else {}
