"""`pytest --sandbox` end to end: the example pipeline audited against the local Google Cloud.

The two full runs (serial and `-n 2`, sandbox_support.py) start together, once per session,
each in its own subprocess with the repository's pytest.ini; most tests read what they wrote.
"""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_support import (
    RUN_TIMEOUT,
    SandboxRun,
    finish_run,
    processes_under,
    sandbox_env,
    start_run,
    suite_command,
)

pytestmark = pytest.mark.emulator

#: Printed by sandbox.plugin once the world is started and seeded.
WORLD_READY = re.compile(r"sandbox: local Google Cloud for project (\S+) in (\S+) ")


@pytest.fixture(scope="module")
def runs(example_sandbox_runs: dict[str, SandboxRun]) -> dict[str, SandboxRun]:
    return example_sandbox_runs


@pytest.fixture(scope="module")
def run(runs: dict[str, SandboxRun]) -> SandboxRun:
    return runs["serial"]


def test_sandbox_run_ends_with_the_examples_verdict(run: SandboxRun) -> None:
    # Exit 1: the example has deliberate defects (tests failed), not a usage error.
    assert run.returncode == 1, run.output[-3000:]
    assert run.json()["verdict"]["verdict"] == "NO-GO"
    assert WORLD_READY.search(run.output), run.output[-3000:]
    assert "sandbox: local Google Cloud stopped" in run.output


def test_infrastructure_report_has_every_section_audited(run: SandboxRun) -> None:
    report = run.doc("INFRASTRUCTURE_READINESS_REPORT")
    assert "Not audited" not in report
    for section in ("Credentials and identity", "BigQuery datasets", "Naming and schema mandates",
                    "Data dependencies", "Cloud Storage", "Cloud Run jobs", "IAM permissions",
                    "Quotas and cost", "Enabled APIs"):  # fmt: skip
        assert f"## {section}" in report


def test_infrastructure_report_summarises_each_dataset(run: SandboxRun) -> None:
    report = run.doc("INFRASTRUCTURE_READINESS_REPORT")
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in report.splitlines()]
    features = next(r for r in rows if r and r[0] == "bqx_ml_v3_features" and len(r) == 9)
    # Resource, Status, Reachable, Tables, Views, Storage, Last modified, Write access, Blockers
    assert features[1] == "READY" and features[2] == "yes" and features[7] == "yes"
    assert int(features[3]) >= 25 and features[5].endswith("KiB")


def test_dependency_analysis_names_the_stale_source_and_the_disabled_api(run: SandboxRun) -> None:
    analysis = run.doc("DEPENDENCY_ANALYSIS")
    data = analysis.split("## Data dependencies")[1].split("## Google services")[0]
    assert "| bqx_ml_v3_source.ohlc_m1_gbpusd" in data and "failed: " in data
    services = analysis.split("## Google services")[1].split("## Cloud Run jobs")[0]
    assert "cloudbuild.googleapis.com" in services and "disabled on project bqx-ml-demo" in services


def test_naming_finding_counts_the_non_compliant_cov_tables(run: SandboxRun) -> None:
    case = run.case("naming_mandate", "bqx_ml_v3_features:M008:COV")
    assert case["outcome"] == "failed"
    assert case["message"].startswith("COV: 3 of 6 tables non-compliant")
    for name in ("COV_AGG_AUDUSD", "COV_ALIGN_EURUSD", "cov_align_gbp"):
        assert name in case["message"]
    assert "COV: 3 of 6" in run.doc("INFRASTRUCTURE_READINESS_REPORT")


def test_schema_finding_names_the_table_without_its_join_key(run: SandboxRun) -> None:
    case = run.case("schema_mandate", "bqx_ml_v3_features:M005:REG")
    assert case["outcome"] == "failed"
    assert "reg_idx_gbpusd lacks interval_time" in case["message"]
    assert run.case("schema_mandate", "bqx_ml_v3_features:M005:TRI")["outcome"] == "passed"


def test_failed_merge_job_execution_is_reported(run: SandboxRun) -> None:
    case = run.case("run_job_last_execution", "bqx-ml-demo-merge")
    assert case["outcome"] == "failed"
    assert "bqx-ml-demo-merge-x7k2p" in case["message"]
    assert run.case("run_job_last_execution", "bqx-ml-demo-extract")["outcome"] == "passed"
    assert run.case("run_job_ready", "bqx-ml-demo-merge")["outcome"] == "passed"


