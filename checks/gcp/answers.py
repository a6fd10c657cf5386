"""A read of one Google resource, named by a key, and its answer kept as plain data.

Several cases ask the same read (a job's three criteria, one get), a read may be made ahead of
its cases (checks/gcp/prefetch.py) and its answer may travel from the xdist controller to the
workers (checks/gcp/handover.py): so an answer is held as what the check would have seen, the
value or how the read ended (a finding, an unverified reason), never as a live exception.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from checks.findings import finding, unverified
from readiness.unverified import CheckError

if TYPE_CHECKING:
    from checks.gcp.access import GoogleAccess

__all__ = ["Ended", "Read", "recall_answer", "settle"]


@dataclass(frozen=True, slots=True)
class Read:
    #: Names the request and its resource; equal keys are one read per run.
    key: str
    #: The read itself, with the access of the thread that makes it.
    fetch: Callable[[GoogleAccess], Any]
    #: Reads another read's answer first (a job's latest execution needs the job): issued
    #: after the independent reads, so the one it waits for is already under way.
    chained: bool = False


class How(StrEnum):
    FINDING = "finding"
    API = "api"
    UNVERIFIED = "unverified"


@dataclass(frozen=True, slots=True)
class Ended:
    """A read that ended without a value: raised again, with the same text, for each case."""

    how: How
    text: str

    def raise_again(self) -> NoReturn:
        __tracebackhide__ = True
        from checks.gcp.errors import ApiCallError

        if self.how is How.FINDING:
            finding(self.text)
        if self.how is How.API:
            raise ApiCallError(self.text)
        unverified(self.text)


def settle(fetch: Callable[[GoogleAccess], Any], google: GoogleAccess) -> Any:
    """The read's value, or how it ended (`Ended`); any other exception is a bug and escapes."""
    from checks.gcp.errors import ApiCallError

    # Unverified errors first: they are pytest failures too (checks/findings.Unverified).
    try:
        return fetch(google)
    except ApiCallError as exc:
        return Ended(How.API, str(exc))
    except CheckError as exc:
        return Ended(How.UNVERIFIED, str(exc))
    except pytest.fail.Exception as exc:
        return Ended(How.FINDING, str(exc.msg))


def recall_answer(answer: Any) -> Any:
    __tracebackhide__ = True
    if isinstance(answer, Ended):
        answer.raise_again()
    return answer
