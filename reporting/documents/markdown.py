"""Markdown building blocks shared by the documents: tables, cells, headers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from reporting.audit import Audit

__all__ = ["cell", "dated", "header", "table", "verdict_text"]


def _escape(text: str) -> str:
    return (
        text.replace("\t", " ")
        .replace("\r", " ")
        .replace("<", "&lt;")
        .replace("|", "\\|")
        .replace("\n", "<br>")
    )


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
    return _escape(str(value))


#: Joins a row's cells so they are escaped in one go (see _row_cells): a control character that
#: the manifest refuses and no check writes.
_SEPARATOR: Final = "\x1f"


def _row_cells(row: Sequence[Any]) -> list[str]:
    """`cell(value).strip()` for every value of a row. A 5,000-row table has 30,000 cells, so a
    row of text is escaped as one string; a row with other values, or with the separator in a
    value, takes the cell-by-cell way."""
    try:
        text: str | None = _SEPARATOR.join(row)
    except TypeError:
        text = None
    if text is None or text.count(_SEPARATOR) != len(row) - 1:
        return [cell(v).strip() for v in row]
    return list(map(str.strip, _escape(text).split(_SEPARATOR)))


def _text(value: str) -> str:
    """Running text (a heading): markup stays text, as in cells."""
    return value.replace("<", "&lt;")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub pipe table, aligned: the same text as tabulate's "github" format without number
    parsing (tests/test_markdown_table.py holds the two to the same output).

    Written here rather than by tabulate because tabulate infers a type and strips ANSI codes
    cell by cell, and the documents have several tables of one row per case when a manifest is
    large. Our cells are text already, so only the padding is left to do.
    """
    if not rows:
        return "_None._"
    head = [cell(h) for h in headers]
    body = [_row_cells(row) for row in rows]
    # tabulate's minimum: the header plus two, so a short header still gets a readable column.
    widths = [
        max(len(h) + 2, max(map(len, column)))
        for h, column in zip(head, zip(*body, strict=True), strict=True)
    ]
    # One format call per row: str.format pads in C what a loop over cells would pad in Python.
    row = "| " + " | ".join(f"{{:<{w}}}" for w in widths) + " |"
    lines = [row.format(*head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [row.format(*cells) for cells in body]
    return "\n".join(lines)


def verdict_text(audit: Audit) -> str:
    """ "**GO** for the repository checks; infrastructure not audited (risk LOW)"."""
    value = audit.verdict.verdict.value
    rest = audit.verdict_line.removeprefix(value)
    return f"**{value}**{_text(rest)} (risk {audit.verdict.risk.value})"


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
            f"- Verdict: {verdict_text(audit)}",
            f"- Scope: {audit.scope.describe()}",
            "",
        ]
    )
