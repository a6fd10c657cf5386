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
    table_inventory,
)

__all__ = ["file_names", "render_all", "results_file_name"]

_DOCUMENTS: tuple[tuple[Callable[[Audit], str], Callable[[Audit], str]], ...] = (
    (inventory.file_name, inventory.render),
    (phase.file_name, phase.render),
    (infrastructure.file_name, infrastructure.render),
    (dependencies.file_name, dependencies.render),
    (blockers.file_name, blockers.render),
    (summary.file_name, summary.render),
    (table_inventory.file_name, table_inventory.render),
)


def render_all(audit: Audit) -> dict[str, str]:
    """File name -> text of the six deliverables and the table inventory (all rendered before any
    file is written)."""
    return {name(audit): render(audit) for name, render in _DOCUMENTS}


def results_file_name(audit: Audit) -> str:
    """The machine-readable results written beside the documents."""
    return f"READINESS_RESULTS_{audit.run.date:%Y%m%d}.json"


def file_names(audit: Audit) -> list[str]:
    """The documents' names, without rendering them (the HTML page links to them)."""
    return [name(audit) for name, _ in _DOCUMENTS] + [results_file_name(audit)]
