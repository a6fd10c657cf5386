"""The results plugin: each case's outcome travels on its report; the controller aggregates once,
decides the verdict and writes the audit's documents.

Under pytest-xdist the workers run the checks and attach a JSON-able `readiness` dict to every
report (`pytest_runtest_makereport`); the controller sees those reports in
`pytest_runtest_logreport` and is the only process that aggregates or writes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest
from tabulate import tabulate

from checks.cases import FACTS_KEY, Case, case_at
from checks.findings import CheckError, error_facts
from checks.gcp.sweeper import sweep_result
from checks.plugin import loaded_manifest
from checks.textsafe import safe_obj, safe_text
from reporting import trend
from reporting.activities import nightly_scope
from reporting.audit import Audit, RunInfo, build_audit
from reporting.clock import parse_now
from reporting.documents import render_all, results_file_name
from reporting.history import HistoryError, HistoryStore, open_store, scope_key
from reporting.inventory import undeclared_line
from reporting.operations import Past, read_past
from reporting.records import CaseRecord, Outcome
from reporting.verdict import EXIT_CODES, short_finding
from reporting.writer import DocumentWriteError, replace_document, write_documents

if TYPE_CHECKING:
    from reporting import notify

__all__ = ["PLUGIN_KEY", "ReadinessPlugin"]

PLUGIN_KEY: Final = pytest.StashKey["ReadinessPlugin"]()
_MAX_MESSAGE: Final = 600
#: How pytest-timeout fails a check that ran past its limit (pytest.ini `timeout`).
_TIMED_OUT: Final = re.compile(r"^Timeout \(>(?P<limit>[0-9.]+)s\) from pytest-timeout")


def _now(config: pytest.Config) -> dt.datetime:
    given = config.getoption("readiness_now")
    if not given:
        return dt.datetime.now(dt.UTC)
    try:
        return parse_now(str(given))
    except ValueError as exc:
        raise pytest.UsageError(f"--readiness-now: {exc}") from None


def pytest_configure(config: pytest.Config) -> None:
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is not None:
        run_id = str(workerinput["readiness_run_id"])
        started = dt.datetime.fromisoformat(str(workerinput["readiness_started"]))
    else:
        started = _now(config)
        run_id = f"{started:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    plugin = ReadinessPlugin(config, run_id, started, controller=workerinput is None)
    config.stash[PLUGIN_KEY] = plugin
    config.pluginmanager.register(plugin, "readiness-results")
    if config.pluginmanager.hasplugin("html"):
        from reporting import html_report

        config.pluginmanager.register(html_report.HtmlColumns(plugin), "readiness-html")


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.stash.get(PLUGIN_KEY, None)
    if plugin is not None:
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
    if isinstance(exc, (pytest.fail.Exception, pytest.skip.Exception)):
        text = str(exc.msg)
    elif isinstance(exc, CheckError):
        text = str(exc)
    elif isinstance(exc, AssertionError):
        text = str(exc).split("\n", 1)[0] or "assertion failed"
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _counts_table(audit: Audit) -> str:
    """Cases per priority and outcome, the priorities that had cases, for the terminal."""
    rows = [
        [priority.value, sum(n for o, n in row.items() if o.is_open), total, *row.values()]
        for priority, row in audit.counts.items()
        if (total := sum(row.values()))
    ]
    return tabulate(
        rows, headers=["priority", "open", "total", *(o.value for o in Outcome)], tablefmt="simple"
    )


class ReadinessPlugin:
    def __init__(self, config: pytest.Config, run_id: str, started: dt.datetime, controller: bool) -> None:
        self.config = config
        #: Identifies this run in scratch-object names and history; the same on every worker.
        self.run_id = run_id
        self.started = started
        self.controller = controller
        self.records: dict[str, CaseRecord] = {}
        #: Node ids whose reports named a case this run's manifest does not have.
        self.unknown_cases: set[str] = set()
        self._blocker_dumps: dict[int, dict[str, Any]] = {}
        self.audit: Audit | None = None
        self.written: list[Path] = []
        self.write_error = ""
        #: Why the run has no verdict at all (nothing ran), "" otherwise.
        self.nothing_ran = ""
        self.store: HistoryStore | None = None
        #: Seconds the history write took (shown in the terminal summary).
        self.history_seconds: float | None = None
        self.notified: notify.NotifyResult | None = None
        self._png: bytes | None = None
        self._png_done = False

    # -- worker side (and single-process runs) ---------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["readiness_run_id"] = self.run_id
        node.workerinput["readiness_started"] = self.started.isoformat()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report: pytest.TestReport = yield
        _clean_report(report)
        # The controller needs the call's report, and setup's or teardown's only when they did
        # not pass; every report carried under xdist costs a serialisation (bench/: the plugin
        # cost 36% on 5,000 trivial cases when all three carried the case and its facts).
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
                "unverified": exc is not None
                and (
                    timed_out
                    or not isinstance(exc, (pytest.fail.Exception, pytest.skip.Exception, AssertionError))
                ),
                "facts": safe_obj(_with_error_facts(item.stash.get(FACTS_KEY, {}), exc))
                if when == "call"
                else {},
            }
            if self.controller:
                # One process (no xdist): the report is aggregated where it is made, sparing a
                # second hook call per report (three per case: bench/plugin_overhead.py).
                self.aggregate(report, data)
            else:
                report.readiness = data  # type: ignore[attr-defined]
            if timed_out:
                report.longrepr = data["message"]
            elif isinstance(exc, CheckError):
                # The check could not run: say why in one line, not with our plumbing's traceback.
                report.longrepr = f"unverified: {data['message']}"
        return report

    # -- controller side ---------------------------------------------------------------------

    def aggregate(self, report: pytest.TestReport, data: dict[str, Any]) -> None:
        """One report of a case (its `data` from pytest_runtest_makereport) into its record."""
        nodeid = report.nodeid
        record = self.records.get(nodeid)
        if record is None:
            case = case_at(loaded_manifest(self.config), data["case"])
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

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.controller and session.config.pluginmanager.has_plugin("dsession"):
            session.config.pluginmanager.register(_ReportsFromWorkers(self), "readiness-from-workers")
        if self.controller and self.history_location()[0]:
            # The trend chart is drawn at the end; matplotlib's import and font cache take
            # seconds, which overlap with the checks' waits on the APIs when done meanwhile.
            trend.warm_up_in_background()

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
        swept = sweep_result(self.config)
        if swept is not None:
            audit.extra["scratch_sweep"] = swept.to_json()
        self.record_history(audit)
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

    def build(self) -> Audit:
        if self.audit is None:
            finished = (
                _now(self.config) if self.config.getoption("readiness_now") else dt.datetime.now(dt.UTC)
            )
            run = RunInfo(self.run_id, self.started, max(finished, self.started), self.started.date())
            loaded = loaded_manifest(self.config)
            markexpr = str(self.config.getoption("markexpr") or "")
            keyword = str(self.config.getoption("keyword") or "")
            location, past, problem = self.read_history(markexpr, keyword)
            self.audit = build_audit(
                loaded,
                list(self.records.values()),
                run,
                markexpr=markexpr,
                keyword=keyword,
                past=past,
                history_location=location,
                history_problem=problem,
            )
        return self.audit

    # -- history -------------------------------------------------------------------------------

    def history_location(self) -> tuple[str, Path]:
        """(location, folder a relative SQLite path is resolved against); "" = no history."""
        given = self.config.getoption("history")
        if given:
            return str(given), self.config.invocation_params.dir
        loaded = loaded_manifest(self.config)
        return loaded.manifest.history.store, loaded.path.parent

    def read_history(self, markexpr: str, keyword: str) -> tuple[str, Past | None, str]:
        location, base = self.history_location()
        if not location:
            return "", None, ""
        loaded = loaded_manifest(self.config)
        project, phase = loaded.manifest.project.name, loaded.phase.id
        try:
            self.store = open_store(location, base, _bigquery_endpoint(loaded.manifest))
            location = self.store.location
            past = read_past(
                self.store,
                project,
                phase,
                scope_key(project, phase, markexpr, keyword),
                before=self.started,
                window=loaded.manifest.history.trend_runs,
                nightly_scope=nightly_scope(loaded),
            )
        except HistoryError as exc:
            return location, None, str(exc)
        return location, past, ""

    def record_history(self, audit: Audit) -> None:
        ops = audit.ops
        if self.store is None or ops.history_status != "read":
            if ops.history_status == "unavailable":
                ops.history_status = "not written"
            return
        begin = time.perf_counter()
        try:
            self.store.record(audit.history_entry())
        except HistoryError as exc:
            ops.history_status, ops.history_detail = "not written", str(exc)
        else:
            ops.history_status = "recorded"
        finally:
            self.history_seconds = time.perf_counter() - begin
            self.store.close()

    def trend_png(self) -> bytes | None:
        """The trend chart (rendered once; None without history)."""
        if not self._png_done:
            self._png_done = True
            audit = self.build()
            if audit.ops.trend:
                phase = audit.loaded.phase
                title = f"{audit.loaded.manifest.project.name}, phase {phase.id}: {audit.scope.describe()}"
                self._png = trend.render_png(audit.ops.trend, title)
        return self._png

    def out_dir(self) -> Path:
        given = self.config.getoption("readiness_out")
        if given:
            return Path(given)
        return self.config.invocation_params.dir / "readiness-reports" / f"{self.started:%Y%m%d}"

    def write(self, audit: Audit) -> None:
        # Every document through the one redaction (checks/textsafe.py), whatever it quotes.
        documents: dict[str, str | bytes] = {
            name: safe_text(text) for name, text in render_all(audit).items()
        }
        documents[results_file_name(audit)] = _results_json(audit)
        png = self.trend_png()
        if png is not None:
            documents[trend.file_name(audit.run.date)] = png
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
        verdict = audit.verdict
        colour = {"GO": "green", "CONDITIONAL GO": "yellow"}.get(verdict.verdict.value, "red")
        tr.write_sep("=", f"readiness: {audit.verdict_line} (risk {verdict.risk.value})", **{colour: True})
        for reason in verdict.reasons:
            tr.write_line(f"  {reason}")
        for reason in verdict.risk_reasons:
            tr.write_line(f"  risk {reason}")
        for line in _counts_table(audit).splitlines():
            tr.write_line(f"  {line}")
        _summarise_blockers(tr, audit)
        tr.write_line(f"  scope: {audit.scope.describe()}")
        if undeclared := undeclared_line(audit.inventory):
            tr.write_line(f"  {undeclared}")
        if self.write_error:
            tr.write_line(f"  documents NOT written: {self.write_error}", red=True)
        else:
            tr.write_line(f"  documents: {self.out_dir()} ({len(self.written)} files)")
        self._summarise_operations(tr, audit)

    def _summarise_operations(self, tr: Any, audit: Audit) -> None:
        ops = audit.ops
        took = f" in {self.history_seconds * 1000:.0f} ms" if self.history_seconds is not None else ""
        tr.write_line(f"  history: {ops.history_line()}{took}", red=ops.history_status == "not written")
        for note in self.store.skipped if self.store is not None else []:
            tr.write_line(f"  history warning: {note}", yellow=True)
        if ops.diff is not None:
            d = ops.diff
            tr.write_line(
                f"  since last run: {len(d.new)} new, {len(d.regressions)} regression(s), "
                f"{len(d.still_open)} still open, {len(d.resolved)} resolved, {len(d.flapping)} flapping"
                + ("" if d.previous_run else " (first run of this scope)")
            )
        overdue = [r for r in audit.blockers if ops.aging[r.key].escalation]
        for r in overdue[:5]:
            tr.write_line(f"  OVERDUE {r.priority.value} {r.key}: {ops.aging[r.key].escalation}", red=True)
        for activity in (a for a in ops.activities if a.missed):
            tr.write_line(
                f"  {activity.line()}", red=bool(activity.escalation), yellow=not activity.escalation
            )
        w = ops.waivers
        if w.applied or w.expired or w.unmatched or w.refused or w.unused:
            tr.write_line(
                f"  waivers: {len(w.applied)} case(s) waived, {len(w.expired)} expired, "
                f"{len(w.unmatched)} matched nothing, {len(w.unused)} no longer needed, "
                f"{len(w.refused)} refused (P0 not verified)"
            )
        if self.notified is not None:
            tr.write_line(f"  notification: {self.notified.line()}", red=not self.notified.ok)


#: Blockers the terminal lists before pointing at the documents.
_TERMINAL_BLOCKERS: Final = 10


def _summarise_blockers(tr: Any, audit: Audit) -> None:
    """One line per root cause, most urgent first, with what it kept from running; then the
    scratch objects still present."""
    counts = [audit.blocker_count_text(p) for p, (n, _) in audit.blocker_counts.items() if n]
    tr.write_line(f"  blockers: {', '.join(counts) if counts else 'none'}")
    for root in audit.roots[:_TERMINAL_BLOCKERS]:
        folded = f" ({root.folded_text()})" if root.folded else ""
        tr.write_line(f"    {root.priority.value} {short_finding(root.record)}{folded}")
    if len(audit.roots) > _TERMINAL_BLOCKERS:
        tr.write_line(f"    … and {len(audit.roots) - _TERMINAL_BLOCKERS} more in the blocker analysis")
    for leftover in audit.leftovers:
        tr.write_line(f"  scratch left: {leftover.describe()}", yellow=True)


class _ReportsFromWorkers:
    """On the xdist controller: the workers' reports carry their case's data (registered only
    there: a one-process run aggregates in pytest_runtest_makereport)."""

    def __init__(self, plugin: ReadinessPlugin) -> None:
        self.plugin = plugin

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # tryfirst: pytest-html draws the row (HtmlColumns) from the record made here.
        data: dict[str, Any] | None = getattr(report, "readiness", None)
        if data is not None:
            self.plugin.aggregate(report, data)


def _bigquery_endpoint(manifest: Any) -> str:
    """The manifest's BigQuery endpoint override (the local emulator), if it has one."""
    gcp = getattr(manifest, "gcp", None)
    endpoints = getattr(gcp, "endpoints", None)
    return str(getattr(endpoints, "bigquery", "") or "")


