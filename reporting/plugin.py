"""The results plugin: each case's outcome travels on its report; the controller aggregates once,
decides the verdict and writes the audit's documents.

Whichever process runs a check attaches a JSON-able `readiness` dict to its report
(`pytest_runtest_makereport`); the controller, the only process of a serial run, aggregates
every report in `pytest_runtest_logreport` (xdist replays the workers' reports into it) and is
the only process that aggregates or writes: one path, serial or `-n`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from readiness.cases import Case, case_at
from readiness.records import CaseRecord, Outcome
from readiness.stash import (
    FACTS_KEY,
    SCRIPT_FACTS_KEY,
    SWEEP_KEY,
    RunStart,
    loaded_manifest,
    out_dir,
    run_memo,
    run_start,
)
from readiness.textsafe import safe_obj, safe_text
from readiness.unverified import CheckError, error_facts
from reporting import terminal, trend
from reporting.audit import Audit, RunInfo, build_audit
from reporting.documents import render_all, results_file_name
from reporting.history_session import HistorySession
from reporting.verdict import EXIT_CODES
from reporting.writer import DocumentWriteError, replace_document, write_documents

if TYPE_CHECKING:
    from reporting import notify

__all__ = ["PLUGIN_KEY", "ReadinessPlugin"]

PLUGIN_KEY: Final = pytest.StashKey["ReadinessPlugin"]()
_MAX_MESSAGE: Final = 600
#: How pytest-timeout fails a check that ran past its limit (pytest.ini `timeout`).
_TIMED_OUT: Final = re.compile(r"^Timeout \(>(?P<limit>[0-9.]+)s\) from pytest-timeout")


def pytest_configure(config: pytest.Config) -> None:
    plugin = ReadinessPlugin(config, run_start(config), controller=not hasattr(config, "workerinput"))
    config.stash[PLUGIN_KEY] = plugin
    config.pluginmanager.register(plugin, "readiness-results")
    if config.pluginmanager.hasplugin("html"):
        from reporting import html_report

        config.pluginmanager.register(html_report.HtmlColumns(plugin), "readiness-html")


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.stash.get(PLUGIN_KEY, None)
    if plugin is not None:
        plugin.history.close()  # a run stopped between reading and recording leaves it open
        config.pluginmanager.unregister(plugin)
        del config.stash[PLUGIN_KEY]


def _time_limit(exc: BaseException) -> str:
    """The limit a check exceeded, when `exc` is pytest-timeout's failure; else ""."""
    if not isinstance(exc, pytest.fail.Exception):
        return ""
    match = _TIMED_OUT.match(str(exc.msg))
    return f"{float(match['limit']):g}" if match else ""


def _message(call: pytest.CallInfo[None], report: pytest.TestReport) -> str:
    if call.excinfo is None:
        if report.skipped and isinstance(report.longrepr, tuple):
            return str(report.longrepr[2]).removeprefix("Skipped: ")
        return ""
    exc = call.excinfo.value
    limit = _time_limit(exc)
    if limit:
        return f"unverified: check exceeded its {limit} s time limit"
    if isinstance(exc, CheckError):
        text = str(exc)
    elif isinstance(exc, (pytest.fail.Exception, pytest.skip.Exception)):
        text = str(exc.msg)
    elif isinstance(exc, AssertionError):
        text = str(exc).split("\n", 1)[0] or "assertion failed"
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


