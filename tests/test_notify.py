"""The webhook notification: Slack-compatible JSON, the URL never shown, a failure never fatal."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from ops_support import OpsTarget, run_at

from conftest import AuditRun, TargetRepo

NOTIFY = """
[notify]
webhook_env = "READINESS_TEST_WEBHOOK"
"""


class Hook:
    def __init__(self, status: int) -> None:
        self.status = status
        self.bodies: list[dict[str, Any]] = []


@pytest.fixture
def hook_server(request: pytest.FixtureRequest) -> Iterator[tuple[Hook, str]]:
    hook = Hook(int(request.param))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            hook.bodies.append(json.loads(self.rfile.read(length)))
            self.send_response(hook.status)
            self.end_headers()
            self.wfile.write(b"ok" if hook.status == 200 else b"boom")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/s3cr3t-token"
    yield hook, url
    server.shutdown()
    server.server_close()


@pytest.fixture
def broken(target: TargetRepo, monkeypatch: pytest.MonkeyPatch) -> OpsTarget:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    ops = OpsTarget(target, NOTIFY)
    ops.remove_a()
    ops.break_b()
    return ops


def _everything_written(run: AuditRun) -> str:
    return run.output + "".join(p.read_text(errors="replace") for p in run.out_dir.iterdir())


@pytest.mark.parametrize("hook_server", [200], indirect=True)
def test_notify_posts_verdict_and_open_p0_p1_and_overdue_blockers(
    pytester: pytest.Pytester,
    broken: OpsTarget,
    hook_server: tuple[Hook, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hook, url = hook_server
    monkeypatch.setenv("READINESS_TEST_WEBHOOK", url)
    run_at(pytester, broken, "2026-11-22T06:00:00")
    run = run_at(pytester, broken, "2026-11-23T07:00:00", "--notify")
    # The first P0 blocker was escalated while the run went on (test_early_escalation.py).
    assert len(hook.bodies) == 2
    assert hook.bodies[0]["text"].startswith("*P0 blocker found, audit continues*")
    text = hook.bodies[1]["text"]
    assert text.startswith("*Readiness NO-GO* (risk HIGH): Demo, phase 4C")
    assert "• P0 script_exists:scripts/a.py:" in text
    assert "• P1 shell_executable:scripts/b.sh: scripts/b.sh: not executable (mode 0644)" in text
    assert "Overdue: 1\n• P0 script_exists:scripts/a.py: P0 open > 24 h: emergency meeting" in text
    assert hook.bodies[1]["blocks"][0]["text"]["text"] == text
    run.result.stdout.fnmatch_lines(["*notification: posted to $READINESS_TEST_WEBHOOK (HTTP 200)"])
    assert run.json()["notify"] == {"sent": True, "detail": "posted to $READINESS_TEST_WEBHOOK (HTTP 200)"}
    assert run.json()["early_p0_escalation"]["case"] == "script_exists:scripts/a.py"
    assert "s3cr3t-token" not in _everything_written(run)


@pytest.mark.parametrize("hook_server", [500], indirect=True)
def test_failed_post_is_reported_and_changes_neither_verdict_nor_exit_status(
    pytester: pytest.Pytester,
    broken: OpsTarget,
    hook_server: tuple[Hook, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hook, url = hook_server
    monkeypatch.setenv("READINESS_TEST_WEBHOOK", url)
    quiet = run_at(pytester, broken, "2026-11-22T06:00:00", "--readiness-exit", "verdict")
    loud = run_at(pytester, broken, "2026-11-22T07:00:00", "--readiness-exit", "verdict", "--notify")
    assert len(hook.bodies) == 2  # the early P0 escalation, then the verdict
    assert loud.ret == quiet.ret == 11
    assert loud.json()["verdict"] == quiet.json()["verdict"]
    loud.result.stdout.fnmatch_lines(
        [
            "*notification: FAILED: webhook $READINESS_TEST_WEBHOOK answered HTTP 500 "
            "(verdict and exit status unchanged)"
        ]
    )
    assert loud.json()["notify"]["sent"] is False
    assert "s3cr3t-token" not in _everything_written(loud)


def test_notify_without_the_variable_says_so(pytester: pytest.Pytester, broken: OpsTarget) -> None:
    run = run_at(pytester, broken, "2026-11-22T06:00:00", "--notify")
    run.result.stdout.fnmatch_lines(["*notification: FAILED: not sent: $READINESS_TEST_WEBHOOK is not set*"])
    assert run.ret == 1
