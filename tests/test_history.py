"""Run history: written once per run by the controller, safe under concurrent runs, and never a
reason to lose the reports."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
from ops_support import OpsTarget, run_at, stored_runs

from conftest import REPO, TargetRepo


@pytest.fixture
def ops(target: TargetRepo) -> OpsTarget:
    return OpsTarget(target)


def test_each_run_is_recorded_once_and_blocker_ages_carry_over(
    pytester: pytest.Pytester, ops: OpsTarget
) -> None:
    ops.break_b()
    first = run_at(pytester, ops, "2026-11-22T06:00:00")
    second = run_at(pytester, ops, "2026-11-23T06:00:00", "-n", "2")

    runs = stored_runs(ops.store)
    assert [n for _, n in runs] == [6, 6]  # two runs, each once, xdist or not
    assert runs[1][0] == second.json()["run"]["id"]
    case = second.case("shell_executable", "scripts/b.sh")
    assert case["first_seen"] == "2026-11-22T06:00:00+00:00"
    assert case["age_hours"] == 24.0
    assert case["consecutive_failures"] == 2
    assert case["sla_status"] == "within"
    assert case["diff"] == "still open"
    assert first.case("shell_executable", "scripts/b.sh")["diff"] == "new"
    assert second.json()["history"] == {"store": str(ops.store), "status": "recorded", "detail": ""}
    second.result.stdout.fnmatch_lines([f"*history: recorded in {ops.store} in * ms"])
    doc = second.doc("EXECUTION_BLOCKER_ANALYSIS")
    assert "| First seen            | 2026-11-22 06:00 UTC" in doc
    assert "| Failing runs in a row | 2" in doc


def test_a_pass_resets_the_blocker_clock(pytester: pytest.Pytester, ops: OpsTarget) -> None:
    ops.break_b()
    run_at(pytester, ops, "2026-11-22T06:00:00")
    ops.fix_b()
    run_at(pytester, ops, "2026-11-23T06:00:00")
    ops.break_b()
    third = run_at(pytester, ops, "2026-11-24T06:00:00")
    case = third.case("shell_executable", "scripts/b.sh")
    assert case["first_seen"] == "2026-11-24T06:00:00+00:00"
    assert case["consecutive_failures"] == 1
    assert case["diff"] == "regression"


def test_trend_chart_is_written_beside_the_documents_and_embedded_in_html(
    pytester: pytest.Pytester, ops: OpsTarget
) -> None:
    ops.break_b()
    run_at(pytester, ops, "2026-11-22T06:00:00")
    html = pytester.path / "report.html"
    run = run_at(pytester, ops, "2026-11-23T06:00:00", "--html", str(html), "--self-contained-html")
    chart = ElementTree.parse(run.out_dir / "READINESS_TREND_20261123.svg").getroot()
    assert chart.tag == "{http://www.w3.org/2000/svg}svg"
    assert "![Open blockers and pass rate over the last runs](READINESS_TREND_20261123.svg)" in run.doc(
        "AUDIT_SUMMARY"
    )
    assert [p["open"]["P1"] for p in run.json()["trend"]] == [1, 1]
    # One dot per run and priority, each saying its count: P1 had one open blocker in both runs.
    tips = [t.text for t in chart.iter("{http://www.w3.org/2000/svg}title")]
    assert sum(1 for t in tips if t and t.startswith("P1: 1 open")) == 2, tips
    assert "data:image/svg+xml;base64," in html.read_text()


def test_without_a_store_ages_are_unknown_and_nothing_is_recorded(
    pytester: pytest.Pytester, ops: OpsTarget
) -> None:
    ops.manifest.write_text(ops.manifest.read_text().replace('[history]\nstore = "history.sqlite"\n', ""))
    ops.break_b()
    run = run_at(pytester, ops, "2026-11-22T06:00:00")
    assert run.json()["history"]["status"] == "not configured"
    assert run.case("shell_executable", "scripts/b.sh")["sla_status"] == "unknown"
    assert not ops.store.exists()
    run.result.stdout.fnmatch_lines(["*history: not configured (set --history or ?history? store)*"])


def test_unwritable_store_still_produces_the_reports_and_says_why(
    pytester: pytest.Pytester, ops: OpsTarget
) -> None:
    blocker = pytester.path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be\n")
    ops.break_b()
    run = run_at(pytester, ops, "2026-11-22T06:00:00", "--history", str(blocker / "h.sqlite"))
    baseline = run_at(pytester, ops, "2026-11-22T07:00:00")
    assert run.ret == baseline.ret == 1  # a failing P1 case: pytest's own status, unchanged
    history = run.json()["history"]
    assert history["status"] == "not written"
    assert "does not exist" in history["detail"] and str(blocker) in history["detail"]
    run.result.stdout.fnmatch_lines(["*history: NOT written (*h.sqlite): *does not exist*"])
    assert run.json()["verdict"]["verdict"] == "CONDITIONAL GO"
    assert "History: NOT written" in run.doc("AUDIT_SUMMARY")


_WRITER = textwrap.dedent(
    """
    import datetime as dt, sys
    from pathlib import Path
    from reporting.history.sqlite_store import SqliteStore
    from reporting.history.store import CaseEntry, RunEntry
    store = SqliteStore(Path(sys.argv[1]))
    tag = sys.argv[2]
    base = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
    for i in range(40):
        when = base + dt.timedelta(minutes=i)
        cases = tuple(
            CaseEntry(f"c:{n}", "c", str(n), "t", "scripts", "generation", "P1", "failed", "m", "o", "",
                      when, 1, "")
            for n in range(25)
        )
        store.record(RunEntry(f"{tag}-{i}", "Demo", "4C", "Demo|4C|m=|k=", "", "", "m", when, when,
                              "NO-GO", "HIGH", 25, 25, cases))
    store.close()
    """
)


def test_two_processes_writing_at_once_lose_nothing_and_corrupt_nothing(tmp_path: Path) -> None:
    store = tmp_path / "history.sqlite"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(store), tag], env=env, stderr=subprocess.PIPE)
        for tag in ("one", "two")
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    runs = stored_runs(store)
    assert len(runs) == 80 and all(n == 25 for _, n in runs)
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_two_suite_runs_at_the_same_time_are_both_recorded(pytester: pytest.Pytester, ops: OpsTarget) -> None:
    ops.break_b()
    procs = []
    for n, when in enumerate(("2026-11-22T06:00:00", "2026-11-22T06:00:01")):
        argv = [
            sys.executable, "-m", "pytest", "-c", str(REPO / "pytest.ini"), "--rootdir", str(REPO),
            str(REPO / "checks"), "--manifest", str(ops.manifest), "--readiness-now", when,
            "--readiness-out", str(pytester.path / f"out{n}"), "-p", "no:randomly",
        ]  # fmt: skip
        procs.append(
            subprocess.Popen(argv, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        )
    outputs = [p.communicate(timeout=300)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [1, 1], outputs
    assert [n for _, n in stored_runs(ops.store)] == [6, 6]
    assert all("history: recorded in" in out for out in outputs), outputs


def test_history_write_is_fast(tmp_path: Path) -> None:
    """One run of 500 cases is one transaction: well under a second on a plain disk."""
    from reporting.history.sqlite_store import SqliteStore
    from reporting.history.store import CaseEntry, RunEntry

    when = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
    cases = tuple(
        CaseEntry(
            f"c:{n}", "c", str(n), "t", "scripts", "generation", "P2", "passed", "", "", "", None, 0, ""
        )
        for n in range(500)
    )
    store = SqliteStore(tmp_path / "h.sqlite")
    begin = time.perf_counter()
    store.record(RunEntry("r", "Demo", "4C", "k", "", "", "m", when, when, "GO", "LOW", 500, 500, cases))
    took = time.perf_counter() - begin
    assert store.runs("Demo", "4C")[0].cases == tuple(sorted(cases, key=lambda c: c.key))
    store.close()
    assert took < 1.0, took


@pytest.mark.emulator
def test_bigquery_store_creates_its_table_and_reads_back_runs(tmp_path: Path) -> None:
    """Against the local BigQuery emulator; two tiny runs (the emulator is slow on big tables)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    from reporting.history import HistoryError, open_store
    from reporting.history.store import CaseEntry, RunEntry
    from sandbox.bigquery_emulator import start_bigquery_emulator
    from sandbox.processes import EmulatorNotInstalledError

    try:
        server = start_bigquery_emulator(tmp_path / "bq", "readiness-local")
    except EmulatorNotInstalledError as exc:
        pytest.fail(str(exc), pytrace=False)
    with server:
        client = bigquery.Client(
            project="readiness-local",
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": server.url},
        )
        client.create_dataset("ops", timeout=30)
        store = open_store("bq://readiness-local.ops.history", tmp_path, bigquery_endpoint=server.url)
        day1 = dt.datetime(2026, 11, 22, 6, tzinfo=dt.UTC)
        day2 = day1 + dt.timedelta(days=1)

        def entry(
            run_id: str, when: dt.datetime, outcome: str, first: dt.datetime | None, n: int
        ) -> RunEntry:
            case = CaseEntry(
                "script_exists:a.py", "script_exists", "a.py", "script exists", "scripts", "generation",
                "P0", outcome, "a.py: missing", "alice", "", first, n, "",
            )  # fmt: skip
            return RunEntry(
                run_id,
                "Demo",
                "4C",
                "Demo|4C|m=|k=",
                "",
                "",
                "/m.toml",
                when,
                when,
                "NO-GO",
                "HIGH",
                1,
                1,
                (case,),
            )

        assert store.runs("Demo", "4C") == []  # creates the table
        schema = {f.name: f.field_type for f in client.get_table("readiness-local.ops.history").schema}
        assert schema["started"] == "TIMESTAMP" and schema["cases"] == "RECORD"
        store.record(entry("r1", day1, "failed", day1, 1))
        store.record(entry("r2", day2, "passed", None, 0))
        runs = store.runs("Demo", "4C", scope="Demo|4C|m=|k=")
        assert [r.run_id for r in runs] == ["r2", "r1"]
        assert runs[1].cases[0].first_seen == day1 and runs[1].started == day1
        assert store.latest_cases("Demo", "4C")["script_exists:a.py"].outcome == "passed"
        assert store.latest_cases("Demo", "4C", before=day2)["script_exists:a.py"].consecutive_failures == 1
        assert store.runs("Demo", "5") == []

        missing = open_store("bq://readiness-local.nodataset.history", tmp_path, bigquery_endpoint=server.url)
        with pytest.raises(HistoryError, match=r"does dataset readiness-local\.nodataset exist\?"):
            missing.record(entry("r3", day2, "passed", None, 0))
