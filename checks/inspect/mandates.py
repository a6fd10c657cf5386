"""Judging table and column names against a mandate family: pure functions over names.

Kept apart from the BigQuery snapshot so the same rules serve the naming and schema checks and
the dataset inventory (which marks each table compliant or not) without another API call.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from readiness.manifest.gcp import Family, Rename

__all__ = [
    "RenamesFileError",
    "TableVerdict",
    "in_family",
    "judge",
    "naming_message",
    "read_renames",
    "short_list",
]


class RenamesFileError(Exception):
    """The renames CSV cannot be read or has a bad row; the message names file and line."""


@dataclass(frozen=True, slots=True)
class TableVerdict:
    """How one table of a family measures up to the family's rules."""

    table: str
    name_ok: bool
    #: Columns whose names do not fullmatch the family's column pattern.
    bad_columns: tuple[str, ...]
    #: Required columns the table lacks.
    missing_columns: tuple[str, ...]

    @property
    def naming_ok(self) -> bool:
        return self.name_ok and not self.bad_columns

    @property
    def compliant(self) -> bool:
        return self.naming_ok and not self.missing_columns


def in_family(table: str, family: Family) -> bool:
    # The manifest documents `match` as searched case-insensitively: legacy tables of a family
    # differ from mandated ones mostly by case ("COV_EURUSD" vs "cov_eurusd"), and both belong.
    return re.search(family.match, table, re.IGNORECASE) is not None


def judge(table: str, columns: Sequence[str], family: Family) -> TableVerdict:
    name_ok = not family.table_pattern or re.fullmatch(family.table_pattern, table) is not None
    bad: tuple[str, ...] = ()
    if family.column_pattern:
        # Looked up once, not per column: a family's tables have some 20 columns each.
        column_ok = re.compile(family.column_pattern).fullmatch
        bad = tuple(c for c in columns if column_ok(c) is None)
    present = set(columns)
    missing = tuple(c for c in family.required_columns if c not in present)
    return TableVerdict(table, name_ok, bad, missing)


def short_list(items: Iterable[str], limit: int = 20, budget: int = 400, sep: str = ", ") -> str:
    """Items joined by `sep`, cut after `limit` items or about `budget` characters.

    A finding must stay one readable line even for 1,596 offenders; the full list goes into
    the case's facts, and the reporting side caps messages at 600 characters anyway.
    """
    items = list(items)
    shown: list[str] = []
    used = 0
    for item in items:
        if len(shown) >= limit or (shown and used + len(item) > budget):
            break
        shown.append(item)
        used += len(item) + len(sep)
    rest = len(items) - len(shown)
    return sep.join(shown) + (f"{sep}… and {rest:,} more" if rest else "")


def naming_message(family: str, bad: Sequence[TableVerdict], total: int) -> str:
    """ "COV: 1,596 of 1,596 tables non-compliant (cov_a, …)": the count in full, names cut."""
    return f"{family}: {len(bad):,} of {total:,} tables non-compliant ({short_list(_naming_entry(v) for v in bad)})"


def _naming_entry(verdict: TableVerdict) -> str:
    """A bare name is a bad table name; brackets name the bad columns of a table."""
    if not verdict.bad_columns:
        return verdict.table
    columns = short_list(verdict.bad_columns, limit=3, budget=60)
    name = "name, " if not verdict.name_ok else ""
    return f"{verdict.table} [{name}columns {columns}]"


def read_renames(path: Path, label: str) -> list[Rename]:
    """`old,new` rows of a renames file; a header row and blank lines are allowed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise RenamesFileError(f"{label}: cannot read the renames file ({reason})") from None
    renames = []
    for line, row in enumerate(csv.reader(text.splitlines()), start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or (line == 1 and [c.lower() for c in cells] == ["old", "new"]):
            continue
        if len(cells) != 2 or not all(cells):
            raise RenamesFileError(f"{label}:{line}: expected 'old,new', got {','.join(row)!r}")
        renames.append(Rename(old=cells[0], new=cells[1]))
    return renames
