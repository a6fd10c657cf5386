"""One root cause, one blocker: what could not run because another case failed is folded under it.

Statuses mean what failed, not how urgent it is; the priority stands beside them. The documents
say what was not audited (no [gcp]), a run that verified nothing leaves no documents, and a
planned start in the past is said as such.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, AuditRun, TargetRepo, run_shared, run_suite
from readiness.criteria import CRITERIA
from readiness.statuses import CRITERION_STATUS
from reporting.root_causes import DEPENDENCIES, SERVICE_OF


def _script(path: str, priority: str, extra: str = "") -> str:
    return f'[[scripts]]\npath = "{path}"\npurpose = "p"\ncategory = "generation"\npriority = "{priority}"\n{extra}\n'


# -- the relationships are data, and cover every criterion ---------------------------------------


def test_every_criterion_has_a_status_and_every_google_criterion_a_service() -> None:
    assert set(CRITERION_STATUS) == set(CRITERIA)
    assert {c.id for c in CRITERIA.values() if c.subject.google or c.reads_google} == set(SERVICE_OF)


def test_every_dependency_names_known_criteria() -> None:
    for dep in DEPENDENCIES:
        assert dep.root in CRITERIA
        assert dep.blocks <= set(CRITERIA), dep


# -- a scripts-only repository ------------------------------------------------------------------

ROOTS = (
    # P0 and does not parse: its imports cannot be checked (2 cases, 1 blocker).
    _script("jobs/broken.py", "P0")
    # P0 and absent (1 case).
    + _script("jobs/gone.py", "P0", "create_hours = 3")
    # P2 script that does not parse, whose imports matter at P0: a P0 blocker (2 cases).
    + _script("jobs/raised.py", "P2", '[scripts.criteria]\nimports_resolve = "P0"')
    # P1 and does not parse, with flags: BLOCKED (P1), told to fix the syntax.
    + _script("jobs/p1_broken.py", "P1", 'flags = ["--workers"]')
    # P1 and not executable: BLOCKED (P1) by criterion.
    + _script("jobs/merge.sh", "P1")
    # P0, but only an optional flag is missing (rated P2): PARTIAL (P2), never BLOCKED.
    + _script("jobs/flags.py", "P0", 'flags = ["--dry-run"]\n[scripts.criteria]\ncli_flags = "P2"')
    + _script("jobs/ok.py", "P0")
)


@pytest.fixture(scope="module")
def roots_run(tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    work = tmp_path_factory.mktemp("roots")
    repo = TargetRepo(work / "target")
    repo.write("jobs/broken.py", "import os\ndef main(:\n")
    repo.write("jobs/raised.py", "import os\nif True\n")
    repo.write("jobs/p1_broken.py", "import argparse\nclass X(\n")
    repo.write("jobs/merge.sh", "#!/bin/bash\necho merge\n", mode=0o644)
    repo.write("jobs/flags.py", "import argparse\nargparse.ArgumentParser().add_argument('--workers')\n")
    repo.write("jobs/ok.py", "print('ok')\n")
    repo.write("requirements.txt", "")
    return run_shared(work, repo.manifest(ROOTS))


def test_counts_read_one_blocker_per_root_cause(roots_run: AuditRun) -> None:
    data = roots_run.json()
    assert data["verdict"]["verdict"] == "NO-GO"
    assert data["verdict"]["reasons"] == ["3 P0 blockers (5 cases)"]
    assert data["blocker_counts"]["P0"] == {"blockers": 3, "cases": 5}
    assert data["blocker_counts"]["P1"] == {"blockers": 2, "cases": 4}
    assert data["blocker_counts"]["P2"] == {"blockers": 1, "cases": 1}
    # The verdict still counts every case at its own priority.
    assert sum(n for o, n in data["counts"]["P0"].items() if o != "passed") == 4
    assert "  3 P0 blockers (5 cases)" in roots_run.output
    assert (
        "  blockers: 3 P0 blockers (5 cases), 2 P1 blockers (4 cases), 1 P2 blocker (1 case)"
        in roots_run.output
    )


def test_folded_cases_name_their_root_and_the_root_lists_them(roots_run: AuditRun) -> None:
    assert roots_run.case("imports_resolve", "jobs/broken.py")["blocked_by"] == "python_parses:jobs/broken.py"
    assert roots_run.case("cli_flags", "jobs/p1_broken.py")["blocked_by"] == "python_parses:jobs/p1_broken.py"
    assert roots_run.case("python_parses", "jobs/broken.py")["blocked_by"] == ""
    roots = {r["key"]: r for r in roots_run.json()["roots"]}
    assert roots["python_parses:jobs/broken.py"]["folded"] == ["imports_resolve:jobs/broken.py"]
    raised = roots["python_parses:jobs/raised.py"]
    assert (raised["priority"], raised["own_priority"]) == ("P0", "P2")
    # Root first, most urgent first: the raised P2 root is among the P0 blockers.
    assert [r["key"] for r in roots_run.json()["roots"]][:3] == [
        "python_parses:jobs/broken.py",
        "script_exists:jobs/gone.py",
        "python_parses:jobs/raised.py",
    ]


def test_a_root_is_listed_once_with_what_it_kept_from_running(roots_run: AuditRun) -> None:
    summary = roots_run.doc("AUDIT_SUMMARY")
    likely = summary.split("### Likely blockers if started on that date\n", 1)[1].split("\n### ", 1)[0]
    assert likely.count("jobs/broken.py") == 2  # the root's line and its folded line
    assert "- P0 jobs/broken.py:2: syntax error" in likely
    assert "  - +1 check could not run: `imports_resolve:jobs/broken.py`" in likely
    assert "not verified" not in likely
    analysis = roots_run.doc("EXECUTION_BLOCKER_ANALYSIS")
    p0 = analysis.split("## P0 blockers", 1)[1].split("\n## P1 blockers", 1)[0]
    assert len(re.findall(r"^### P0-\d+: ", p0, re.M)) == 3
    assert "| Priority                    | P0: its own is P2; it blocks imports_resolve:jobs/raised.py" in p0
    assert "+1 check could not run: imports_resolve:jobs/raised.py (P0)" in p0


@pytest.mark.parametrize(
    ("path", "status", "status_text", "recommendation"),
    [
        ("jobs/broken.py", "BLOCKED", "BLOCKED (P0)", "Fix before execution: fix the syntax error"),
        ("jobs/gone.py", "MISSING", "MISSING (P0)", "Create (estimated 3 h): p"),
        ("jobs/raised.py", "BLOCKED", "BLOCKED (P0)", "Fix before execution: fix the syntax error"),
        ("jobs/p1_broken.py", "BLOCKED", "BLOCKED (P1)", "Fix before execution: fix the syntax error"),
        ("jobs/merge.sh", "BLOCKED", "BLOCKED (P1)", "Fix before execution: chmod +x and commit the mode"),
        ("jobs/flags.py", "PARTIAL", "PARTIAL (P2)", "Update: add the flags to the script's argument parser"),
        ("jobs/ok.py", "READY", "READY", "None: ready to run"),
    ],
)
def test_status_follows_what_failed_and_the_priority_stands_beside_it(
    roots_run: AuditRun, path: str, status: str, status_text: str, recommendation: str
) -> None:
    row = roots_run.script(path)
    assert (row["status"], row["status_text"], row["recommendation"]) == (status, status_text, recommendation)
    line = next(
        ln
        for ln in roots_run.doc("IMPLEMENTATION_SCRIPT_INVENTORY").splitlines()
        if ln.startswith(f"| {path} ")
    )
    assert f"| {status_text} " in line
    phase = roots_run.doc("PHASE_4C_READINESS_REPORT")
    assert f"| {status_text} " in next(ln for ln in phase.splitlines() if ln.startswith(f"| {path} "))


def test_a_script_that_does_not_parse_lists_one_blocker(roots_run: AuditRun) -> None:
    row = roots_run.script("jobs/p1_broken.py")
    assert row["blockers"] == [
        "P1 jobs/p1_broken.py:2: syntax error: '(' was never closed (+2 checks could not run)"
    ]


def test_without_gcp_the_verdict_summary_and_scope_say_google_cloud_was_not_audited(
    roots_run: AuditRun,
) -> None:
    data = roots_run.json()
    assert data["verdict"]["headline"] == "NO-GO; Google Cloud not audited"
    assert data["scope"]["full"] is False
    n = len(data["cases"])
    assert data["scope"]["description"] == (
        f"repository checks only: no selection (full suite); {n} of {n} cases run; "
        "Google Cloud not audited (the manifest has no [gcp] section)"
    )
    summary = roots_run.doc("AUDIT_SUMMARY")
    assert "- Verdict: **NO-GO**; Google Cloud not audited (risk HIGH)" in summary
    infra = summary.split("### Infrastructure blockers\n\n", 1)[1].split("\n\n", 1)[0]
    assert infra == "- **Google Cloud not audited**: the manifest has no [gcp] section."
    assert "readiness: NO-GO; Google Cloud not audited (risk HIGH)" in roots_run.output
    phase = roots_run.doc("PHASE_4C_READINESS_REPORT")
    assert "## What the phase needs: Google Cloud\n\n**Google Cloud not audited**" in phase


def test_risk_names_the_blockers_that_make_it_high(roots_run: AuditRun) -> None:
    (line,) = roots_run.json()["verdict"]["risk_reasons"]
    assert line.startswith("HIGH: 3 P0 blockers: jobs/broken.py:2: syntax error")
    assert "jobs/gone.py: not found" in line and "(+1 check could not run)" in line
    summary = roots_run.doc("AUDIT_SUMMARY")
    assert "### Risk level: HIGH\n\nHIGH: 3 P0 blockers: " in summary


def test_go_without_gcp_reads_go_for_the_repository_checks(
    pytester: pytest.Pytester, target: TargetRepo
) -> None:
    target.write("ok.py", "print(1)\n")
    target.write("requirements.txt", "")
    run = run_suite(pytester, target.manifest(_script("ok.py", "P0")), "--readiness-exit", "verdict")
    assert run.ret == 0, run.output
    assert run.json()["verdict"]["headline"] == "GO for the repository checks; infrastructure not audited"
    assert "readiness: GO for the repository checks; infrastructure not audited (risk LOW)" in run.output
    summary = run.doc("AUDIT_SUMMARY")
    assert "## Verdict: GO for the repository checks; infrastructure not audited" in summary
    assert "**Yes, for the audited scope only**" in summary and "Google Cloud was not audited." in summary
    assert "- **Google Cloud not audited**: the manifest has no [gcp] section." in summary


@pytest.mark.parametrize(
    ("args", "why"),
    [(("--collect-only",), "--collect-only"), (("-k", "nothing_matches"), "no case was selected")],
    ids=["collect-only", "nothing-selected"],
)
def test_a_run_that_verified_nothing_writes_no_documents_and_gives_no_verdict(
    pytester: pytest.Pytester, target: TargetRepo, args: tuple[str, ...], why: str
) -> None:
    target.write("ok.py", "print(1)\n")
    target.write("requirements.txt", "")
    run = run_suite(pytester, target.manifest(_script("ok.py", "P0")), *args)
    assert f"readiness: no case ran ({why}): no verdict, no documents written" in run.output
    assert "NO-GO" not in run.output and "readiness: GO" not in run.output
    assert not run.out_dir.exists() or not list(run.out_dir.iterdir())


def test_a_planned_start_in_the_past_is_said_as_such(pytester: pytest.Pytester, target: TargetRepo) -> None:
    target.write("requirements.txt", "")
    run = run_suite(
        pytester,
        target.manifest(_script("gone.py", "P0", "create_hours = 2")),
        "--readiness-now",
        "2026-12-01T06:00:00",
    )
    assert "Total: 2 h for 1 script(s); the planned start was 8 days ago." in run.doc("AUDIT_SUMMARY")
    assert "the planned start was 8 days ago (2026-11-23)." in run.doc("PHASE_4C_READINESS_REPORT")
    assert "-8 day" not in run.doc("AUDIT_SUMMARY")


# -- no credentials: every Google case is blocked by the credentials case --------------------------

NO_CREDENTIALS = """
[gcp]
project = "nowhere-project"
timeout_seconds = 2

