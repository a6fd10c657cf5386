"""The standup page: the example pipeline's HTML report as the team opens it every morning.

The example (examples/bqx_demo) is audited twice with a history store, a day apart, as a CI
machine would (no Google credentials: its Google cases are unverified, several at P0), the
second time with a CI branch name carrying markup. Then headless chromium opens the page:

- the title names project, phase and verdict; the first listed blocker and the first table
  row are P0; pytest-html's outcome counts, the verdict box and the results JSON agree (an
  unverified P0 case is an error in all three); the trend image loads; the Priority filter
  leaves P0 rows only; the document links resolve; the markup in the branch name does not run;
- printed by chromium, the page is at most three A4 pages, the verdict on the first, the
  results table on none.

On a failure, a screenshot of the top of the page and the printed first page are kept under
`test-artifacts/<test name>/` (or `$READINESS_TEST_ARTIFACTS/<test name>/`), see the README.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser_support import CHROMIUM, dump_dom, needs_chromium, print_to_pdf, rows, screenshot, with_script

from conftest import REPO, AuditRun, run_shared

EXAMPLE = REPO / "examples" / "bqx_demo" / "readiness.toml"
TITLE = "Readiness: BQX ML V3 (example), phase 4C: NO-GO"
#: A CI branch name (pytest-metadata copies GIT_BRANCH into the environment table) whose
#: handler, if it ever ran, would leave a mark on the page.
HOSTILE_BRANCH = '<img src=x onerror="document.body.dataset.pwned=1">'
#: pytest-html's outcome filter and its label per audit outcome.
PAGE_OUTCOME = {
    "passed": "passed",
    "failed": "failed",
    "error": "error",
    "skipped": "skipped",
    "waived": "xfailed",
}


@dataclass
class Page:
    run: AuditRun
    html: Path
    work: Path

    @property
    def results(self) -> dict[str, Any]:
        return self.run.json()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    work = tmp_path_factory.mktemp("standup")
    history = f"--history={work / 'history.sqlite'}"
    first = run_shared(work / "yesterday", EXAMPLE, history)
    assert first.json()["history"]["status"] == "recorded", first.output[-3000:]
    html_path = work / "site" / "report.html"
    run = run_shared(
        work,
        EXAMPLE,
        history,
        "--readiness-now=2026-11-23T07:00:00",
        f"--html={html_path}",
        "--self-contained-html",
        env={"GIT_BRANCH": HOSTILE_BRANCH},
    )
    assert html_path.is_file(), run.output[-3000:]
    yield Page(run, html_path, work)


@pytest.fixture(scope="module")
def dom(page: Page) -> str:
    return dump_dom(page.work, page.html)


@pytest.fixture(scope="module")
def printed(page: Page) -> Path:
    return print_to_pdf(page.work, page.html, page.work / "printed.pdf")


@pytest.fixture(autouse=True)
def artefacts(request: pytest.FixtureRequest, page: Page) -> Iterator[None]:
    """On a failure, keep what a person would look at: the top of the page, the printed first page."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed == failed_before:
        return
    root = Path(os.environ.get("READINESS_TEST_ARTIFACTS") or REPO / "test-artifacts")
    folder = root / re.sub(r"[^\w.-]", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(page.html, folder / "report.html")
    if CHROMIUM is None:
        return
    screenshot(page.work, page.html, folder / "page-top.png")
    import pypdfium2

    pdf = pypdfium2.PdfDocument(print_to_pdf(page.work, page.html, folder / "printed.pdf"))
    pdf[0].render(scale=1.5).to_pil().save(folder / "printed-page-1.png")


def _first(pattern: str, text: str) -> str:
    found = re.search(pattern, text, re.S)
    assert found is not None, f"{pattern!r} not on the page"
    return found[1]


def _priorities(fragment: str) -> list[str]:
    return re.findall(r'class="prio prio-(P\d)"', fragment)


@needs_chromium
def test_title_names_project_phase_and_verdict(dom: str) -> None:
    assert _first(r"<title[^>]*>([^<]*)</title>", dom) == TITLE
    assert _first(r'<h1 id="title">([^<]*)</h1>', dom) == TITLE


@needs_chromium
def test_verdict_comes_first_and_the_first_listed_blocker_is_p0(page: Page, dom: str) -> None:
    summary = dom.index('id="readiness-verdict"')
    assert summary < dom.index('id="readiness-root-blockers"') < dom.index('id="results-table"')
    blockers = re.search(r'<ol id="readiness-root-blockers">(.*?)</ol>', dom, re.S)
    assert blockers is not None, "no blocker list on the page"
    listed = _priorities(blockers[1])
    assert listed[0] == "P0", listed
    assert listed == sorted(listed), "a P1 blocker is listed before a P0 one"
    first = re.search(r"<li[^>]*>(.*?)</li>", blockers[1], re.S)
    assert first is not None
    for part in (
        "owner ",
        "age ",
        " of 24 h SLA",
        "due 2026-11-23",
        "OVERDUE: P0 open &gt; 24 h: emergency meeting",
    ):
        assert part in first[1], (part, first[1])


@needs_chromium
def test_first_table_row_is_a_p0_case_and_rows_go_by_priority(page: Page, dom: str) -> None:
    shown = rows(dom)
    assert len(shown) == len(page.results["cases"])
    assert shown[0].cells["priority"] == "P0" and shown[0].outcome in ("error", "failed"), shown[0].cells
    priorities = [r.cells["priority"] for r in shown]
    assert priorities == sorted(priorities), "rows are not sorted by priority"
    p0_outcomes = [r.outcome for r in shown if r.cells["priority"] == "P0"]
    order = ["error", "failed", "skipped", "xfailed", "passed"]
    assert p0_outcomes == sorted(p0_outcomes, key=order.index), "P0 rows are not sorted by outcome"


@needs_chromium
def test_counts_agree_with_the_verdict(page: Page, dom: str) -> None:
    counts = page.results["counts"]
    totals = {o: sum(row[o] for row in counts.values()) for o in PAGE_OUTCOME}
    # pytest-html's own counters, above its table.
    bar = _first(r'<div class="filters">(.*?)</div>', dom)
    filters = {css: int(n) for css, n in re.findall(r'<span class="(\w+)">(\d+) [^<]*</span>', bar)}
    for outcome, css in PAGE_OUTCOME.items():
        assert filters[css] == totals[outcome], (outcome, filters, totals)
    # The verdict box's table says the same.
    box = re.search(r'<table id="readiness-blockers".*?</table>', dom, re.S)
    assert box is not None
    for outcome in PAGE_OUTCOME:
        shown = re.findall(rf'<td class="count-{outcome}">(\d+)</td>', box[0])
        assert sum(map(int, shown)) == totals[outcome], outcome
    # An unverified P0 case: an error in the verdict, the counts and its row.
    unverified = [c for c in page.results["cases"] if c["priority"] == "P0" and c["outcome"] == "error"]
    assert unverified and counts["P0"]["error"] == len(unverified)
    # One line per root cause, counting the cases folded under the P0 roots.
    reason = re.fullmatch(r"(\d+) P0 blockers? \((\d+) cases?\)", page.results["verdict"]["reasons"][0])
    assert reason is not None, page.results["verdict"]["reasons"]
    p0_roots = [r for r in page.results["roots"] if r["priority"] == "P0"]
    assert int(reason[1]) == len(p0_roots)
    assert int(reason[2]) == sum(1 + len(r["folded"]) for r in p0_roots)
    p0_error_rows = [r for r in rows(dom) if r.cells["priority"] == "P0" and r.outcome == "error"]
    assert len(p0_error_rows) == len(unverified)
    assert all(r.cells["status"] == "unverified" for r in p0_error_rows)


@needs_chromium
def test_trend_image_loads(page: Page) -> None:
    probe = with_script(
        page.html,
        page.html.with_name("trend-probe.html"),
        "const img = document.querySelector('#readiness-trend img');"
        "document.body.dataset.trend = img && img.complete ? `${img.naturalWidth}x${img.naturalHeight}` : 'none';",
    )
    measured = re.search(r'data-trend="([^"]*)"', dump_dom(page.work, probe))
    assert measured is not None and measured[1] != "none", "no trend image on the page"
    width, height = map(int, measured[1].split("x"))
    assert width >= 400 and height >= 200, measured[1]
    assert len(page.results["trend"]) == 2  # yesterday's run and this one


@needs_chromium
def test_priority_filter_leaves_only_p0_rows(page: Page, dom: str) -> None:
    probe = with_script(
        page.html,
        page.html.with_name("filter-probe.html"),
        "const s = document.querySelector('select.readiness-filter[data-column=\"priority\"]');"
        "s.value = 'P0'; s.dispatchEvent(new Event('change'));",
    )
    filtered = rows(dump_dom(page.work, probe))
    shown = [r for r in filtered if r.shown]
    p0 = sum(page.results["counts"]["P0"].values())
    assert len(shown) == p0 and all(r.cells["priority"] == "P0" for r in shown)
    assert len(filtered) == len(rows(dom)), "the filter hides rows; it does not remove them"


@needs_chromium
def test_document_links_are_relative_and_resolve(page: Page, dom: str) -> None:
    links = re.search(r'<ul id="readiness-documents">(.*?)</ul>', dom, re.S)
    assert links is not None
    hrefs = re.findall(r'href="([^"]+)"', links[1])
    assert any("AUDIT_SUMMARY" in h for h in hrefs) and any("READINESS_TREND" in h for h in hrefs), hrefs
    for href in hrefs:
        assert not href.startswith(("/", "file:", "http")), href
        assert (page.html.parent / href).is_file(), href


@needs_chromium
def test_ci_branch_with_markup_stays_text_and_never_runs(page: Page, dom: str) -> None:
    assert "data-pwned" not in dom, "the onerror handler in the CI branch name ran"
    assert not re.search(r"<img[^>]*onerror", dom), "an <img onerror> element was injected"
    environment = re.search(r'<table id="environment"[^>]*>(.*?)</table>', dom, re.S)
    assert environment is not None and html.escape(HOSTILE_BRANCH, quote=False) in environment[1]


def test_environment_values_are_escaped_in_the_page_data(page: Page) -> None:
    """Without a browser too: the value the page's script will insert is already text."""
    blob = re.search(r'data-jsonblob="([^"]*)"', page.html.read_text(encoding="utf-8"))
    assert blob is not None
    environment = json.loads(html.unescape(blob[1]))["environment"]
    assert environment["GIT_BRANCH"] == html.escape(HOSTILE_BRANCH)


@needs_chromium
def test_printed_summary_fits_three_a4_pages_verdict_first_without_the_table(
    page: Page, printed: Path
) -> None:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(printed)
    assert 1 <= len(pdf) <= 3, f"{len(pdf)} pages"
    width, height = pdf[0].get_size()
    assert (round(width), round(height)) == (595, 842), "not A4 (points)"
    text = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    first = " ".join(text[0].split())
    assert first.startswith(TITLE) and "Verdict: NO-GO (risk HIGH)" in first[:200], first[:300]
    assert "P0 and P1 blockers" in first
    everything = " ".join(" ".join(text).split())
    assert "SLA cadence" in everything and "Since the last run" in everything
    assert "check_script_exists[" not in everything, "the results table was printed"
