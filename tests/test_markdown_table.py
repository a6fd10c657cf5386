"""The documents' tables: our own pipe-table writer gives tabulate's "github" text, cell for cell.

The writer exists for speed (reporting/documents/markdown.py); tabulate is the reference it must
keep matching, so a reader of the Markdown sees the same aligned table either way.
"""

from __future__ import annotations

import random

import pytest
from tabulate import tabulate

from reporting.documents.markdown import cell, table

# Text a manifest or a check message can put in a cell: words, paths, versions, markup, pipes,
# line breaks, padding, accents (tabulate measures them as we do: one character, one column).
_ALPHABET = "abcXYZ019 _-./:<>|=\n\r\téüß\x1f"


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 14)))


def _reference(headers: list[str], rows: list[list[object]]) -> str:
    return tabulate(
        [[cell(v) for v in row] for row in rows],
        headers=[cell(h) for h in headers],
        tablefmt="github",
        disable_numparse=True,
    )


@pytest.mark.parametrize("seed", range(40))
def test_table_matches_tabulate_github_format(seed: int) -> None:
    rng = random.Random(seed)
    width = rng.randint(1, 6)
    headers = [_text(rng) for _ in range(width)]
    rows: list[list[object]] = [
        # Rows of text only (escaped row at a time) and mixed rows (cell by cell).
        [_text(rng) for _ in range(width)]
        if rng.random() < 0.5
        else [
            rng.choice([_text(rng), None, rng.randint(-5, 10**6), 3.25, ["a", "b|c"]]) for _ in range(width)
        ]
        for _ in range(rng.randint(1, 25))
    ]
    assert table(headers, rows) == _reference(headers, rows)


def test_table_aligns_columns_and_escapes_cells() -> None:
    text = table(["Script", "State"], [["a.py", "ok"], ["  long/path/b.sh\t", "x | <b>y</b>\nz"]])
    assert text.splitlines() == [
        "| Script         | State                    |",
        "|----------------|--------------------------|",
        "| a.py           | ok                       |",
        "| long/path/b.sh | x \\| &lt;b>y&lt;/b><br>z |",
    ]


def test_empty_table_says_none() -> None:
    assert table(["A"], []) == "_None._"
