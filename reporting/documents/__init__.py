"""The audit's documents, one module each; `render_all` gives every file name and its text."""

from __future__ import annotations

from collections.abc import Callable

from reporting.audit import Audit
from reporting.documents import (
    blockers,
    dependencies,
    infrastructure,
    inventory,
    phase,
    summary,
)

__all__ = ["render_all"]

_DOCUMENTS: tuple[tuple[Callable[[Audit], str], Callable[[Audit], str]], ...] = (
    (inventory.file_name, inventory.render),
    (phase.file_name, phase.render),
    (infrastructure.file_name, infrastructure.render),
    (dependencies.file_name, dependencies.render),
    (blockers.file_name, blockers.render),
    (summary.file_name, summary.render),
)


def render_all(audit: Audit) -> dict[str, str]:
    """File name -> Markdown text for the six deliverables (rendered fully before any write)."""
    return {name(audit): render(audit) for name, render in _DOCUMENTS}