[[datasets]]
id = "features"
priority = "P0"

[[buckets]]
name = "ckpt-bkt"
priority = "P1"

[[jobs]]
name = "merge"
priority = "P1"

[[apis]]
name = "run.googleapis.com"
priority = "P2"
"""


def test_without_credentials_every_google_case_is_folded_under_the_credentials(tmp_path: Path) -> None:
    repo = TargetRepo(tmp_path / "target")
    repo.write("requirements.txt", "")
    empty = tmp_path / "gcloud"
    empty.mkdir()
    run = run_shared(
        tmp_path, repo.manifest(NO_CREDENTIALS), env={"CLOUDSDK_CONFIG": str(empty), "NO_GCE_CHECK": "true"}
    )
    data = run.json()
    google = [c for c in data["cases"] if c["criterion"] != "credentials_token"]
    assert google and all(c["outcome"] == "error" for c in google)
    assert {c["blocked_by"] for c in google} == {"credentials_token:application default credentials"}
    (root,) = data["roots"]
    assert root["key"] == "credentials_token:application default credentials"
    assert len(root["folded"]) == len(google)
    assert data["verdict"]["reasons"] == [f"1 P0 blocker ({len(google) + 1} cases)"]
    assert f"(+{len(google)} checks could not run)" in run.output
    infra = run.doc("INFRASTRUCTURE_READINESS_REPORT")
    assert "(could not run: blocked by credentials_token:application default credentials)" in infra


# -- Google roots in a local world: a missing job, a disabled API, a scratch object left behind ---


def _google_world_manifest(repo: TargetRepo, world: Any) -> Path:
    from gcp_support import gcp_section

    repo.write("requirements.txt", "")
    pipeline = world.pipeline_account()
    body = (
        gcp_section(world, impersonate=pipeline, timeout=2)
        + """
