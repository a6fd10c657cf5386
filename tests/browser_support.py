"""Debian's chromium, headless, on our HTML reports: the DOM after the page's scripts ran, a
screenshot, a PDF as printed. No other dependency. Install: `apt-get install -y chromium`
(about 80 s with apt-get update on a fresh Debian 12 image); without it the browser tests skip
with that reason (`needs_chromium`)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium not installed (Debian: apt-get update && apt-get install -y chromium)",
)


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp / "chromium-profile"
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--virtual-time-budget=5000", *args,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def dump_dom(tmp: Path, page: Path) -> str:
    proc = chromium(tmp, "--dump-dom", page.as_uri())
    assert proc.returncode == 0 and "<html" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


def with_script(page: Path, copy: Path, script: str) -> Path:
    """A copy of `page` (in the same folder, so relative links hold) that runs `script` once the
    page's own scripts ran: what a reader's click or choice would run."""
    text = page.read_text(encoding="utf-8")
    body = f'<script>window.addEventListener("load", () => setTimeout(() => {{ {script} }}, 0));</script>'
    copy.write_text(text.replace("</body>", body + "</body>"), encoding="utf-8")
    return copy


def screenshot(tmp: Path, page: Path, shot: Path, size: str = "1280,1000") -> Path:
    proc = chromium(tmp, f"--screenshot={shot}", f"--window-size={size}", page.as_uri())
    assert shot.is_file() and shot.stat().st_size > 10_000, proc.stderr[-2000:]
    return shot


def print_to_pdf(tmp: Path, page: Path, pdf: Path) -> Path:
    """The page as chromium prints it (its print stylesheet, A4 from the page's @page rule)."""
    proc = chromium(tmp, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    assert pdf.is_file() and pdf.stat().st_size > 1_000, proc.stderr[-2000:]
    return pdf


@dataclass
class Row:
    outcome: str
    cells: dict[str, str]
    #: Element tags inside the Subject cell (none: markup stayed text).
    subject_tags: list[str]
    #: The row's inline style (the column filters hide rows with display: none).
    style: str = ""

    @property
    def shown(self) -> bool:
        return "display: none" not in self.style


class _Rows(HTMLParser):
    """The results table's rows as rendered: outcome, cell texts by column class, tags in cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[Row] = []
        self._row: Row | None = None
        self._cell = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "tbody" and "results-table-row" in classes:
            outcome = next((c for c in classes if c != "results-table-row"), "")
            self._row = Row(outcome.lower(), {}, [], attributes.get("style") or "")
            self.rows.append(self._row)
        elif self._row is not None and tag == "td":
            col = next((c for c in classes if c.startswith("col-")), "")
            self._cell = col.removeprefix("col-")
            self._row.cells.setdefault(self._cell, "")
        elif self._row is not None and self._cell == "subject":
            self._row.subject_tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = ""
        elif tag == "tbody":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._row is not None and self._cell:
            self._row.cells[self._cell] += data


def rows(dom: str) -> list[Row]:
    """Rendered result rows (the <template> pytest-html clones rows from has no outcome)."""
    parser = _Rows()
    parser.feed(dom)
    return [r for r in parser.rows if r.outcome]