class ReadinessPlugin:
    def __init__(self, config: pytest.Config, start: RunStart, controller: bool) -> None:
        self.config = config
        self.start = start
        self.controller = controller
        self._out_dir = out_dir(config)
        self.records: dict[str, CaseRecord] = {}
        #: Node ids whose reports named a case this run's manifest does not have.
        self.unknown_cases: set[str] = set()
        self._blocker_dumps: dict[int, dict[str, Any]] = {}
        self.audit: Audit | None = None
        self.written: list[Path] = []
        self.write_error = ""
        #: Other outputs that could not be written (the --html page), one line each.
        self.output_errors: list[str] = []
        #: Why the run has no verdict at all (nothing ran), "" otherwise.
        self.nothing_ran = ""
        self.history = HistorySession(
            str(config.getoption("history") or ""),
            config.invocation_params.dir,
            start.started,
        )
        self.notified: notify.NotifyResult | None = None
        self._trend: str | None = None
        self._trend_done = False

    # -- worker side (and single-process runs) ---------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput.update(self.start.to_workerinput())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report: pytest.TestReport = yield
        _clean_report(report)
        # The controller needs the call's report, and setup's or teardown's only when they did
        # not pass: every report that carries data costs a serialisation under xdist, and three
        # per case made the plugin's largest cost on a large manifest.
        when = report.when
        if when != "call" and report.passed:
            return report
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("case") if callspec is not None else None
        if isinstance(case, Case):
            exc = call.excinfo.value if call.excinfo is not None else None
            message = _message(call, report) if exc is not None or report.outcome != "passed" else ""
            # A check stopped by its time limit (a hung API) proved nothing: unverified, never a
            # finding, although pytest-timeout stops it with pytest.fail.
            timed_out = exc is not None and bool(_time_limit(exc))
            # Only what this run found travels, and a reference to the case: the controller
            # looks the case up in its own copy of the manifest, so no report carries (and xdist
            # serialises) a description of it, and no record is rebuilt from one.
            data: dict[str, Any] = {
                "case": case.reference(),
                # Redacted and made visible here, once, before any output or xdist sees them.
                "message": safe_text(message),
                # CheckError first: the checks' unverified errors are pytest failures too.
                "unverified": exc is not None
                and (
                    timed_out
                    or isinstance(exc, CheckError)
                    or not isinstance(exc, (pytest.fail.Exception, pytest.skip.Exception, AssertionError))
                ),
                "facts": safe_obj(_with_error_facts(item.stash.get(FACTS_KEY, {}), exc))
                if when == "call"
                else {},
                "script": item.stash.get(SCRIPT_FACTS_KEY, None) if when == "call" else None,
            }
            report.readiness = data  # type: ignore[attr-defined]
            if timed_out:
                report.longrepr = data["message"]
            elif isinstance(exc, CheckError):
                # The check could not run: say why in one line, not with our plumbing's traceback.
                report.longrepr = f"unverified: {data['message']}"
        return report

    # -- controller side ---------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Every report reaches the controller here, made in this process or replayed from a
        worker by xdist: the one place results are aggregated, serial or `-n`.

        tryfirst: pytest-html draws the row (HtmlColumns) from the record made here."""
        if not self.controller:
            return
        data: dict[str, Any] | None = getattr(report, "readiness", None)
        if data is not None:
            self.aggregate(report, data)

    def aggregate(self, report: pytest.TestReport, data: dict[str, Any]) -> None:
        """One report of a case (its `data` from pytest_runtest_makereport) into its record."""
        nodeid = report.nodeid
        record = self.records.get(nodeid)
        if record is None:
            case = case_at(loaded_manifest(self.config), data["case"], run_memo(self.config))
            if case is None:
                self.records[nodeid] = CaseRecord.unknown_case(nodeid, data["case"])
                self.unknown_cases.add(nodeid)
                return
            record = self.records[nodeid] = CaseRecord.from_case(nodeid, case, self._blocker_json(case))
        elif nodeid in self.unknown_cases:
            return  # stays unverified (above), whatever its later reports say
        if report.when == "call":
            facts = data["facts"]
            record.facts = dict(facts) if facts else {}
            record.script = data.get("script")
            if report.passed:
                record.outcome = Outcome.PASSED
            elif report.skipped:
                record.outcome = Outcome.SKIPPED
            else:
                # An exception other than a finding means the check could not run: unverified.
                record.outcome = Outcome.ERROR if data.get("unverified") else Outcome.FAILED
            record.message = data["message"]
        elif report.failed:
            # Setup or teardown failed: the case was not verified, whatever its call did.
            record.outcome = Outcome.ERROR
            record.message = record.message or f"{report.when} error: {data['message']}"
        elif report.skipped and report.when == "setup":
            record.outcome = Outcome.SKIPPED
            record.message = data["message"]

    def _blocker_json(self, case: Case) -> dict[str, Any]:
        """The case's blocker metadata as JSON, dumped once per metadata object: most cases of a
        criterion share one (Blocker.over). Keyed by identity, which holds for the run: every
        case, and so its metadata, lives in the manifest's case cache until the run ends."""
        key = id(case.blocker)
        dumped = self._blocker_dumps.get(key)
        if dumped is None:
            dumped = self._blocker_dumps[key] = case.blocker.model_dump()
        return dumped

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.controller:
            return
        if exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR):
            self.write_error = "run did not complete: no documents written"
            return
        if not self.records:
            # Nothing was verified, so there is nothing to decide or record: documents with a
            # verdict would read as an audit that never happened.
            why = "--collect-only" if self.config.option.collectonly else "no case was selected"
            self.nothing_ran = f"no case ran ({why}): no verdict, no documents written"
            return
        audit = self.build()
        swept = self.config.stash.get(SWEEP_KEY, None)
        if swept is not None:
            audit.extra["scratch_sweep"] = swept
        self.history.record(audit)
        notifying = bool(self.config.getoption("notify"))
        if notifying:
            audit.extra["notify"] = {"sent": None, "detail": "pending: posted after the documents"}
        # The documents first: a webhook that hangs or fails must never cost the reports.
        self.write(audit)
        if notifying:
            # A failed post is reported, never raised: it must not change the verdict or the exit.
            from reporting import escalation, notify  # only with --notify

            self.notified = notify.send(audit, loaded_manifest(self.config).manifest.notify.webhook_env)
            audit.extra["notify"] = self.notified.to_json()
            audit.extra["early_p0_escalation"] = escalation.early_json(self.config)
            if not self.write_error:
                try:
                    replace_document(self.out_dir(), results_file_name(audit), _results_json(audit))
                except DocumentWriteError as exc:
                    self.write_error = str(exc)
        if self.config.getoption("readiness_exit") == "verdict" and exitstatus in (
            pytest.ExitCode.OK,
            pytest.ExitCode.TESTS_FAILED,
            pytest.ExitCode.NO_TESTS_COLLECTED,
        ):
            session.exitstatus = EXIT_CODES[audit.verdict.verdict]
        if self.write_error:
            # The audit's deliverables are missing: never a passing exit, whatever the verdict.
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def build(self) -> Audit:
        if self.audit is None:
            start = self.start
            finished = start.given_now or dt.datetime.now(dt.UTC)
            run = RunInfo(start.run_id, start.started, max(finished, start.started), start.started.date())
            loaded = loaded_manifest(self.config)
            markexpr = str(self.config.getoption("markexpr") or "")
            keyword = str(self.config.getoption("keyword") or "")
            location, past, problem = self.history.read(loaded, markexpr, keyword)
            self.audit = build_audit(
                loaded,
                run_memo(self.config),
                list(self.records.values()),
                run,
                markexpr=markexpr,
                keyword=keyword,
                past=past,
                history_location=location,
                history_problem=problem,
            )
        return self.audit

    def trend_svg(self) -> str | None:
        """The trend chart (drawn once; None without history)."""
        if not self._trend_done:
            self._trend_done = True
            audit = self.build()
            if audit.ops.trend:
                phase = audit.loaded.phase
                title = f"{audit.loaded.manifest.project.name}, phase {phase.id}: {audit.scope.describe()}"
                self._trend = safe_text(trend.render_svg(audit.ops.trend, title))
        return self._trend

    def out_dir(self) -> Path:
        return self._out_dir

    def write(self, audit: Audit) -> None:
        # Every document through the one redaction (readiness/textsafe.py), whatever it quotes.
        documents: dict[str, str | bytes] = {
            name: safe_text(text) for name, text in render_all(audit).items()
        }
        documents[results_file_name(audit)] = _results_json(audit)
        chart = self.trend_svg()
        if chart is not None:
            documents[trend.file_name(audit.run.date)] = chart
        try:
            # The whole set at once (writer.py): a reader never finds two runs' documents mixed.
            self.written = write_documents(self.out_dir(), documents)
        except DocumentWriteError as exc:
            self.write_error = str(exc)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.controller:
            return
        tr = terminalreporter
        if self.nothing_ran:
            tr.write_sep("=", f"readiness: {self.nothing_ran}", yellow=True)
            return
        if self.audit is None:
            tr.write_sep("=", f"readiness: {self.write_error or 'no audit'}", red=True)
            return
        audit = self.audit
        terminal.verdict_and_blockers(tr, audit)
        if self.write_error:
            tr.write_line(f"  documents NOT written: {self.write_error}", red=True)
        else:
            tr.write_line(f"  documents: {self.out_dir()} ({len(self.written)} files)")
        for line in self.output_errors:
            tr.write_line(f"  {line}", red=True)
        terminal.operations(tr, audit, self.history.seconds, self.history.skipped())
        if self.notified is not None:
            tr.write_line(f"  notification: {self.notified.line()}", red=not self.notified.ok)