def test_disabled_cloudbuild_api_is_reported(run: SandboxRun) -> None:
    case = run.case("api_enabled", "cloudbuild.googleapis.com")
    assert case["outcome"] == "failed"
    assert "disabled" in case["message"]
    assert run.case("api_enabled", "bigquery.googleapis.com")["outcome"] == "passed"


def test_missing_permission_is_named_and_blocks_at_p0(run: SandboxRun) -> None:
    case = run.case("iam_permissions", "project")
    assert (case["outcome"], case["priority"]) == ("failed", "P0")
    assert "bigquery.tables.getData" in case["message"]
    assert "bigquery.tables.create" not in case["message"]
    keys = {b["key"] for b in run.json()["blockers"]}
    assert "iam_permissions:project" in keys


def test_example_counts_one_blocker_per_root_cause(run: SandboxRun) -> None:
    # The syntax error of validate_row_counts.py is one blocker, its unverified imports folded
    # under it: 3 P0 defects, 5 P0 cases.
    assert run.json()["verdict"]["reasons"] == ["3 P0 blockers (5 cases)"]
    summary = run.doc("AUDIT_SUMMARY")
    likely = summary.split("### Likely blockers if started on that date\n", 1)[1].split("\n### ", 1)[0]
    assert likely.count("scripts/validation/validate_row_counts.py:13: syntax error") == 1
    assert "  - +2 checks could not run: `cli_flags:scripts/validation/validate_row_counts.py`" in likely


def test_over_budget_query_is_reported(run: SandboxRun) -> None:
    case = run.case("query_cost", "LAG consolidation scan")
    assert case["outcome"] == "failed"
    assert "$50.00" in case["message"]
    assert run.case("query_cost", "COV rename batch validation")["outcome"] == "passed"


def test_stale_source_table_and_legacy_views_are_reported(run: SandboxRun) -> None:
    stale = run.case("source_fresh", "bqx_ml_v3_source.ohlc_m1_gbpusd")
    assert stale["outcome"] == "failed" and "9.0 days ago" in stale["message"]
    assert run.case("source_fresh", "bqx_ml_v3_source.ohlc_m1_eurusd")["outcome"] == "passed"
    views = run.case("legacy_views", "bqx_ml_v3_features legacy views")
    assert views["outcome"] == "failed"
    assert "cov_gbpusd_agg: missing" in views["message"]
    assert "cov_usdjpy_agg" in views["message"] and "cov_eurusd_agg" not in views["message"]


def test_quota_near_its_limit_is_reported(run: SandboxRun) -> None:
    assert run.case("quota_headroom", "run.googleapis.com/CpuAllocPerProjectRegion")["outcome"] == "failed"
    assert run.case("quota_headroom", "bigquery.googleapis.com/QueryUsagePerDay")["outcome"] == "passed"


def test_healthy_google_resources_pass(run: SandboxRun) -> None:
    for criterion, subject in (
        ("credentials_token", "bqx-ml-pipeline@bqx-ml-demo.iam.gserviceaccount.com"),
        ("credentials_impersonation", "bqx-ml-pipeline@bqx-ml-demo.iam.gserviceaccount.com"),
        ("dataset_reachable", "bqx_ml_v3_features"),
        ("bq_write_probe", "bqx_ml_v3_features"),
        ("bucket_reachable", "gs://bqx-ml-demo-checkpoints"),
        ("checkpoint_fresh", "gs://bqx-ml-demo-checkpoints"),
        ("gcs_write_probe", "gs://bqx-ml-demo-checkpoints"),
    ):
        assert run.case(criterion, subject)["outcome"] == "passed", (criterion, subject)


