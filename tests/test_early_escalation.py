"""Immediate P0 escalation under --notify: the first P0 blocker is posted while the run goes on.

A local webhook records what arrives, in order. A probe plugin loaded into the audited run
(`-p order_probe`) makes the process that ran a failing P0 case wait, before its next case or its
end, until the webhook holds the early message, then posts a marker: an early message sent only
at the end of the run would arrive after the marker (the probe's wait gives up), so the order
early < marker < final proves the message went out while checks were still running.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from ops_support import OpsTarget, run_at

from conftest import AuditRun, TargetRepo

WEBHOOK_ENV = "READINESS_TEST_WEBHOOK"
NOTIFY = f"""
[notify]
webhook_env = "{WEBHOOK_ENV}"
"""
#: A second P0 script, missing like scripts/a.py: two P0 failures in one run.
SECOND_P0 = """
[[scripts]]
path = "scripts/c.py"
purpose = "generate more features"
category = "generation"
priority = "P0"
owner = "carol"
"""

EARLY_HEAD = "*P0 blocker found, audit continues*"

#: Loaded into the audited run. Waiting is bounded only so that a broken escalation fails the
#: test instead of hanging it; what is asserted is the order of arrival at the webhook.
PROBE = """
import json
import os
import time
import urllib.request

import pytest

_SERVER = os.environ["READINESS_TEST_PROBE"]
_state = {"armed": False, "done": False}


def pytest_runtest_logreport(report):
    if report.when == "call" and report.failed and "p0" in report.keywords:
        _state["armed"] = True


def _wait_then_mark(config, where):
    # The xdist controller runs no case: the processes that run the checks are what must go on.
    if not _state["armed"] or _state["done"] or config.pluginmanager.has_plugin("dsession"):
        return
    _state["done"] = True
    seen = 0
    give_up = time.monotonic() + 60
    while not seen and time.monotonic() < give_up:
        with urllib.request.urlopen(_SERVER + "/early-count", timeout=5) as answer:
            seen = int(answer.read())
        if not seen:
            time.sleep(0.05)
    body = json.dumps({"saw_early": bool(seen), "where": where}).encode()
    request = urllib.request.Request(_SERVER + "/marker", data=body, method="POST")
    urllib.request.urlopen(request, timeout=5).read()


