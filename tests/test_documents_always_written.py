"""Whatever fails around the audit, the documents are written and the failure is one clear line.

A malformed webhook URL or a webhook trickling one byte every few seconds (the documents come
first; the post has a total deadline), a script whose coding cookie names a codec that fails,
history rows SQLite accepts but the suite cannot read, a file time beyond year 9999, a "now"
at the limits of datetime.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from ops_support import OpsTarget, run_at

from conftest import REPO, AuditRun, TargetRepo, run_suite
from reporting import notify

NOTIFY = '\n[notify]\nwebhook_env = "READINESS_TEST_WEBHOOK"\n'
SECRET = "s3cr3t-token"

MALFORMED = {
    "space": f"https://hooks.example.com/services/{SECRET} x",
    "tab": f"https://hooks.example.com/\t{SECRET}",
    "non-ASCII": f"https://hooks.exämple.com/{SECRET}",
    "port": f"https://hooks.example.com:abc/{SECRET}",
    "IPv6": f"https://[::1/{SECRET}",
}


def _no_traceback(run: AuditRun) -> None:
    __tracebackhide__ = True
    assert "Traceback" not in run.output and "INTERNALERROR" not in run.output, run.output


def _all_output(run: AuditRun) -> str:
    return run.output + "".join(p.read_text(errors="replace") for p in run.out_dir.iterdir())


@pytest.mark.parametrize("shape", sorted(MALFORMED))
def test_a_malformed_webhook_url_is_one_line_without_the_url(
    shape: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("READINESS_TEST_WEBHOOK", MALFORMED[shape])
    result = notify.send(None, "READINESS_TEST_WEBHOOK")  # type: ignore[arg-type]  # never reaches the payload
    assert not result.ok
    assert result.detail.startswith("not sent: $READINESS_TEST_WEBHOOK is not a valid http(s) URL (")
    assert SECRET not in result.detail and "\n" not in result.detail


def test_a_malformed_webhook_still_writes_every_document(
    pytester: pytest.Pytester, target: TargetRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("READINESS_TEST_WEBHOOK", MALFORMED["IPv6"])
    ops = OpsTarget(target, NOTIFY)
    run = run_at(pytester, ops, "2026-11-22T06:00:00", "--notify")
    _no_traceback(run)
    assert run.ret == 0
    run.result.stdout.fnmatch_lines(
        ["*notification: FAILED: not sent: $READINESS_TEST_WEBHOOK is not a valid http(s) URL (*)*"]
    )
    assert run.json()["notify"]["sent"] is False
    assert len(run.doc("AUDIT_SUMMARY")) > 0
    assert SECRET not in _all_output(run)


@pytest.fixture
def trickling_hook() -> Iterator[tuple[str, list[int]]]:
    """A webhook that answers one byte every 4 s, for as long as the client listens."""
    server = socket.create_server(("127.0.0.1", 0))
    served: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.5)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            served.append(1)
            with conn:
                conn.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100:
                    if stop.wait(4):
                        return
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/hook/{SECRET}", served
    stop.set()
    server.close()


def test_a_trickling_webhook_is_cut_by_the_total_deadline_after_the_documents(
    pytester: pytest.Pytester,
    target: TargetRepo,
    monkeypatch: pytest.MonkeyPatch,
    trickling_hook: tuple[str, list[int]],
) -> None:
    url, served = trickling_hook
    monkeypatch.setenv("READINESS_TEST_WEBHOOK", url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    ops = OpsTarget(target, NOTIFY)
    run = run_at(pytester, ops, "2026-11-22T06:00:00", "--notify")
    _no_traceback(run)
    assert served == [1]
    limit = f"{notify.TIMEOUT:.0f}"
    run.result.stdout.fnmatch_lines(
        [f"*notification: FAILED: webhook $READINESS_TEST_WEBHOOK did not answer within {limit} s in total*"]
    )
    assert run.json()["notify"] == {
        "sent": False,
        "detail": f"webhook $READINESS_TEST_WEBHOOK did not answer within {limit} s in total",
    }
    assert len(run.doc("AUDIT_SUMMARY")) > 0


@pytest.mark.parametrize("codec", ["punycode", "rot13"])
def test_a_coding_cookie_naming_a_failing_codec_is_a_finding(
    pytester: pytest.Pytester, target: TargetRepo, codec: str
) -> None:
    target.write("requirements.txt", "")
    target.write("job.py", f"# -*- coding: {codec} -*-\nimport os\nprint('x')\n")
    manifest = target.manifest('[[scripts]]\npath = "job.py"\npurpose = "p"\ncategory = "analysis"\n')
    run = run_suite(pytester, manifest)
    _no_traceback(run)
    failed = [c for c in run.json()["cases"] if c["outcome"] != "passed"]
    assert failed, run.output
    assert any(f"its coding cookie names '{codec}', which cannot decode it" in c["message"] for c in failed)
    assert run.script("job.py")["path"] == "job.py"


def _spoil_history(store: Path) -> None:
    with sqlite3.connect(store) as conn:
        run_id = conn.execute("SELECT run_id FROM runs ORDER BY started DESC LIMIT 1").fetchone()[0]
        conn.execute(
            "UPDATE cases SET outcome = 'exploded' WHERE run_id = ? AND key LIKE 'script_exists:%'", (run_id,)
        )
        conn.execute(
            "UPDATE cases SET consecutive_failures = 'many' WHERE run_id = ? AND key LIKE 'shell_%'",
            (run_id,),
        )
        conn.execute(
            "INSERT INTO runs SELECT 'spoiled', project, phase, scope_key, markexpr, keyword, manifest, "
            "'2026-11-21 06:00:00', finished, verdict, risk, cases_run, cases_total FROM runs WHERE run_id = ?",
            (run_id,),
        )


def test_history_rows_the_suite_cannot_read_are_skipped_with_a_warning(
    pytester: pytest.Pytester, target: TargetRepo
) -> None:
    ops = OpsTarget(target)
    run_at(pytester, ops, "2026-11-22T06:00:00")
    _spoil_history(ops.store)
    run = run_at(pytester, ops, "2026-11-22T07:00:00")
    _no_traceback(run)
    warnings = [line for line in run.result.stdout.lines if "history warning:" in line]
    assert warnings, run.output
    assert any("unreadable case row 'script_exists:scripts/a.py' skipped" in w for w in warnings)
    assert any("unreadable run row 'spoiled' skipped" in w for w in warnings)
    assert len(run.doc("AUDIT_SUMMARY")) > 0

    review = _review(ops, "--now", "2026-11-22T08:00:00")
    assert review.returncode == 0, review.stderr
    assert "Traceback" not in review.stderr
    assert any(
        "unreadable case row 'script_exists:scripts/a.py' skipped" in line
        for line in review.stderr.splitlines()
    )


def _review(ops: OpsTarget, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reporting.review", "--manifest", str(ops.manifest), *args],
        cwd=ops.repo.root,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59", "0001-01-01", "9999-12-31T23:00:00-05:00"])
def test_now_at_the_limits_of_datetime_is_a_usage_error(
    pytester: pytest.Pytester, target: TargetRepo, when: str
) -> None:
    ops = OpsTarget(target)
    run = run_at(pytester, ops, when)
    _no_traceback(run)
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in run.result.stderr.lines if line.strip()]
    assert len(lines) == 1 and "--readiness-now:" in lines[0], lines
    review = _review(ops, "--now", when)
    assert review.returncode == 2
    assert [line for line in review.stderr.splitlines() if line] == [
        line for line in review.stderr.splitlines() if line.startswith("error: --now:")
    ]
    assert review.stderr.strip(), review.stderr
    assert "Traceback" not in review.stderr


def test_a_file_time_beyond_year_9999_does_not_stop_the_documents(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # ext4 and overlayfs clamp times at 2446; tmpfs keeps 64-bit times.
    shm = Path("/dev/shm")
    if not shm.is_dir():
        pytest.skip("no tmpfs at /dev/shm")
    target = TargetRepo(Path(tempfile.mkdtemp(dir=shm, prefix="readiness-test-")))
    target.write("requirements.txt", "")
    path = target.write("job.py", "A = 1\n")
    far = 300_000_000_000  # about year 11476
    try:
        os.utime(path, (far, far))
    except OSError:
        pytest.skip("the file system cannot store such a time")
    try:
        if path.stat().st_mtime != far:
            pytest.skip("the file system clamped the time")
        manifest = target.manifest('[[scripts]]\npath = "job.py"\npurpose = "p"\ncategory = "analysis"\n')
        run = run_suite(pytester, manifest)
    finally:
        shutil.rmtree(target.root, ignore_errors=True)
    _no_traceback(run)
    assert run.script("job.py")["last_modified"] == "unknown"
