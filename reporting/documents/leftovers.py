"""Scratch objects still present after the run, as the summary and the blocker analysis name them."""

from __future__ import annotations

from reporting.audit import Audit
from reporting.documents.markdown import cell

__all__ = ["leftover_lines"]


def leftover_lines(audit: Audit) -> list[str]:
    """One line per scratch object a probe could not remove and found still there afterwards."""
    if not audit.leftovers:
        return ["- None: no scratch object of this run was found left behind."]
    return [f"- {cell(x.describe())}" for x in audit.leftovers]
