"""Markdown building blocks shared by the documents: tables, cells, headers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reporting.audit import Audit

__all__ = ["cell", "dated", "header", "table"]


def cell(value: Any) -> str:
    """A table cell: pipes and newlines would break the row; markup must stay text; a tab would
    misalign it.

    Only `<` is escaped: it is what starts HTML in a Markdown viewer, and `>=` in a version
    specifier should stay readable in the raw file.
    """
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    text = str(value).replace("\t", " ").replace("\r", " ")
    return text.replace("<", "&lt;").replace("|", "\\|").replace("\n", "<br>")


def _text(value: str) -> str:
    """Running text (a heading): markup stays text, as in cells."""
    return value.replace("<", "&lt;")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub pipe table, aligned: the same text as tabulate's "github" format without number
    parsing (tests/test_markdown_table.py holds the two to the same output).

    Written here rather than by tabulate because tabulate infers a type and strips ANSI codes
    cell by cell: 0.17 s per 5,000-row table, and the documents have several such tables when a
    manifest is large (bench/: half of the results plugin's cost on 5,000 cases). Our cells are
    text already, so only the padding is left to do.
    """
    if not rows:
        return "_None._"
    head = [cell(h) for h in headers]
    body = [[cell(v).strip() for v in row] for row in rows]
    # tabulate's minimum: the header plus two, so a short header still gets a readable column.
    widths = [len(h) + 2 for h in head]
    for row in body:
        for i, text in enumerate(row):
            if len(text) > widths[i]:
                widths[i] = len(text)
    lines = [_row(head, widths), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [_row(row, widths) for row in body]
    return "\n".join(lines)


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "| " + " | ".join(text.ljust(width) for text, width in zip(cells, widths, strict=True)) + " |"


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
