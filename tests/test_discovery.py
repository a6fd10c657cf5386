"""Discovery: scripts the manifest does not name are audited too, listed as UNDECLARED at P3."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import AuditRun, TargetRepo, run_shared
from readiness.discovery import DEFAULT_EXCLUDE, discover, excluded, guess_category

MANIFEST = """\
[[scripts]]
path = "scripts/ok.py"
purpose = "Declared and sound"
category = "generation"
priority = "P1"

[discovery]
exclude = ["tests", "vendor", "scripts/scratch_*.py"]
"""

MAIN = 'import argparse\n\n\ndef main() -> None:\n    argparse.ArgumentParser().parse_args()\n\n\nif __name__ == "__main__":\n    main()\n'


def _repo(target: TargetRepo) -> None:
    target.write("scripts/ok.py", MAIN)
    # Undeclared and broken: the audit must still find them.
    target.write(
        "scripts/validate_counts.py",
        '"""Validate."""\nfor x in range(3)\n    pass\nif __name__ == "__main__":\n    pass\n',
    )
    # Not executable, as a sourced library or a script run with `bash x.sh` is: only its syntax
    # error is a finding.
    target.write("scripts/merge_all.sh", "#!/usr/bin/env bash\nif then\necho merge\n", mode=0o644)
    target.write(
        "scripts/needs_polars.py", 'import polars_not_installed_xyz\n\nif __name__ == "__main__":\n    pass\n'
    )
    target.write("docker/Dockerfile", "FROM python:3.11-slim\nCOPY missing_dir/ /app/\n")
    # Not scripts, or left out of discovery.
    target.write("scripts/helpers.py", "def helper() -> int:\n    return 1\n")
    target.write("tests/test_it.py", 'if __name__ == "__main__":\n    pass\n')
    target.write("vendor/tool.py", 'if __name__ == "__main__":\n    x = (\n')
    target.write("scripts/scratch_1.py", 'if __name__ == "__main__":\n    x = (\n')
    target.write(".hidden/run.sh", "#!/bin/sh\necho\n", mode=0o644)
    target.write("venv2/pyvenv.cfg", "home = /usr/bin\n")
    target.write("venv2/bin/activate.sh", "#!/bin/sh\necho\n", mode=0o644)


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    base = tmp_path_factory.mktemp("discovery")
    target = TargetRepo(base / "target")
    _repo(target)
    return run_shared(base, target.manifest(MANIFEST))


UNDECLARED = (
    "docker/Dockerfile",
    "scripts/merge_all.sh",
    "scripts/needs_polars.py",
    "scripts/validate_counts.py",
)


def test_undeclared_scripts_are_listed_as_undeclared(audit: AuditRun) -> None:
    rows = {r["path"]: r for r in audit.json()["inventory"]}
    assert sorted(p for p, r in rows.items() if r["status"] == "UNDECLARED") == list(UNDECLARED)
    assert rows["scripts/ok.py"]["status"] == "READY"
    assert rows["scripts/validate_counts.py"]["category"] == "validation"
    assert rows["scripts/merge_all.sh"]["category"] == "extraction/merge"


@pytest.mark.parametrize(
    ("criterion", "subject", "text"),
    [
        ("python_parses", "scripts/validate_counts.py", "syntax error"),
        ("shell_parses", "scripts/merge_all.sh", "bash -n"),
        ("imports_resolve", "scripts/needs_polars.py", "polars_not_installed_xyz"),
        ("docker_sources", "docker/Dockerfile", "missing_dir"),
    ],
)
def test_an_undeclared_broken_script_is_a_p3_finding(
    audit: AuditRun, criterion: str, subject: str, text: str
) -> None:
    case = audit.case(criterion, subject)
    assert case["outcome"] == "failed"
    assert case["priority"] == "P3"
    assert text in case["message"]
    assert any(text in b for b in audit.script(subject)["blockers"])


def test_undeclared_scripts_get_only_the_checks_that_need_no_declaration(audit: AuditRun) -> None:
    criteria = {c["criterion"] for c in audit.json()["cases"] if c["subject"] in UNDECLARED}
    assert "script_exists" not in criteria
    assert "cli_flags" not in criteria
    assert "docker_entrypoint" not in criteria
    # How an undeclared script is run is unknown, so its executable bit is no finding.
    assert "shell_executable" not in criteria


def test_excluded_hidden_and_virtualenv_files_are_not_audited(audit: AuditRun) -> None:
    subjects = {c["subject"] for c in audit.json()["cases"]} | {r["path"] for r in audit.json()["inventory"]}
    for path in ("tests/test_it.py", "vendor/tool.py", "scripts/scratch_1.py", ".hidden/run.sh", "venv2/bin/activate.sh", "scripts/helpers.py"):  # fmt: skip
        assert path not in subjects


def test_summary_counts_the_undeclared_scripts(audit: AuditRun) -> None:
    line = "4 scripts in the repository are not in the manifest"
    assert line in audit.output
    assert line in audit.doc("AUDIT_SUMMARY")


def test_undeclared_findings_do_not_block_the_phase(audit: AuditRun) -> None:
    # P3 findings only: the verdict is decided by the declared script, which is sound.
    assert audit.json()["verdict"]["verdict"] in ("GO", "CONDITIONAL GO")


def test_discovery_can_be_switched_off(tmp_path: Path) -> None:
    target = TargetRepo(tmp_path / "target")
    _repo(target)
    run = run_shared(
        tmp_path,
        target.manifest(MANIFEST.replace('exclude = ["tests"', 'enabled = false\nexclude = ["tests"')),
    )
    assert [r["path"] for r in run.json()["inventory"]] == ["scripts/ok.py"]
    assert "not in the manifest" not in run.output


def test_exclude_patterns_match_names_anywhere_and_paths_from_the_root() -> None:
    assert excluded("a/tests/x.py", ["tests"])
    assert excluded("pkg/test_x.py", DEFAULT_EXCLUDE)
    assert excluded("scripts/scratch_1.py", ["scripts/scratch_*.py"])
    assert excluded("third_party/lib/x.py", ["third_party/*"])
    assert not excluded("scripts/contest.py", DEFAULT_EXCLUDE)
    assert not excluded("other/scripts/scratch_1.py", ["scripts/scratch_*.py"])


def test_discovery_finds_entry_points_by_guard_shebang_and_steps(tmp_path: Path) -> None:
    target = TargetRepo(tmp_path)
    target.write("run_job", "#!/usr/bin/env python3\nprint(1)\n")
    target.write("deploy", "#!/bin/bash\necho\n")
    target.write("lib.py", "X = 1\n")
    target.write("build/images.yaml", "steps:\n  - name: gcr.io/cloud-builders/docker\n")
    target.write(".github/workflows/ci.yml", "jobs:\n  a:\n    steps:\n      - run: x\n")
    target.write("config.yaml", "key: value\n")
    found = {(f.path, f.kind) for f in discover(tmp_path)}
    assert found == {("run_job", "python"), ("deploy", "shell"), ("build/images.yaml", "cloudbuild")}


@pytest.mark.parametrize(
    ("path", "category"),
    [
        ("scripts/generate_cov_features.py", "generation"),
        ("scripts/validate_row_counts.py", "validation"),
        ("scripts/extract_to_gcs.sh", "extraction/merge"),
        ("scripts/merge_only.sh", "extraction/merge"),
        ("scripts/analyze_feature_coverage.py", "analysis"),
        ("jobs/deploy_jobs.sh", "deployment"),
        # The name decides before the folder; the folder when the name says nothing.
        ("scripts/validation/extract_sample.py", "extraction/merge"),
        ("scripts/validation/step_001.py", "validation"),
    ],
)
def test_category_is_guessed_from_name_then_folder(path: str, category: str) -> None:
    assert guess_category(path, "python")[0] == category
