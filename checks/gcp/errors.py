"""API failures in one line: which API, which status, how many attempts. Never a pass."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, TypeVar

import google.auth.exceptions
import requests
from google.api_core import exceptions as api_exceptions
from google.protobuf import json_format

from checks.findings import Unverified

__all__ = [
    "ApiCallError",
    "api_call",
    "attempts_made",
    "denied_permission",
    "describe",
    "note_attempts",
    "recall",
    "remember",
    "service_disabled",
]

T = TypeVar("T")

#: Exceptions that mean "the API did not give an answer we can judge": the check is unverified.
_TRANSPORT: Final = (
    requests.exceptions.RequestException,
    ConnectionError,
    TimeoutError,
    google.auth.exceptions.TransportError,
    json.JSONDecodeError,
    # The REST transport of the gapic clients (Run, Quotas, Service Usage, Resource Manager)
    # parses a 200 reply with protobuf: a truncated body raises this, not a ValueError.
    json_format.ParseError,
)


#: Set on each failed attempt of a retried call (GoogleAccess.read_retry): attempts made so far.
_ATTEMPTS: Final = "readiness_attempts"


#: Google's 403 text when IAM refuses a call: "Permission 'run.jobs.get' denied on resource ...".
_DENIED: Final = re.compile(r"Permission '(?P<permission>[^']+)' denied")


class ApiCallError(Unverified):
    """An API call failed in a way that leaves the criterion unverified."""


def service_disabled(exc: BaseException) -> str | None:
    """The service named by a SERVICE_DISABLED refusal (google.rpc.ErrorInfo), else None."""
    if not isinstance(exc, api_exceptions.GoogleAPICallError) or exc.reason != "SERVICE_DISABLED":
        return None
    service = (exc.metadata or {}).get("service")
    return str(service) if service else "its service"


def denied_permission(exc: BaseException) -> str | None:
    """The permission a 403 names (IAM's message, or ErrorInfo's metadata), else None."""
    if not isinstance(exc, api_exceptions.Forbidden):
        return None
    named = (exc.metadata or {}).get("permission") if exc.reason == "IAM_PERMISSION_DENIED" else None
    if named:
        return str(named)
    found = _DENIED.search(exc.message or "")
    return found["permission"] if found else None


def note_attempts(exc: BaseException, attempts: int) -> None:
    """Record on a failure how many attempts its call had made when it happened."""
    setattr(exc, _ATTEMPTS, attempts)


def attempts_made(exc: BaseException) -> int:
    """Attempts of the call that ended in `exc`: the count its retry noted, else 1 (a call made
    without retry, such as a probe's write, is sent exactly once)."""
    cause = exc.cause if isinstance(exc, api_exceptions.RetryError) else None
    for failure in (exc, cause):
        noted = getattr(failure, _ATTEMPTS, None)
        if isinstance(noted, int) and noted > 0:
            return noted
    return 1


def _tries(attempts: int) -> str:
    return f" after {attempts} attempt{'s' if attempts != 1 else ''}"


def describe(api: str, exc: BaseException, attempts: int | None = None, who: str = "") -> str:
    """One line: the API, the status (or what went wrong on the wire), the attempts made.

    A 4xx other than 408/429 is the API's answer, not an outage: it is never retried, so its
    line carries no attempt count (it often becomes a finding's text). A disabled API and a
    missing permission are said as such: neither says anything about the resource.
    """
    made = attempts if attempts is not None else attempts_made(exc)
    tries = _tries(made)
    if isinstance(exc, api_exceptions.RetryError):
        cause = exc.cause
        base = describe(api, cause, made, who) if cause is not None else f"{api}: retries exhausted{tries}"
        return f"{base} (retry deadline exceeded)"
    disabled = service_disabled(exc)
    if disabled:
        return (
            f"{api}: API {disabled} is disabled on the project (HTTP 403 SERVICE_DISABLED); see api_enabled"
        )
    permission = denied_permission(exc)
    if permission:
        return f"{api}: cannot verify: {who or 'the caller'} lacks {permission} (HTTP 403)"
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        code = exc.code if exc.code is not None else "?"
        message = (exc.message or "").split("\n", 1)[0][:200]
        answered = isinstance(code, int) and 400 <= code < 500 and code not in (408, 429)
        return f"{api}: HTTP {code} {type(exc).__name__}{'' if answered else tries}: {message}"
    if isinstance(exc, google.auth.exceptions.GoogleAuthError):
        first = exc.args[0] if exc.args else exc
        return f"{api}: authentication failed{tries}: {str(first).splitlines()[0][:200]}"
    if isinstance(exc, requests.exceptions.Timeout | TimeoutError):
        return f"{api}: no answer within the deadline{tries}"
    if isinstance(exc, requests.exceptions.ConnectionError | ConnectionError):
        return f"{api}: connection failed{tries} ({type(exc).__name__})"
    if isinstance(exc, ValueError | json_format.ParseError):
        return f"{api}: malformed response{tries} ({type(exc).__name__}: {str(exc)[:120]})"
    return f"{api}: {type(exc).__name__}{tries}: {str(exc)[:200]}"


@contextmanager
def api_call(api: str, who: str = "") -> Iterator[None]:
    """Turn any failure of the calls inside into ApiCallError naming the API and status
    (`who`: the identity a 403 names as lacking the permission).

    NotFound and Forbidden are answers, not failures: catch them inside when they mean a
    finding ("dataset not found"); anything that escapes here leaves the case unverified.
    """
    try:
        yield
    except (
        api_exceptions.GoogleAPIError,
        google.auth.exceptions.GoogleAuthError,
        *_TRANSPORT,
        ValueError,
    ) as exc:
        raise ApiCallError(describe(api, exc, who=who)) from None


def remember(load: Callable[[], T]) -> T | str:
    """An answer to keep for every case that asks the same: the value, or the failure's message
    (kept as text, so each case raises it afresh with its own traceback)."""
    try:
        return load()
    except ApiCallError as exc:
        return str(exc)


def recall(cached: T | str) -> T:
    """What `remember` kept: the value, or the failure raised again."""
    if isinstance(cached, str):
        raise ApiCallError(cached)
    return cached