def _clean_report(report: pytest.TestReport) -> None:
    """The failure text and captured output that the terminal, JUnit XML and pytest-html show,
    through the same redaction as the documents (checks/textsafe.py)."""
    if report.longrepr is not None and not report.passed:
        text = str(report.longrepr)
        clean = safe_text(text)
        if clean != text:
            report.longrepr = clean
    if report.sections:
        report.sections = [(title, safe_text(content)) for title, content in report.sections]


def _results_json(audit: Audit) -> str:
    # No indent: it forces json's pure-Python encoder, seconds on a 6,000-table audit.
    # Keys in the order the code builds them (the same every run, serial or -n: see
    # tests/test_xdist_identity.py), not sorted: sorting every case's keys was a fifth of
    # the encoding (bench/plugin_overhead.py --instructions). No circularity check: what
    # to_json builds has no cycles (facts travel through xdist, which has none either).
    return json.dumps(safe_obj(audit.to_json()), default=str, check_circular=False) + "\n"


def _with_error_facts(facts: dict[str, Any], exc: BaseException | None) -> dict[str, Any]:
    """The check's facts plus what its unverified message carries (the disabled service), so
    the aggregation can fold the case under its root cause."""
    if not isinstance(exc, CheckError):
        return facts
    extra = error_facts(str(exc))
    return {**facts, **extra} if extra else facts