def test_example_inventory_shows_naming_schema_and_cost_per_script(run: SandboxRun) -> None:
    rename = run.script("scripts/phase4c/rename_cov_tables.py")
    assert rename["naming_mandate"] == (
        "M008 PARTIAL (creates compliant names, but may process non-compliant source tables "
        "(3 of 6 tables its reads match break M008 (COV_AGG_AUDUSD, COV_ALIGN_EURUSD, cov_align_gbp)))"
    )
    assert rename["schema_mandate"] == "M005 ready: YES (4 output tables carry the mandated columns)"
    assert rename["cost_estimate"] == "$0.00 (6 tables, 1 run)"
    lag = run.script("scripts/generation/generate_lag_features.py")
    assert lag["naming_mandate"].startswith(
        "M008 NON-COMPLIANT (writes names that break M008: bqx_ml_v3_features.lag_tmp (line 14)"
    )
    consolidate = run.script("scripts/phase4c/consolidate_lag_tables.py")
    assert consolidate["naming_mandate"].startswith("M008 COMPLIANT")
    assert consolidate["cost_estimate"] == "$120 (1 query, 28 runs): over the phase budget ($50.00)"
    assert run.case("script_cost", "scripts/phase4c/consolidate_lag_tables.py")["priority"] == "P2"
    assert (
        run.script("scripts/generation/generate_cov_features.py")["cost_estimate"]
        == "$0.00 (2 tables, 28 runs)"
    )
    doc = run.doc("IMPLEMENTATION_SCRIPT_INVENTORY").split("## Tables: mandates and cost", 1)[1]
    assert "| scripts/phase4c/rename_cov_tables.py " in doc and "M008 PARTIAL (creates" in doc


def test_example_billing_export_is_fresh_and_reported_in_the_cost_section(run: SandboxRun) -> None:
    case = run.case("billing_export", "billing_export")
    assert (case["outcome"], case["priority"]) == ("passed", "P1")
    assert case["facts"]["export_tables"] == ["gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"]
    report = run.doc("INFRASTRUCTURE_READINESS_REPORT")
    assert "**Cost monitoring: in place.** Billing export bqx-ml-demo.billing_export last written " in report


def test_html_report_carries_the_verdict_banner(run: SandboxRun) -> None:
    html = (run.out_dir / "report.html").read_text()
    assert "readiness-verdict" in html
    assert "Verdict: NO-GO" in html


def test_no_server_outlives_the_run(runs: dict[str, SandboxRun]) -> None:
    for name, finished in runs.items():
        assert processes_under(finished.tmp) == [], name
        # The world's folder (key file, emulator data) is removed after a clean stop.
        assert not list(finished.tmp.glob("readiness-sandbox-*")), name


def test_xdist_run_gives_the_same_verdict_and_blockers(runs: dict[str, SandboxRun]) -> None:
    serial, parallel = runs["serial"].json(), runs["xdist"].json()
    assert parallel["verdict"] == serial["verdict"]
    blockers = {(b["key"], b["priority"], b["outcome"]) for b in serial["blockers"]}
    assert {(b["key"], b["priority"], b["outcome"]) for b in parallel["blockers"]} == blockers
    assert len(parallel["cases"]) == len(serial["cases"])


@pytest.fixture
def interrupted(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, Path, list[str]]]:
    # The small rehearsal world (below) starts fastest; -v prints a line per finished check.
    manifest = tmp_path / "target" / "readiness.toml"
    manifest.parent.mkdir()
    manifest.write_text(REHEARSAL)
    proc, tmp, out_dir, _, _ = start_run(tmp_path / "run", "--manifest", str(manifest), "-v")
    lines: list[str] = []
    # A reader thread: readline on the pipe would otherwise block past any deadline.
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    yield proc, tmp, out_dir, lines
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    reader.join(5)


def test_ctrl_c_mid_run_stops_every_server_and_writes_no_documents(
    interrupted: tuple[subprocess.Popen[str], Path, Path, list[str]],
) -> None:
    proc, tmp, out_dir, lines = interrupted
    deadline = time.monotonic() + RUN_TIMEOUT
    while not any(WORLD_READY.search(line) for line in lines):
        assert proc.poll() is None, "".join(lines)[-3000:]
        assert time.monotonic() < deadline, "the world never became ready"
        time.sleep(0.1)
    assert processes_under(tmp), "no emulator found while the world runs"
    while not any(re.search(r"::check_\w+\[.*\] (PASSED|FAILED|ERROR)", line) for line in lines):
        assert proc.poll() is None, "".join(lines)[-3000:]
        assert time.monotonic() < deadline, "no check finished"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # mid-run: one check has finished, others have not
    proc.wait(timeout=60)
    output = "".join(lines)
    # pytest's "interrupted" is 2. On CPython 3.11 a Ctrl-C can land where the traceback entry
    # has no line number, and pytest then crashes while printing the interrupt (exit 1, see
    # pytest-xdist#1196); the servers must be stopped and nothing written either way.
    interrupted = proc.returncode == 2 or (
        proc.returncode == 1 and "KeyboardInterrupt" in output and "tb_lineno" in output
    )
    assert interrupted, output[-3000:]
    assert "sandbox: local Google Cloud stopped" in output
    assert processes_under(tmp) == []
    written = sorted(p.name for p in out_dir.glob("*")) if out_dir.exists() else []
    assert written == [], f"an interrupted run left documents: {written}"