def pytest_runtest_setup(item):
    _wait_then_mark(item.config, item.nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    _wait_then_mark(session.config, "end of the process's run")
"""


@dataclass
class Webhook:
    status: int
    url: str = ""
    base: str = ""
    #: (kind, body) in order of arrival: kind "early", "final" or "marker".
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def kinds(self) -> list[str]:
        with self.lock:
            return [kind for kind, _ in self.events]

    def texts(self, kind: str) -> list[str]:
        with self.lock:
            return [str(body["text"]) for k, body in self.events if k == kind]


@pytest.fixture
def webhook(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    hook = Webhook(int(getattr(request, "param", 200)))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path == "/marker":
                kind, status = "marker", 200
            else:
                text = str(body.get("text", ""))
                kind, status = ("early" if text.startswith(EARLY_HEAD) else "final"), hook.status
            with hook.lock:
                hook.events.append((kind, body))
            self.send_response(status)
            self.end_headers()

        def do_GET(self) -> None:
            count = hook.kinds().count("early")
            self.send_response(200)
            self.end_headers()
            self.wfile.write(str(count).encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.base = f"http://127.0.0.1:{server.server_address[1]}"
    hook.url = f"{hook.base}/services/T000/B000/s3cr3t-token"
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv(WEBHOOK_ENV, hook.url)
    monkeypatch.setenv("READINESS_TEST_PROBE", hook.base)
    yield hook
    server.shutdown()
    server.server_close()


@pytest.fixture
def two_p0(target: TargetRepo, pytester: pytest.Pytester) -> OpsTarget:
    """Two P0 scripts missing (a.py, c.py) and a P1 script not executable (b.sh)."""
    pytester.makepyfile(order_probe=PROBE)
    ops = OpsTarget(target, NOTIFY + SECOND_P0)
    ops.remove_a()
    ops.break_b()
    return ops


def _early_of(run: AuditRun) -> dict[str, Any]:
    early: dict[str, Any] = run.json()["early_p0_escalation"]
    return early


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_first_p0_blocker_is_posted_once_while_the_run_goes_on(
    pytester: pytest.Pytester, two_p0: OpsTarget, webhook: Webhook, workers: tuple[str, ...]
) -> None:
    run = run_at(pytester, two_p0, "2026-11-22T06:00:00", "--notify", "-p", "order_probe", *workers)
    kinds = webhook.kinds()
    # Exactly one early message for two P0 failures, and one final message, last.
    assert kinds.count("early") == 1, kinds
    assert kinds.count("final") == 1, kinds
    assert kinds[0] == "early" and kinds[-1] == "final", kinds
    # The process that ran the failing P0 case saw the early message before it went on.
    markers = [body for kind, body in webhook.events if kind == "marker"]
    assert markers and all(m["saw_early"] for m in markers), markers

    (early,) = webhook.texts("early")
    escalated = _early_of(run)
    assert escalated["sent"] is True
    assert escalated["case"] in ("script_exists:scripts/a.py", "script_exists:scripts/c.py")
    owner = "alice" if escalated["case"].endswith("a.py") else "carol"
    lines = early.splitlines()
    assert lines[0] == f"{EARLY_HEAD}: Demo, phase 4C (Naming remediation)"
    assert lines[1].startswith(f"• P0 {escalated['case']}: ") and lines[1].endswith("(failed)")
    assert f"Owner: {owner}" in lines
    assert lines[-1].startswith("The audit continues (run ")
    assert "scripts/b.sh" not in early  # a P1 blocker is the final message's business
    (final,) = webhook.texts("final")
    assert final.startswith("*Readiness NO-GO* (risk HIGH)")
    run.result.stdout.fnmatch_lines(
        [f"*early P0 escalation: {escalated['case']}: posted to ${WEBHOOK_ENV} (HTTP 200)"]
    )
    assert "s3cr3t-token" not in run.output


def test_no_p0_blocker_means_no_early_message(
    pytester: pytest.Pytester, target: TargetRepo, webhook: Webhook
) -> None:
    ops = OpsTarget(target, NOTIFY)
    ops.break_b()  # a P1 blocker only
    run = run_at(pytester, ops, "2026-11-22T06:00:00", "--notify")
    assert webhook.kinds() == ["final"]
    assert webhook.texts("final")[0].startswith("*Readiness CONDITIONAL GO*")
    assert _early_of(run) == {"case": None, "sent": None, "detail": "no P0 blocker: nothing escalated"}
    run.result.stdout.fnmatch_lines(["*early P0 escalation: none (no P0 blocker)"])


def test_early_message_names_the_root_cause_and_its_owner(
    pytester: pytest.Pytester, target: TargetRepo, webhook: Webhook
) -> None:
    # scripts/a.py is P0 but its syntax is checked at P2: the first P0 case to fail is its
    # imports check, which cannot read a script that does not parse.
    ops = OpsTarget(target, NOTIFY)
    text = ops.manifest.read_text().replace(
        'owner = "alice"\n', 'owner = "alice"\n[scripts.criteria]\npython_parses = "P2"\n', 1
    )
    ops.manifest.write_text(text)
    ops.break_a()
    run = run_at(pytester, ops, "2026-11-22T06:00:00", "--notify")
    (early,) = webhook.texts("early")
    assert _early_of(run)["case"] == "imports_resolve:scripts/a.py", early
    lines = early.splitlines()
    assert lines[1].startswith("• P0 imports_resolve:scripts/a.py: ")
    assert lines[2].startswith("Root cause: P2 python_parses:scripts/a.py: ")
    assert lines[2].endswith("(failed)")
    assert "Owner: alice" in lines


def _refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


@pytest.mark.parametrize("webhook", [500], indirect=True)
@pytest.mark.parametrize("answer", ["HTTP 500", "refused"])
def test_failed_early_post_changes_neither_verdict_nor_exit_status(
    pytester: pytest.Pytester,
    two_p0: OpsTarget,
    webhook: Webhook,
    answer: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if answer == "refused":
        monkeypatch.setenv(WEBHOOK_ENV, _refused_url())
    quiet = run_at(pytester, two_p0, "2026-11-22T06:00:00", "--readiness-exit", "verdict")
    loud = run_at(pytester, two_p0, "2026-11-22T07:00:00", "--readiness-exit", "verdict", "--notify")
    assert loud.ret == quiet.ret == 11
    assert loud.json()["verdict"] == quiet.json()["verdict"]
    assert loud.json()["counts"] == quiet.json()["counts"]
    escalated = _early_of(loud)
    assert escalated["sent"] is False
    expected = (
        f"webhook ${WEBHOOK_ENV} answered HTTP 500"
        if answer == "HTTP 500"
        else f"webhook ${WEBHOOK_ENV} unreachable: *"
    )
    loud.result.stdout.fnmatch_lines(
        [
            f"*early P0 escalation: script_exists:scripts/*: FAILED: {expected}*(verdict and exit status unchanged)"
        ]
    )
    assert sum("early P0 escalation" in line for line in loud.output.splitlines()) == 1
    if answer == "HTTP 500":
        assert webhook.kinds() == ["early", "final"]
    assert "Traceback" not in loud.output