def _clean_report(report: pytest.TestReport) -> None:
    """The failure text and captured output that the terminal, JUnit XML and pytest-html show,
    through the same redaction as the documents (readiness/textsafe.py)."""
    if report.longrepr is not None and not report.passed:
        text = str(report.longrepr)
        clean = safe_text(text)
        if clean != text:
            report.longrepr = clean
    if report.sections:
        report.sections = [(title, safe_text(content)) for title, content in report.sections]


def _results_json(audit: Audit) -> str:
    # No indent: it forces json's pure-Python encoder, slow on a large audit.
    # Keys in the order the code builds them (the same every run, serial or -n: see
    # tests/test_xdist_identity.py), not sorted: sorting every case's keys is a large share of
    # the encoding. No circularity check: what to_json builds has no cycles (facts travel
    # through xdist, which has none either).
    return json.dumps(safe_obj(audit.to_json()), default=str, check_circular=False) + "\n"


def _with_error_facts(facts: dict[str, Any], exc: BaseException | None) -> dict[str, Any]:
    """The check's facts plus what its unverified message carries (the disabled service), so
    the aggregation can fold the case under its root cause."""
    if not isinstance(exc, CheckError):
        return facts
    extra = error_facts(str(exc))
    return {**facts, **extra} if extra else facts
