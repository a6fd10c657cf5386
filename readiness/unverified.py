"""A case that could not be verified: the error a check raises, and what its message tells."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["CheckError", "error_facts"]

#: How checks/gcp/errors.describe words a call refused because its API is disabled.
_DISABLED: Final = re.compile(r"API (?P<service>[a-z0-9.-]+\.googleapis\.com) is disabled")


class CheckError(Exception):
    """Raised when a criterion cannot be verified; reported as an error with this message."""


def error_facts(message: str) -> dict[str, str]:
    """Facts an unverified case's message carries for its record: the disabled service (the
    message is what survives the caches and the xdist handover, so it is the one source)."""
    disabled = _DISABLED.search(message)
    return {"service_disabled": disabled["service"]} if disabled else {}
