"""pytest-html additions: the verdict and blocker counts at the top, Priority/Category/Subject
columns in the results table. Every value we insert is escaped: subjects come from the manifest
and may contain markup."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import pytest

from checks.priority import Priority
from checks.textsafe import safe_text

if TYPE_CHECKING:
    from reporting.plugin import ReadinessPlugin

__all__ = ["HtmlColumns", "scrub_metadata"]


def scrub_metadata(metadata: dict[str, Any]) -> None:
    """Drop credentials from URLs in pytest-metadata's values, in place.

    pytest-metadata copies CI variables such as GIT_URL or CIRCLE_REPOSITORY_URL by name into
    the HTML environment table and the `-v` header; a clone URL often carries a token, and
    pytest-html's environment_table_redact_list matches names, not values.
    """
    for key, value in metadata.items():
        if isinstance(value, dict):
            scrub_metadata(value)
        elif isinstance(value, str):
            metadata[key] = safe_text(value, newlines=False)


_COLOURS = {"GO": "#1a7f37", "CONDITIONAL GO": "#9a6700", "NO-GO": "#cf222e"}


class HtmlColumns:
    def __init__(self, plugin: ReadinessPlugin) -> None:
        self.plugin = plugin

    def pytest_configure(self, config: pytest.Config) -> None:
        # Registered during configure, this runs at once (historic hook): after pytest-metadata
        # filled its stash, before the header and the report use it. Workers scrub their own
        # copy, which is the object they send to the controller.
        try:
            from pytest_metadata.plugin import metadata_key  # type: ignore[import-untyped]
        except ImportError:
            return
        metadata = config.stash.get(metadata_key, None)
        if metadata:
            scrub_metadata(metadata)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: Any
    ) -> None:
        if not self.plugin.controller:
            return
        audit = self.plugin.build()
        verdict = audit.verdict
        counts = audit.counts
        rows = "".join(
            f"<tr><td>{p.value}</td><td class='open-{p.value}'>{sum(n for o, n in counts[p].items() if o.is_open)}</td>"
            f"<td>{sum(counts[p].values())}</td></tr>"
            for p in Priority
        )
        colour = _COLOURS[verdict.verdict.value]
        prefix.append(
            f"<div id='readiness-verdict' style='border:3px solid {colour};padding:8px;margin:8px 0'>"
            f"<h2 style='color:{colour};margin:0'>Verdict: {escape(verdict.verdict.value)} "
            f"(risk {escape(verdict.risk.value)})</h2>"
            f"<p>{escape(' '.join(verdict.reasons))}</p>"
            f"<p>Scope: {escape(audit.scope.describe())}</p>"
            f"<table id='readiness-blockers'><tr><th>Priority</th><th>Open blockers</th><th>Cases</th></tr>{rows}</table>"
            "</div>"
        )

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(1, '<th class="sortable" data-column-type="priority">Priority</th>')
        cells.insert(2, '<th class="sortable" data-column-type="category">Category</th>')
        cells.insert(3, '<th class="sortable" data-column-type="subject">Subject</th>')

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        record = self.plugin.records.get(report.nodeid)
        # pytest-html writes the test id unescaped; a parametrized id may carry markup.
        if len(cells) > 1 and report.nodeid:
            test_id = report.nodeid + ("" if report.when == "call" else f"::{report.when}")
            cells[1] = f'<td class="col-testId">{escape(test_id)}</td>'
        priority, category, subject = (
            (record.priority.value, record.category, record.subject) if record is not None else ("", "", "")
        )
        cells.insert(1, f'<td class="col-priority">{escape(priority)}</td>')
        cells.insert(2, f'<td class="col-category">{escape(category)}</td>')
        cells.insert(3, f'<td class="col-subject">{escape(subject)}</td>')
