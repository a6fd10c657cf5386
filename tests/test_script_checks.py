"""Script, container and Cloud Build checks, end to end on small target repositories.

One repository holds a passing and a failing script for every check; it is audited once per
module (a subprocess run costs most of a second) and each test reads one case of the results.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from conftest import AuditRun, TargetRepo, run_shared, run_suite

MANIFEST = """\
[[scripts]]
path = "ok/cli.py"
purpose = "Rename tables"
category = "generation"
priority = "P1"
flags = ["--workers", "--dry-run"]

[[scripts]]
path = "py/click_cli.py"
purpose = "Click entry point"
category = "analysis"
flags = ["--workers", "-n"]

[[scripts]]
path = "py/missing_import.py"
purpose = "Needs a module nobody installed"
category = "analysis"

[[scripts]]
path = "py/bad_syntax.py"
purpose = "Validate row counts"
category = "validation"
priority = "P0"
flags = ["--dataset"]

[[scripts]]
path = "py/argv.py"
purpose = "Reads sys.argv by hand"
category = "analysis"
flags = ["--workers"]

[[scripts]]
path = "py/missing_flag.py"
purpose = "Consolidate LAG tables"
category = "generation"
flags = ["--dataset", "--workers"]

[[scripts]]
path = "py/missing.py"
purpose = "Rename VAR tables"
category = "generation"
priority = "P0"
flags = ["--dataset"]
create_hours = 6

[[scripts]]
path = "py/outside.py"
purpose = "A link that leaves the repository"
category = "analysis"

[[scripts]]
path = "sh/ok.sh"
purpose = "Extract to GCS"
category = "extraction/merge"
flags = ["--bucket", "-w"]

[[scripts]]
path = "sh/broken.sh"
purpose = "Broken shell"
category = "extraction/merge"

[[scripts]]
path = "sh/noexec.sh"
purpose = "Merge checkpoints"
category = "extraction/merge"
priority = "P1"
flags = ["--workers"]

[[scripts]]
path = "docker/Dockerfile.ok"
purpose = "Extract image"
category = "deployment"
context = "."

[[scripts]]
path = "docker/Dockerfile.bad"
purpose = "Merge image"
category = "deployment"
context = "."

[[scripts]]
path = "docker/Dockerfile.nocmd"
purpose = "Image that starts nothing"
category = "deployment"

[[scripts]]
path = "cloudbuild.yaml"
purpose = "Builds the extract image"
category = "deployment"

[[scripts]]
path = "cloudbuild-missing.yaml"
purpose = "Builds an image from a Dockerfile that is gone"
category = "deployment"

[[scripts]]
path = "build/bad_yaml.yaml"
purpose = "Broken YAML"
category = "deployment"

[[scripts]]
path = "build/nosteps.yaml"
purpose = "Not a Cloud Build config"
category = "deployment"
"""

OK_CLI = """\
import argparse
import json
import os.path

from packaging.version import Version

import helpers
import localpkg.sub


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", "-w", type=int, default=4)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()

    print(json.dumps(vars(args)), Version("1.0"), os.path.sep, helpers, localpkg)


if __name__ == "__main__":
    main()
"""

CLICK_CLI = """\
import click


@click.command()
@click.option("--workers", "-n", type=int)
def main(workers: int) -> None:
    click.echo(workers)
"""

OK_SH = """\
#!/usr/bin/env bash
set -euo pipefail
while [ $# -gt 0 ]; do
  case "$1" in
    --bucket) BUCKET="$2"; shift 2 ;;
    -w) WORKERS="$2"; shift 2 ;;
    *) echo "unknown $1" >&2; exit 2 ;;
  esac
