"""Immediate P0 escalation: with `--notify`, the first P0 blocker is posted while the audit goes on.

The audit directive asks for it in so many words: "If you discover a P0 blocker, escalate
immediately (don't wait for full audit completion)." The first case that makes the verdict
NO-GO by the verdict's own rule (a P0 case that failed, errored or was skipped, and that no
waiver covers) is posted at once: one message per run naming the case, the root cause known so
far (reporting.root_causes), its owner, and that the audit continues. The final message
(reporting.notify) follows at the end as before, once this one has been answered.

Only the controller posts. Every report reaches it in pytest_runtest_logreport (made there or
replayed from a worker by xdist), after the results plugin has aggregated it into its record
(its hook there is tryfirst): one hook reads one record, serial or `-n`.

The post runs in a daemon thread bounded like the final one (reporting.notify.TIMEOUT): a slow
webhook never holds the checks, and a failed post is one line, never a change of verdict or
exit status.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Final, final

import pytest

from readiness.manifest import LoadedManifest
from readiness.memo import RunMemo
from readiness.priorities import Priority
from readiness.records import CaseRecord, Outcome
from readiness.stash import loaded_manifest, run_memo, run_start
from reporting import notify
from reporting.root_causes import assign_roots
from reporting.waivers import waiver_for

__all__ = ["ESCALATION_KEY", "EarlyEscalation", "blocks_go", "early_json", "message", "root_of"]

ESCALATION_KEY: Final = pytest.StashKey["EarlyEscalation"]()
#: The name it is registered under (one per run, on the controller).
PLUGIN_NAME: Final = "readiness-early-escalation"

_STATE: Final = {
    Outcome.FAILED: "failed",
    Outcome.ERROR: "could not be verified",
    Outcome.SKIPPED: "did not run",
}


def blocks_go(record: CaseRecord, loaded: LoadedManifest, today: dt.date) -> bool:
    """Whether this case alone makes the verdict NO-GO: a P0 case not verified to pass, that no
    unexpired waiver turns into accepted risk (reporting.waivers: a P0 that could not be
    verified is never waived)."""
    if record.priority is not Priority.P0 or not record.outcome.is_open:
        return False
    return waiver_for(record, list(loaded.manifest.waivers), today) is None


def root_of(
    loaded: LoadedManifest, records: Sequence[CaseRecord], record: CaseRecord, memo: RunMemo
) -> CaseRecord | None:
    """The case that kept `record` from running, among the records so far (None: it is its own
    root, or its root has not been reported yet). Worked out on copies: the records belong to
    the results plugin, which assigns the final roots when the run ends."""
    copies = [dataclasses.replace(r) for r in records]
    assign_roots(loaded, copies, memo)
    mine = next((c for c in copies if c.nodeid == record.nodeid), None)
    if mine is None or not mine.blocked_by:
        return None
    return next((c for c in copies if c.key == mine.blocked_by), None)


def _finding(record: CaseRecord) -> str:
    text = record.message or record.title
    return f"{text} ({_STATE.get(record.outcome, record.outcome.value)})"


def message(
    loaded: LoadedManifest, record: CaseRecord, root: CaseRecord | None, run_id: str
) -> dict[str, object]:
    """The early message (Slack-compatible JSON, like the final one)."""
    phase = loaded.phase
    owner = (root.owner if root is not None and root.owner else record.owner) or "unassigned"
    lines = [
        f"*P0 blocker found, audit continues*: {loaded.manifest.project.name}, "
        f"phase {phase.id} ({phase.name})",
        f"• P0 {record.key}: {_finding(record)}",
    ]
    if root is not None:
        lines.append(f"Root cause: {root.priority.value} {root.key}: {_finding(root)}")
    lines += [
        f"Owner: {owner}",
        f"The audit continues (run {run_id}); the verdict and every blocker follow when it ends.",
    ]
    text = "\n".join(lines)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


@final
class EarlyEscalation:
    """Posts the run's first P0 blocker once, from the controller, while the checks go on."""

    def __init__(self, config: pytest.Config, records: Mapping[str, CaseRecord], run_id: str) -> None:
        self.config = config
        #: The results plugin's records by node id, filled as the reports arrive.
        self.records = records
        self.run_id = run_id
        self.today = dt.date.today()
        #: The case that was escalated ("" until one is).
        self.key = ""
        self.result: notify.NotifyResult | None = None
        self._thread: threading.Thread | None = None

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self._thread is not None:
            return
        record = self.records.get(report.nodeid)
        if record is None:
            return
        loaded = loaded_manifest(self.config)
        if not blocks_go(record, loaded, self.today):
            return
        root = root_of(loaded, list(self.records.values()), record, run_memo(self.config))
        body = message(loaded, record, root, self.run_id)
        self.key = record.key
        webhook_env = loaded.manifest.notify.webhook_env
        self._thread = threading.Thread(
            target=self._post, args=(body, webhook_env), name="readiness-early-escalation", daemon=True
        )
        self._thread.start()

    def _post(self, body: dict[str, object], webhook_env: str) -> None:
        self.result = notify.post(body, webhook_env)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        # Before the final message (the results plugin posts it trylast): it must come second.
        if self._thread is not None:
            self._thread.join(notify.TIMEOUT + 1)

    def to_json(self) -> dict[str, object]:
        if not self.key:
            return {"case": None, "sent": None, "detail": "no P0 blocker: nothing escalated"}
        if self.result is None:
            return {"case": self.key, "sent": False, "detail": "the post did not finish"}
        return {"case": self.key, **self.result.to_json()}

    def line(self) -> str:
        if not self.key:
            return "none (no P0 blocker)"
        if self.result is None:
            return f"{self.key}: FAILED: the post did not finish (verdict and exit status unchanged)"
        return f"{self.key}: {self.result.line()}"

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        failed = bool(self.key) and not (self.result is not None and self.result.ok)
        terminalreporter.write_line(f"  early P0 escalation: {self.line()}", red=failed)


def early_json(config: pytest.Config) -> dict[str, object] | None:
    """The escalation's outcome for the results JSON, or None when it is not active."""
    escalation = config.stash.get(ESCALATION_KEY, None)
    return escalation.to_json() if escalation is not None else None


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    # trylast: after reporting.plugin's configure, whose records this reads.
    if hasattr(config, "workerinput") or not config.getoption("notify", False):
        return
    from reporting.plugin import PLUGIN_KEY

    results = config.stash.get(PLUGIN_KEY, None)
    if results is None:
        return
    start = run_start(config)
    escalation = EarlyEscalation(config, results.records, start.run_id)
    escalation.today = start.started.date()
    config.stash[ESCALATION_KEY] = escalation
    config.pluginmanager.register(escalation, PLUGIN_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    escalation = config.stash.get(ESCALATION_KEY, None)
    if escalation is not None:
        config.pluginmanager.unregister(escalation)
        del config.stash[ESCALATION_KEY]
