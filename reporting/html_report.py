"""The standup page, built through pytest-html's hooks on its own page.

- Title "Readiness: <project>, phase <id>: <verdict>" (pytest_html_report_title; the verdict is
  known only at the end, so the title is set again when the summary is made).
- The summary (reporting.standup) at the top, a print stylesheet and the column filters
  (reporting/html_assets/), all inline: the file stays self-contained.
- The results table: Priority, Status, Age, Owner, Subject and Category columns, sorted by
  priority then outcome.

pytest-html draws a row as each case ends, but waivers and ages are decided once the run is over
(reporting.audit), so the rows are finished when the summary is made, from the audit: each
case's Result becomes the audit's outcome (an unverified case is an Error, a waived one a
"Waived" expected failure) and pytest-html's counts are recounted from those rows, so the page
counts what the verdict counts. Every value inserted is escaped: subjects, owners and messages
come from the manifest and the repository, environment values from the CI.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from readiness.priorities import Priority
from readiness.records import CaseRecord, Outcome
from readiness.textsafe import safe_text
from reporting import standup, trend
from reporting.aging import SlaStatus, format_age
from reporting.audit import Audit
from reporting.documents import file_names

if TYPE_CHECKING:
    from reporting.plugin import ReadinessPlugin

__all__ = ["HtmlColumns", "escape_environment", "scrub_metadata"]

_ASSETS: Final = Path(__file__).parent / "html_assets"


#: The audit's outcome as pytest-html's result: its label, filter and colour.
_RESULT: Final = {
    Outcome.ERROR: "Error",
    Outcome.FAILED: "Failed",
    Outcome.SKIPPED: "Skipped",
    Outcome.WAIVED: "XFailed",
    Outcome.PASSED: "Passed",
}
#: Within a priority, the rows' order: what blocks and was not verified first.
_OUTCOME_ORDER: Final = {o: i for i, o in enumerate(_RESULT)}
#: The Status column: what the audit says of the case, in the team's words.
_STATUS: Final = {
    Outcome.ERROR: "unverified",
    Outcome.FAILED: "failed",
    Outcome.SKIPPED: "not run",
    Outcome.WAIVED: "waived",
    Outcome.PASSED: "passed",
}
#: (column type, header) of the columns added after Result; those with a filter are marked.
_COLUMNS: Final = (
    ("priority", "Priority"),
    ("status", "Status"),
    ("age", "Age"),
    ("owner", "Owner"),
    ("subject", "Subject"),
    ("category", "Category"),
)
_FILTERED: Final = ("priority", "status", "age", "owner")


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


def escape_environment(metadata: dict[str, Any]) -> dict[str, Any]:
    """A copy of the environment table's data whose values are text, not markup.

    pytest-html's script puts each value (and each key of a nested value) into the page as HTML,
    so a CI branch named `<img src=x onerror=...>` ran in the reader's browser (issue 13). The
    top-level keys are set as text by that script; everything else is escaped here.
    """
    escaped: dict[str, Any] = {}
    for key, value in metadata.items():
        if isinstance(value, dict):
            escaped[key] = {escape(str(k)): _escaped_value(v) for k, v in value.items()}
        else:
            escaped[key] = _escaped_value(value)
    return escaped


def _escaped_value(value: Any) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list | tuple):
        return escape(", ".join(str(v) for v in value))
    return escape(str(value))


def _asset(name: str) -> str:
    return (_ASSETS / name).read_text(encoding="utf-8")


def _age(audit: Audit | None, record: CaseRecord) -> tuple[str, str, str]:
    """(text, filter value, sort key) of a case's Age cell: its age against its SLA."""
    if audit is None:
        return "", "", ""
    aging = audit.ops.aging.get(record.key)
    if aging is None or aging.status is SlaStatus.RESOLVED:
        return "-", "resolved", ""
    age = aging.age(audit.ops.now)
    text = f"{format_age(age)} / {standup.sla_text(record.priority)}"
    if aging.status is not SlaStatus.UNKNOWN:
        text += f" ({aging.status.value})"
    hours = age.total_seconds() / 3600 if age is not None else 0.0
    return text, aging.status.value, f"{hours:012.2f}"


def _cell(column: str, text: str, value: str | None = None) -> str:
    filtered = f' data-filter="{escape(text if value is None else value)}"' if column in _FILTERED else ""
    return f'<td class="col-{column}"{filtered}>{escape(text)}</td>'


def _row_cells(record: CaseRecord | None, audit: Audit | None) -> list[str]:
    """The cells this module adds to a row (in _COLUMNS' order)."""
    if record is None:
        return [_cell(column, "") for column, _ in _COLUMNS]
    age, sla, _ = _age(audit, record)
    return [
        _cell("priority", record.priority.value),
        _cell("status", _STATUS[record.outcome] if audit is not None else ""),
        _cell("age", age, sla),
        _cell("owner", record.owner or "unassigned"),
        _cell("subject", record.subject),
        _cell("category", record.category),
    ]


def _filters(audit: Audit) -> str:
    """The select filters above the results table, their options from this run's cases."""
    values: dict[str, set[str]] = {
        "priority": {r.priority.value for r in audit.records},
        "status": {_STATUS[r.outcome] for r in audit.records},
        "age": {a.status.value for a in audit.ops.aging.values()},
        "owner": {r.owner or "unassigned" for r in audit.records},
    }
    order = {
        "priority": [p.value for p in Priority],
        "status": list(_STATUS.values()),
        "age": [
            s.value for s in (SlaStatus.OVERDUE, SlaStatus.DUE_SOON, SlaStatus.WITHIN, SlaStatus.UNKNOWN)
        ],
    }
    labels = {"priority": "Priority", "status": "Status", "age": "Age (SLA)", "owner": "Owner"}
    selects = []
    for column in _FILTERED:
        ranked = order.get(column, [])
        options = sorted(values[column], key=lambda v: (ranked.index(v) if v in ranked else len(ranked), v))
        opts = "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in options)
        selects.append(
            f'<label>{labels[column]} <select class="readiness-filter" data-column="{column}">'
            f'<option value="">all</option>{opts}</select></label>'
        )
    return (
        f'<div id="readiness-filters"><b>Filter the cases:</b> {" ".join(selects)}'
        f' <span id="readiness-shown"></span></div><script>{_asset("filters.js")}</script>'
    )