[[jobs]]
name = "gone-job"
priority = "P1"

[[permissions]]
resource = "job:gone-job"
permissions = ["run.jobs.run"]
priority = "P0"

[[apis]]
name = "cloudquotas.googleapis.com"
priority = "P2"

[[quotas]]
service = "run.googleapis.com"
quota_id = "CpuAllocPerProjectRegion"
planned = 4
priority = "P1"

[[buckets]]
name = "nodelete-bkt"
writes = true
priority = "P2"

[[buckets]]
name = "nowrite-bkt"
writes = true
priority = "P2"
"""
    )
    return repo.manifest(body)


@pytest.fixture(scope="module")
def google_runs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from gcp_support import PROJECT, started_world

    from sandbox.fakes import FaultRule

    work = tmp_path_factory.mktemp("google-roots")
    with started_world(work / "world") as world:
        world.service_usage.set_service(PROJECT, "cloudquotas.googleapis.com", "DISABLED")
        admin = world.storage_admin()
        admin.create_bucket("nodelete-bkt")
        admin.create_bucket("nowrite-bkt")
        front = world.gcs_front
        assert front is not None
        front.add_fault(FaultRule.error(403, method="DELETE", path=r"/b/nodelete-bkt/o/", count=None))
        front.add_fault(FaultRule.error(403, method="POST", path=r"/b/nowrite-bkt/o$", count=None))
        manifest = _google_world_manifest(TargetRepo(work / "target"), world)
        with ThreadPoolExecutor(2) as pool:
            serial = pool.submit(run_shared, work / "serial", manifest, env=world.env(), timeout=120)
            parallel = pool.submit(
                run_shared, work / "parallel", manifest, "-n", "2", env=world.env(), timeout=120
            )
            yield serial.result(), parallel.result()


def test_a_missing_job_is_one_blocker_and_its_permissions_raise_it_to_p0(google_runs: Any) -> None:
    serial, _ = google_runs
    roots = {r["key"]: r for r in serial.json()["roots"]}
    job = roots["run_job_ready:gone-job"]
    assert sorted(job["folded"]) == [
        "iam_permissions:job:gone-job",
        "run_job_config:gone-job",
        "run_job_last_execution:gone-job",
    ]
    assert (job["priority"], job["own_priority"]) == ("P0", "P1")
    assert not any(k.startswith(("iam_permissions:", "run_job_config:", "run_job_last")) for k in roots)
    summary = serial.doc("AUDIT_SUMMARY")
    likely = summary.split("### Likely blockers if started on that date\n", 1)[1].split("\n### ", 1)[0]
    # The root once, then what it kept from running folded under it.
    assert likely.count("job not found") == 1 and likely.count("gone-job (project") == 1, likely
    assert likely.index("job not found") < likely.index("+3 checks could not run")


def test_a_disabled_api_blocks_the_checks_of_its_service(google_runs: Any) -> None:
    serial, _ = google_runs
    quota = serial.case("quota_headroom", "run.googleapis.com/CpuAllocPerProjectRegion")
    assert quota["outcome"] == "error"
    assert quota["blocked_by"] == "api_enabled:cloudquotas.googleapis.com"
    api = serial.case("api_enabled", "cloudquotas.googleapis.com")
    assert api["outcome"] == "failed" and api["blocked_by"] == ""
    phase = serial.doc("PHASE_4C_READINESS_REPORT")
    row = next(ln for ln in phase.splitlines() if ln.startswith("| cloudquotas.googleapis.com "))
    assert "| api " in row and "BLOCKED (" in row


def test_the_phase_report_covers_every_google_item(google_runs: Any) -> None:
    serial, _ = google_runs
    phase = serial.doc("PHASE_4C_READINESS_REPORT")
    google = phase.split("## What the phase needs: Google Cloud", 1)[1].split("\n## ", 1)[0]
    for item in (
        "gone-job",
        "job:gone-job",
        "cloudquotas.googleapis.com",
        "gs://nodelete-bkt",
        "gs://nowrite-bkt",
    ):
        assert f"| {item} " in google, item
    row = next(ln for ln in google.splitlines() if ln.startswith("| gone-job "))
    # Not deployed: MISSING, at the priority of the P0 cases it keeps from running.
    assert "MISSING (P0)" in row and "+3 checks could not run" in row


def test_a_scratch_object_left_behind_is_named_with_its_expiry_and_the_sweep_hint(google_runs: Any) -> None:
    serial, _ = google_runs
    (left,) = serial.json()["leftovers"]
    assert left["name"].startswith("gs://nodelete-bkt/zz_readiness_scratch_") and left["confirmed"] is True
    assert left["expires"]
    for doc in ("AUDIT_SUMMARY", "EXECUTION_BLOCKER_ANALYSIS"):
        text = serial.doc(doc)
        assert (
            f"{left['name']}: still present after the run (expires on its own at {left['expires']})" in text
        )
        assert "`pytest --sweep-scratch`" in text
        # The refused write left nothing: that bucket is not named.
        assert "gs://nowrite-bkt/zz_" not in text
    assert "scratch left: gs://nodelete-bkt/" in serial.output


def test_root_causes_are_the_same_with_and_without_xdist(google_runs: Any) -> None:
    serial, parallel = google_runs
    assert "2 workers" in parallel.output

    def documents(run: AuditRun) -> dict[str, str]:
        # The run id and the scratch object's name and expiry (random per run) may differ.
        volatile = re.compile(r"\(run [^)]*\)|zz_readiness_scratch_\S+|\d{4}-\d\d-\d\dT[\d:.+]+")
        return {p.name: volatile.sub("~", p.read_text()) for p in sorted(run.out_dir.glob("*.md"))}

    assert documents(parallel) == documents(serial)

    def roots(run: AuditRun) -> list[tuple[str, ...]]:
        return [
            (r["key"], r["priority"], r["own_priority"], r["outcome"], *r["folded"])
            for r in run.json()["roots"]
        ]

    assert roots(parallel) == roots(serial)
    assert [c["blocked_by"] for c in parallel.json()["cases"]] == [
        c["blocked_by"] for c in serial.json()["cases"]
    ]


# -- the shipped example, offline (no credentials) ------------------------------------------------


def test_example_offline_folds_every_google_case_and_the_unparsable_scripts_checks(tmp_path: Path) -> None:
    empty = tmp_path / "gcloud"
    empty.mkdir()
    run = run_shared(
        tmp_path,
        REPO / "examples" / "bqx_demo" / "readiness.toml",
        env={"CLOUDSDK_CONFIG": str(empty), "NO_GCE_CHECK": "true"},
    )
    data = run.json()
    roots = {r["key"]: r for r in data["roots"]}
    validate = roots["python_parses:scripts/validation/validate_row_counts.py"]
    assert sorted(validate["folded"]) == [
        "cli_flags:scripts/validation/validate_row_counts.py",
        "imports_resolve:scripts/validation/validate_row_counts.py",
    ]
    credentials = roots["credentials_token:bqx-ml-pipeline@bqx-ml-demo.iam.gserviceaccount.com"]
    google = [c for c in data["cases"] if c["blocked_by"] == credentials["key"]]
    assert len(credentials["folded"]) == len(google) > 40
    # Three P0 defects: the credentials, the missing script, the syntax error.
    p0 = [r["key"] for r in data["roots"] if r["priority"] == "P0"]
    assert p0 == [credentials["key"], "script_exists:scripts/phase4c/rename_var_tables.py", validate["key"]]
    assert data["verdict"]["reasons"][0].startswith("3 P0 blockers (")
    row = run.script("scripts/validation/validate_row_counts.py")
    assert (row["status_text"], row["recommendation"]) == (
        "BLOCKED (P0)",
        "Fix before execution: fix the syntax error",
    )
    # Its flags are a P1 finding; its P0 output-schema case could not run without credentials.
    consolidate = run.script("scripts/phase4c/consolidate_lag_tables.py")
    assert consolidate["status_text"] == "PARTIAL (P0)"
    assert consolidate["schema_mandate"].startswith("unverified: ")
