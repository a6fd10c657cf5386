"""How a check reports what it found: a finding reads like a line of the audit, not a traceback."""

from __future__ import annotations

from typing import NoReturn

import pytest

__all__ = ["CheckError", "finding", "unverified"]


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