def test_emulator_that_cannot_start_is_one_line_and_a_usage_error(tmp_path: Path) -> None:
    # An emulator "installed" whose server dies at once, as on a port clash.
    venv = tmp_path / "emulators" / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / ".readiness-installed").write_text("test\n")
    (venv / "bin" / "python").symlink_to("/bin/true")
    server = venv / "bin" / "local-bigquery"
    server.write_text("#!/bin/sh\necho 'address already in use' >&2\nexit 3\n")
    server.chmod(0o755)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = sandbox_env(tmp) | {"READINESS_EMULATOR_HOME": str(tmp_path / "emulators")}
    proc = subprocess.run(
        suite_command(tmp_path / "out"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 4, proc.stdout + proc.stderr  # pytest's usage error
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    assert errors[0].startswith("ERROR: sandbox: local-bigquery exited with code 3 before it was ready")
    assert "bigquery.log" in errors[0]
    # pytest-html makes the folder in its own pytest_configure; nothing may be written in it.
    assert not list((tmp_path / "out").glob("*"))


REHEARSAL = """\
[project]
name = "Rehearsal"
phase = "1"

[[phases]]
id = "1"
name = "Load"
start = 2026-12-01

[gcp]
project = "team-project"
impersonate = "loader@team-project.iam.gserviceaccount.com"

[[mandates]]
id = "N1"
[[mandates.families]]
family = "FACT"
match = "^fact_"
table_pattern = "^fact_(daily|hourly)_[a-z]{3}$"
column_pattern = "^[a-z][a-z_]*$"
required_columns = ["event_time", "pair"]

[[datasets]]
id = "warehouse"
mandates = ["N1"]
min_tables = 3
writes = true
priority = "P0"

[[source_tables]]
table = "raw.events"
max_age_hours = 24
min_rows = 100

[[legacy_views]]
dataset = "warehouse"
renames = [{ old = "fact_old", new = "fact_daily_abc" }]

[[buckets]]
name = "team-checkpoints"
checkpoint_prefix = "ckpt/"
max_checkpoint_age_hours = 24
writes = true

[[jobs]]
name = "loader"
image = "europe-docker.pkg.dev/team-project/jobs/loader"
timeout_seconds = 3600

[[permissions]]
resource = "project"
permissions = ["bigquery.jobs.create"]

[[permissions]]
resource = "bucket:team-checkpoints"
permissions = ["storage.objects.create"]

[[permissions]]
resource = "job:loader"
permissions = ["run.jobs.run"]

[[quotas]]
service = "run.googleapis.com"
quota_id = "CpuAllocPerProjectRegion"
planned = 4
dimensions = { region = "us-central1" }

[[apis]]
name = "bigquery.googleapis.com"
"""


def test_rehearsal_of_a_teams_own_manifest_is_a_healthy_world(tmp_path: Path) -> None:
    manifest = tmp_path / "target" / "readiness.toml"
    manifest.parent.mkdir()
    manifest.write_text(REHEARSAL)
    finished = finish_run(start_run(tmp_path / "rehearsal", "--manifest", str(manifest)))
    assert "seeded by the manifest (sandbox.seed)" in finished.output, finished.output[-3000:]
    cases = finished.json()["cases"]
    open_cases = [(c["criterion"], c["subject"], c["message"]) for c in cases if c["outcome"] != "passed"]
    assert open_cases == []
    assert finished.json()["verdict"]["verdict"] == "GO"
    criteria = {c["criterion"] for c in cases}
    assert {"naming_mandate", "schema_mandate", "legacy_views", "source_fresh", "checkpoint_fresh",
            "run_job_last_execution", "iam_permissions", "quota_headroom", "api_enabled"} <= criteria  # fmt: skip
    assert processes_under(finished.tmp) == []
