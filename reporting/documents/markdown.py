"""Markdown building blocks shared by the documents: tables, cells, headers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from reporting.audit import Audit

__all__ = ["cell", "dated", "header", "table"]


def cell(value: Any) -> str:
    """A table cell: pipes and newlines would break the row; markup must stay text.

    Only `<` is escaped: it is what starts HTML in a Markdown viewer, and `>=` in a version
    specifier should stay readable in the raw file.
    """
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    text = str(value)
    return text.replace("<", "&lt;").replace("|", "\\|").replace("\r", " ").replace("\n", "<br>")


def _text(value: str) -> str:
    """Running text (a heading): markup stays text, as in cells."""
    return value.replace("<", "&lt;")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    if not rows:
        return "_None._"
    # Cells are already text; tabulate's number parsing would only re-align them, at three
    # times the cost on a 5,000-row table (bench/: reports were 14% of a nightly run).
    return tabulate(
        [[cell(v) for v in row] for row in rows],
        headers=list(headers),
        tablefmt="github",
        disable_numparse=True,
    )


def dated(audit: Audit, stem: str) -> str:
    return f"{stem}_{audit.run.date:%Y%m%d}.md"


def header(audit: Audit, title: str) -> str:
    m = audit.loaded.manifest
    phase = audit.loaded.phase
    return "\n".join(
        [
            f"# {_text(title)}",
            "",
            f"- Project: {cell(m.project.name)}",
            f"- Phase under audit: {cell(phase.id)}: {cell(phase.name)} (planned start {phase.start.isoformat()})",
            f"- Audit date: {audit.run.date.isoformat()} (run {audit.run.run_id})",
            f"- Verdict: **{audit.verdict.verdict.value}** (risk {audit.verdict.risk.value})",
            f"- Scope: {audit.scope.describe()}",
            "",
        ]
    )