done
gsutil cp data "gs://$BUCKET/"
"""


def build_mixed_repo(repo: TargetRepo, outside: Path) -> Path:
    repo.write("ok/cli.py", OK_CLI)
    repo.write("ok/helpers.py", "VALUE = 1\n")
    repo.write("localpkg/__init__.py", "")
    repo.write("localpkg/sub.py", "")
    repo.write("py/click_cli.py", CLICK_CLI)
    repo.write("py/missing_import.py", "import os\nimport nonexistent_mod_xyz.sub\n")
    repo.write("py/bad_syntax.py", "import argparse\n\ndef main(:\n    pass\n")
    repo.write(
        "py/argv.py",
        "import sys\n\nworkers = int(sys.argv[sys.argv.index('--workers') + 1])\n",
    )
    repo.write(
        "py/missing_flag.py",
        "import argparse\np = argparse.ArgumentParser()\np.add_argument('--dataset')\np.parse_args()\n",
    )
    outside.write_text("print('not yours')\n")
    (repo.root / "py" / "outside.py").symlink_to(outside)
    repo.write("sh/ok.sh", OK_SH, mode=0o755)
    repo.write("sh/broken.sh", '#!/bin/bash\nif [ -n "$1" ]; then\n  echo yes\n', mode=0o755)
    repo.write(
        "sh/noexec.sh",
        "#!/bin/bash\n# TODO: accept --workers\necho merging\n",
        mode=0o644,
    )
    repo.write(
        "docker/Dockerfile.ok",
        """\
        FROM python:3.11-slim AS build
        RUN pip wheel --wheel-dir /opt/wheels packaging

        FROM python:3.11-slim
        WORKDIR /app
        COPY --from=build /opt/wheels /wheels
        COPY sh/ok.sh /app/
        ENTRYPOINT ["bash", "/app/ok.sh"]
        """,
    )
    repo.write(
        "docker/Dockerfile.bad",
        """\
        FROM python:3.11-slim
        WORKDIR /app
        COPY ok/ ok/
        COPY scripts/merge/ scripts/merge/
        CMD ["python", "scripts/merge/merge_features.py"]
        """,
    )
    repo.write("docker/Dockerfile.nocmd", "FROM scratch\n")
    repo.write(
        "cloudbuild.yaml",
        """\
        steps:
          - name: gcr.io/cloud-builders/docker
            args: ["build", "-f", "docker/Dockerfile.ok", "-t", "extract", "."]
        """,
    )
    repo.write(
        "cloudbuild-missing.yaml",
        """\
        steps:
          - name: gcr.io/cloud-builders/docker
            args: ["build", "-f", "docker/Dockerfile.gone", "-t", "gone", "."]
        """,
    )
    repo.write("build/bad_yaml.yaml", "steps:\n  - name: [unclosed\n    args: x\n")
    repo.write("build/nosteps.yaml", "images:\n  - us-docker.pkg.dev/p/r/img\n")
    return repo.manifest(MANIFEST)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    work = tmp_path_factory.mktemp("mixed")
    repo = TargetRepo(work / "target")
    manifest = build_mixed_repo(repo, work / "secret.py")
    run = run_shared(work, manifest)
    assert run.ret in (0, 1), run.output
    return run


def _outcome(run: AuditRun, criterion: str, subject: str) -> tuple[str, str]:
    case = run.case(criterion, subject)
    return case["outcome"], case["message"]


# -- every check: a passing and a failing case ------------------------------------------------

PASSING = [
    ("script_exists", "ok/cli.py"),
    ("python_parses", "ok/cli.py"),
    ("imports_resolve", "ok/cli.py"),
    ("cli_flags", "ok/cli.py"),
    ("cli_flags", "py/click_cli.py"),
    ("shell_parses", "sh/ok.sh"),
    ("shell_executable", "sh/ok.sh"),
    ("cli_flags", "sh/ok.sh"),
    ("docker_sources", "docker/Dockerfile.ok"),
    ("docker_entrypoint", "docker/Dockerfile.ok"),
    ("cloudbuild_parses", "cloudbuild.yaml"),
    ("cloudbuild_dockerfile", "cloudbuild.yaml"),
]


@pytest.mark.parametrize(("criterion", "subject"), PASSING, ids=[f"{c}:{s}" for c, s in PASSING])
def test_sound_script_passes_its_check(mixed: AuditRun, criterion: str, subject: str) -> None:
    outcome, message = _outcome(mixed, criterion, subject)
    assert (outcome, message) == ("passed", "")


FAILING = [
    ("script_exists", "py/missing.py", "failed", "py/missing.py: not found; estimated 6 h to create"),
    ("python_parses", "py/bad_syntax.py", "failed", "py/bad_syntax.py:3: syntax error"),
    (
        "imports_resolve",
        "py/missing_import.py",
        "failed",
        "py/missing_import.py: imports not found in the run environment 'default' (",
    ),
    ("cli_flags", "py/missing_flag.py", "failed", "py/missing_flag.py: does not define --workers"),
    ("cli_flags", "sh/noexec.sh", "failed", "sh/noexec.sh: does not define --workers"),
    ("shell_parses", "sh/broken.sh", "failed", "sh/broken.sh: bash -n:"),
    ("shell_executable", "sh/noexec.sh", "failed", "sh/noexec.sh: not executable (mode 0644)"),
    (
        "docker_sources",
        "docker/Dockerfile.bad",
        "failed",
        "docker/Dockerfile.bad: COPY/ADD sources missing from context '.': scripts/merge/ (line 4)",
    ),
    (
        "docker_entrypoint",
        "docker/Dockerfile.bad",
        "failed",
        "docker/Dockerfile.bad:5: entrypoint script 'scripts/merge/merge_features.py' is not in the repository",
    ),
    (
        "docker_entrypoint",
        "docker/Dockerfile.nocmd",
        "failed",
        "docker/Dockerfile.nocmd: no ENTRYPOINT or CMD",
    ),
    ("cloudbuild_parses", "build/bad_yaml.yaml", "failed", "build/bad_yaml.yaml: invalid YAML"),
    ("cloudbuild_parses", "build/nosteps.yaml", "failed", "build/nosteps.yaml: no 'steps' list"),
    (
        "cloudbuild_dockerfile",
        "cloudbuild-missing.yaml",
        "failed",
        "cloudbuild-missing.yaml: Dockerfile not found: steps[0]: docker/Dockerfile.gone",
    ),
    # A check that cannot run is an error (unverified), never a pass or a plain failure.
    (
        "cli_flags",
        "py/argv.py",
        "error",
        "py/argv.py: parses sys.argv by hand; flags cannot be verified statically",
    ),
    ("imports_resolve", "py/bad_syntax.py", "error", "not verified: py/bad_syntax.py:3: syntax error"),
    ("cli_flags", "py/bad_syntax.py", "error", "(see python_parses)"),
]


@pytest.mark.parametrize(
    ("criterion", "subject", "outcome", "message"),
    FAILING,
    ids=[f"{c}:{s}" for c, s, _, _ in FAILING],
)
def test_defective_script_fails_its_check_with_a_finding(
    mixed: AuditRun, criterion: str, subject: str, outcome: str, message: str
) -> None:
    got_outcome, got_message = _outcome(mixed, criterion, subject)
    assert got_outcome == outcome, got_message
    assert message in got_message


def test_imports_ignore_stdlib_and_local_modules(mixed: AuditRun) -> None:
    case = mixed.case("imports_resolve", "ok/cli.py")
    # os, json: stdlib; helpers: a sibling module; localpkg: a package at the target root.
    assert case["facts"]["imports"] == ["packaging.version"]


def test_only_the_missing_module_is_named(mixed: AuditRun) -> None:
    case = mixed.case("imports_resolve", "py/missing_import.py")
    assert case["facts"]["imports"] == ["nonexistent_mod_xyz.sub"]  # `import os` is not asked about
    assert case["message"].endswith("/bin/python): nonexistent_mod_xyz.sub")


def test_stage_copies_are_not_repository_files(mixed: AuditRun) -> None:
    case = mixed.case("docker_sources", "docker/Dockerfile.ok")
    assert case["facts"]["copies"] == ["sh/ok.sh"]


def test_missing_script_is_reported_once_by_script_exists(mixed: AuditRun) -> None:
    criteria = {c["criterion"] for c in mixed.json()["cases"] if c["subject"] == "py/missing.py"}
    assert criteria == {"script_exists"}


def test_symlink_leaving_the_root_is_a_finding(mixed: AuditRun) -> None:
    outcome, message = _outcome(mixed, "script_exists", "py/outside.py")
    assert outcome == "failed"
    assert message == "py/outside.py: resolves outside the target root"
    # The linked file is never read: its parse check fails with the same finding.
    outcome, message = _outcome(mixed, "python_parses", "py/outside.py")
    assert (outcome, message) == ("failed", "py/outside.py: resolves outside the target root")


def test_finding_reads_like_an_audit_line_not_a_traceback(mixed: AuditRun) -> None:
    assert "sh/noexec.sh: not executable (mode 0644)" in mixed.output
    assert "Traceback" not in mixed.output
    assert "CheckError" not in mixed.output


# -- the inventory ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("ok/cli.py", "READY"),
        ("sh/noexec.sh", "BLOCKED"),  # cannot be run directly: by criterion, whatever its priority
        ("py/missing.py", "MISSING"),
        ("py/bad_syntax.py", "BLOCKED"),  # exists, with a P0 finding
    ],
)
def test_inventory_status(mixed: AuditRun, path: str, status: str) -> None:
    assert mixed.script(path)["status"] == status


def test_missing_script_row_recommends_creating_it(mixed: AuditRun) -> None:
    row = mixed.script("py/missing.py")
    assert row["exists"] is False
    assert row["create_hours"] == 6
    assert row["recommendation"] == "Create (estimated 6 h): Rename VAR tables"
    assert row["lines"] is None and row["last_modified"] == ""


def test_blocked_script_row_lists_its_p0_findings(mixed: AuditRun) -> None:
    row = mixed.script("py/bad_syntax.py")
    assert any(b.startswith("P0 py/bad_syntax.py:3: syntax error") for b in row["blockers"])
    assert row["recommendation"].startswith("Fix before execution:")


def test_inventory_counts_non_blank_lines(mixed: AuditRun) -> None:
    expected = sum(1 for line in OK_CLI.splitlines() if line.strip())
    assert mixed.script("ok/cli.py")["lines"] == expected
    assert mixed.script("sh/ok.sh")["lines"] == sum(1 for line in OK_SH.splitlines() if line.strip())


def test_inventory_execution_mode_includes_the_flags(mixed: AuditRun) -> None:
    assert mixed.script("ok/cli.py")["execution_mode"] == "python CLI --workers -w --dry-run"
    assert mixed.script("py/click_cli.py")["execution_mode"] == "python CLI --workers -n"
    assert mixed.script("sh/ok.sh")["execution_mode"] == "shell"
    assert mixed.script("docker/Dockerfile.ok")["execution_mode"] == "container image"


def test_inventory_dependencies_are_third_party_imports(mixed: AuditRun) -> None:
    # A sibling module and a root package ship with the repository: not dependencies.
    assert mixed.script("ok/cli.py")["dependencies"] == ["packaging"]
    assert mixed.script("py/click_cli.py")["dependencies"] == ["click"]


def test_inventory_lists_tools_a_shell_script_calls(mixed: AuditRun) -> None:
    assert mixed.script("sh/ok.sh")["dependencies"] == ["gsutil"]


def test_inventory_document_shows_statuses(mixed: AuditRun) -> None:
    doc = mixed.doc("IMPLEMENTATION_SCRIPT_INVENTORY")
    rows = {line.split("|")[1].strip(): line for line in doc.splitlines() if line.startswith("| ")}
    assert "| MISSING " in rows["py/missing.py"]
    assert "| BLOCKED " in rows["py/bad_syntax.py"]
    assert "| READY " in rows["ok/cli.py"]


def test_p0_selection_leaves_other_scripts_not_audited(pytester: pytest.Pytester, target: TargetRepo) -> None:
    target.write("p0.py", "print('p0')\n")
    target.write("p1.py", "print('p1')\n")
    manifest = target.manifest(
        """\
        [[scripts]]
        path = "p0.py"
        purpose = "Critical"
        category = "generation"
        priority = "P0"

        [[scripts]]
        path = "p1.py"
        purpose = "Important"
        category = "generation"
        priority = "P1"
        """
    )
    run = run_suite(pytester, manifest, "-m", "p0")
    assert run.script("p0.py")["status"] == "READY"
    row = run.script("p1.py")
    assert row["status"] == "NOT AUDITED"
    assert row["recommendation"] == "Run the full suite to audit"


# -- last modified: git history, else the file's mtime ----------------------------------------

_OLD = dt.datetime(2023, 7, 1, 12, 0, tzinfo=dt.UTC).timestamp()


def _scripts_manifest(repo: TargetRepo, *paths: str) -> Path:
    body = "".join(f'[[scripts]]\npath = "{p}"\npurpose = "p"\ncategory = "analysis"\n\n' for p in paths)
    return repo.manifest(body)


def test_last_modified_comes_from_git_history(pytester: pytest.Pytester, target: TargetRepo) -> None:
    target.write("a.py", "A = 1\n")
    target.write("b.py", "B = 1\n")
    manifest = _scripts_manifest(target, "a.py", "b.py", "new.py")
    target.commit_all("first", "2024-03-05T12:00:00+00:00")
    target.write("b.py", "B = 2\n")
    target.commit_all("second", "2025-01-10T09:30:00+00:00")
    new = target.write("new.py", "N = 1\n")  # never committed
    os.utime(new, (_OLD, _OLD))
    run = run_suite(pytester, manifest)
    assert run.script("a.py")["last_modified"] == "2024-03-05"
    assert run.script("b.py")["last_modified"] == "2025-01-10"
    assert run.script("new.py")["last_modified"] == "2023-07-01 (mtime)"


def test_last_modified_when_root_is_a_subfolder_of_the_repo(
    pytester: pytest.Pytester, target: TargetRepo
) -> None:
    target.write("pipeline/a.py", "A = 1\n")
    target.write("other/a.py", "A = 1\n")
    manifest = _scripts_manifest(TargetRepo(target.root / "pipeline"), "a.py")
    target.commit_all("first", "2024-03-05T12:00:00+00:00")
    target.write("other/a.py", "A = 2\n")  # same name outside the root: must not count
    target.commit_all("second", "2025-01-10T09:30:00+00:00")
    run = run_suite(pytester, manifest)
    assert run.script("a.py")["last_modified"] == "2024-03-05"


def test_last_modified_outside_git_is_the_plain_mtime_date(
    pytester: pytest.Pytester, target: TargetRepo
) -> None:
    path = target.write("a.py", "A = 1\n")
    os.utime(path, (_OLD, _OLD))
    manifest = _scripts_manifest(target, "a.py")
    run = run_suite(pytester, manifest)
    assert run.script("a.py")["last_modified"] == "2023-07-01"
