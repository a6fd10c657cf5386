"""The HTML report in a real browser: Debian's chromium, headless, with the report's own JavaScript.

pytest-html 4 builds its results table in the browser from a JSON blob, so only a browser shows
what a reader sees: the verdict banner, the Priority/Category/Subject columns, the outcome
filter (unchecking "passed" removes passed rows), and a subject with markup staying text.

chromium is driven with `--dump-dom` after its virtual time budget (the DOM after the scripts
ran); the "passed" checkbox is clicked by a script appended to a copy of the report, which runs
the same handler a reader's click does (tests/browser_support.py; without chromium these tests
skip, saying how to install it).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser_support import chromium, dump_dom, needs_chromium, rows, with_script

from conftest import AuditRun, TargetRepo, run_shared

pytestmark = needs_chromium

MARKUP_SUBJECT = "<img src=x onerror=alert(1)>.py"


@dataclass
class Report:
    run: AuditRun
    html: Path
    work: Path


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Report]:
    work = tmp_path_factory.mktemp("html")
    target = TargetRepo(work / "target")
    target.write("ok.py", "print('ok')\n")
    target.write(MARKUP_SUBJECT, "print('markup in my name')\n")
    target.write("run.sh", "#!/bin/bash\necho run\n", mode=0o644)
    manifest = target.manifest(
        f"""
        [[scripts]]
        path = "ok.py"
        purpose = "Fine"
        category = "analysis"
        priority = "P1"

        [[scripts]]
        path = "{MARKUP_SUBJECT}"
        purpose = "Name with markup"
        category = "validation"

        [[scripts]]
        path = "run.sh"
        purpose = "Not executable: a P0 failure"
        category = "deployment"
        priority = "P0"

        [[scripts]]
        path = "missing.py"
        purpose = "Missing"
        category = "generation"
        priority = "P2"
        """
    )
    html = work / "report.html"
    run = run_shared(work, manifest, f"--html={html}", "--self-contained-html")
    assert html.is_file(), run.output
    yield Report(run, html, work)


@pytest.fixture(scope="module")
def dom(report: Report) -> str:
    return dump_dom(report.work, report.html)


def test_verdict_banner_and_priority_columns_render(report: Report, dom: str) -> None:
    banner = re.search(r"<div id=\"readiness-verdict\".*?</div>", dom, re.S)
    assert banner is not None, "verdict banner missing from the rendered page"
    assert "Verdict: NO-GO" in banner.group(0)
    assert '<table id="readiness-blockers"' in banner.group(0)
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", dom)
    for name in ("Priority", "Category", "Subject"):
        assert name in headers, headers
    rendered = rows(dom)
    assert len(rendered) == len(report.run.json()["cases"]), [r.cells for r in rendered]
    shell = [r for r in rendered if r.cells.get("subject") == "run.sh" and r.outcome == "failed"]
    assert shell and shell[0].cells["priority"] == "P0" and shell[0].cells["category"] == "deployment"


def test_unchecking_passed_hides_passed_rows(report: Report, dom: str, tmp_path: Path) -> None:
    before = rows(dom)
    outcomes = {r.outcome for r in before}
    assert {"passed", "failed"} <= outcomes, outcomes
    clicked = with_script(
        report.html,
        report.work / "clicked.html",
        """document.querySelector('input.filter[data-test-result="passed"]').click();""",
    )
    after = rows(dump_dom(tmp_path, clicked))
    assert after, "every row vanished: the filter hid more than 'passed'"
    assert {r.outcome for r in after} == outcomes - {"passed"}
    assert len(after) == sum(1 for r in before if r.outcome != "passed")


def test_subject_with_markup_stays_text(dom: str) -> None:
    assert not re.search(r"<img[^>]*onerror", dom), "an <img onerror> element was injected"
    mine = [r for r in rows(dom) if r.cells.get("subject") == MARKUP_SUBJECT]
    assert mine, "the subject with markup is not shown as its own text"
    assert all(r.subject_tags == [] for r in mine)
    assert any(MARKUP_SUBJECT in r.cells.get("testId", "") for r in mine)


def test_screenshot(report: Report, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    proc = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,1000", report.html.as_uri())
    assert shot.is_file() and shot.stat().st_size > 10_000, proc.stderr[-2000:]
    keep = Path("/tmp/readiness-report-screenshot.png")
    shutil.copyfile(shot, keep)
