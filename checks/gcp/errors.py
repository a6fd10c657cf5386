"""API failures in one line: which API, which status, how many attempts. Never a pass."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, TypeVar

import google.auth.exceptions
import requests
from google.api_core import exceptions as api_exceptions

from checks.findings import CheckError

__all__ = ["ApiCallError", "api_call", "call", "describe"]

T = TypeVar("T")

#: Exceptions that mean "the API did not give an answer we can judge": the check is unverified.
_TRANSPORT: Final = (
    requests.exceptions.RequestException,
    ConnectionError,
    TimeoutError,
    google.auth.exceptions.TransportError,
    json.JSONDecodeError,
)


class ApiCallError(CheckError):
    """An API call failed in a way that leaves the criterion unverified."""


def describe(api: str, exc: BaseException, attempts: int | None = None) -> str:
    tries = f" after {attempts} attempt(s)" if attempts and attempts > 1 else ""
    if isinstance(exc, api_exceptions.RetryError):
        cause = exc.cause
        base = describe(api, cause) if cause is not None else f"{api}: retries exhausted"
        return f"{base} (retry deadline exceeded)"
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        code = exc.code if exc.code is not None else "?"
        message = (exc.message or "").split("\n", 1)[0][:200]
        return f"{api}: HTTP {code} {type(exc).__name__}{tries}: {message}"
    if isinstance(exc, google.auth.exceptions.GoogleAuthError):
        first = exc.args[0] if exc.args else exc
        return f"{api}: authentication failed{tries}: {str(first).splitlines()[0][:200]}"
    if isinstance(exc, requests.exceptions.Timeout | TimeoutError):
        return f"{api}: no answer within the deadline{tries}"
    if isinstance(exc, requests.exceptions.ConnectionError | ConnectionError):
        return f"{api}: connection failed{tries} ({type(exc).__name__})"
    if isinstance(exc, ValueError | json.JSONDecodeError):
        return f"{api}: malformed response{tries} ({type(exc).__name__}: {str(exc)[:120]})"
    return f"{api}: {type(exc).__name__}{tries}: {str(exc)[:200]}"


@contextmanager
def api_call(api: str) -> Iterator[None]:
    """Turn any failure of the calls inside into ApiCallError naming the API and status.

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
        raise ApiCallError(describe(api, exc)) from None


def call(api: str, fn: Callable[[], T]) -> T:
    with api_call(api):
        return fn()