def _raised_in_pytest_html(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if "pytest_html" in Path(tb.tb_frame.f_code.co_filename).parts:
            return True
        tb = tb.tb_next
    return False


class HtmlColumns:
    """pytest-html's hooks for the standup page (registered on every process that has
    pytest-html; the summary and the rows' finishing happen on the controller)."""

    def __init__(self, plugin: ReadinessPlugin) -> None:
        self.plugin = plugin
        #: pytest-html's report data (its hooks' `report`), kept to set the title at the end.
        self._report: Any = None

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

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None]:
        """pytest-html writes its page in its own session-finish step, after the documents. A
        failure there (a full disk, a file size limit) is one line and exit 3, never a
        traceback; the half-written page is removed, and pytest-html no longer announces it.
        Innermost (trylast), so the terminal's own wrapper still prints the summary."""
        try:
            return (yield)
        except OSError as exc:
            if not _raised_in_pytest_html(exc):
                raise  # another plugin's output (--junitxml): not ours to word
            given = str(session.config.getoption("htmlpath"))
            page = Path.cwd() / Path(os.path.expandvars(given)).expanduser()
            with contextlib.suppress(OSError):
                if page.is_file():  # never a device such as /dev/full
                    page.unlink()
            self.plugin.output_errors.append(f"--html {given}: not written: {exc.strerror or exc}")
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
            from pytest_html.basereport import BaseReport

            manager = session.config.pluginmanager
            for plugin in [p for p in manager.get_plugins() if isinstance(p, BaseReport)]:
                manager.unregister(plugin)
            return None

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        self._report = report
        # pytest-html has just copied the environment (pytest-metadata's dict) into the page data.
        report.set_data("environment", escape_environment(report.data.get("environment") or {}))
        config = self.plugin.config
        if config.getini("initial_sort") == "result":  # pytest-html's default: the user chose none
            report.set_data("initialSort", "priority")
        if config.getini("render_collapsed") == "passed":
            # A standup reads the summary; a row's log opens on a click.
            report.set_data("renderCollapsed", ["all"])

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: Any
    ) -> None:
        if not self.plugin.controller:
            return
        audit = self.plugin.build()
        report = self._report
        if report is not None:
            report.title = standup.page_title(audit)
            self._finish_rows(report, audit)
        prefix.append(f"<style>{_asset('standup.css')}</style>")
        prefix.append(standup.render_summary(audit, self.plugin.trend_svg(), self._links(audit)))
        postfix.append(_filters(audit))

    def _links(self, audit: Audit) -> list[tuple[str, str]]:
        """(name, href relative to the page) of each document the run writes."""
        html = self.plugin.config.getoption("htmlpath")
        page_dir = (
            (Path.cwd() / Path(os.path.expandvars(str(html))).expanduser()).parent if html else Path.cwd()
        )
        out = self.plugin.out_dir().absolute()
        names = file_names(audit)
        if self.plugin.trend_svg() is not None:
            names.append(trend.file_name(audit.run.date))
        return [(name, Path(os.path.relpath(out / name, page_dir)).as_posix()) for name in names]

    def _finish_rows(self, report: Any, audit: Audit) -> None:
        """Each case's row from the audit: its outcome, age and status; one row per case; the
        outcome counts recounted from the rows."""
        records = {r.nodeid: r for r in audit.records}
        tests: dict[str, list[dict[str, Any]]] = report.data["tests"]
        for nodeid, rows in tests.items():
            record = records.get(nodeid)
            if record is None or not rows:
                continue
            # A case whose call failed and whose teardown errored has two rows; the audit has one
            # outcome for it, so the page has one row, with both logs.
            if len(rows) > 1:
                rows[0]["log"] = "\n".join(str(row.get("log", "")) for row in rows)
                del rows[1:]
            row = rows[0]
            result = _RESULT[record.outcome]
            cells: list[str] = row["resultsTableRow"]
            cells[0] = f'<td class="col-result">{result}</td>'
            cells[1 : 1 + len(_COLUMNS)] = _row_cells(record, audit)
            row["result"] = result
            row["priority"] = f"{record.priority.value}-{_OUTCOME_ORDER[record.outcome]}"
            row["age"] = _age(audit, record)[2]
            row["status"] = _STATUS[record.outcome]
        outcomes: dict[str, dict[str, Any]] = report.outcomes
        for counted in outcomes.values():
            counted["value"] = 0
        for rows in tests.values():
            for row in rows:
                outcomes[str(row["result"]).lower()]["value"] += 1
        outcomes["xfailed"]["label"] = "Waived"

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        for offset, (column, header) in enumerate(_COLUMNS, start=1):
            cells.insert(offset, f'<th class="sortable" data-column-type="{column}">{header}</th>')

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        record = self.plugin.records.get(report.nodeid)
        # pytest-html writes the test id unescaped; a parametrized id may carry markup.
        if len(cells) > 1 and report.nodeid:
            test_id = report.nodeid + ("" if report.when == "call" else f"::{report.when}")
            cells[1] = f'<td class="col-testId">{escape(test_id)}</td>'
        # What the case is is known now; its outcome, age and status when the audit is made.
        cells[1:1] = _row_cells(record, None)
