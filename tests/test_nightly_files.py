"""The nightly workflow and the Cloud Run job definition parse and invoke the suite's real commands."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from functools import cache
from typing import Any

import yaml

from conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "readiness-nightly.yml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
JOB_DOC = REPO / "deploy" / "cloud-run-job.md"


@cache
def suite_help() -> str:
    """`pytest --help` of the readiness suite itself (its pytest.ini, plugins and a manifest)."""
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(REPO / "pytest.ini"),
        "--rootdir",
        str(REPO),
        "--manifest",
        str(REPO / "examples" / "bqx_demo" / "readiness.toml"),
        "--help",
    ]  # fmt: skip
    proc = subprocess.run(
        argv,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def long_options(argv: list[str]) -> list[str]:
    return [a.split("=", 1)[0] for a in argv if a.startswith("--")]


def assert_real_options(argv: list[str]) -> None:
    options = long_options(argv)
    assert options, argv
    text = suite_help()
    unknown = [o for o in options if not re.search(rf"^\s+(?:-\w+, )?{re.escape(o)}[ =,\n]", text, re.M)]
    assert not unknown, f"not options of the suite: {unknown}"


def workflow() -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return data


def steps() -> list[dict[str, Any]]:
    return list(workflow()["jobs"]["audit"]["steps"])


def pytest_step() -> dict[str, Any]:
    found = [s for s in steps() if "run" in s and "pytest" in s["run"].split()[0]]
    assert len(found) == 1
    return found[0]


def test_workflow_is_scheduled_and_authenticates_without_keys() -> None:
    data = workflow()
    triggers = data["on"] if "on" in data else data[True]  # YAML 1.1 reads a bare `on` as true
    assert triggers["schedule"][0]["cron"] == "0 5 * * *"
    assert data["permissions"]["id-token"] == "write"
    auth = [s for s in steps() if str(s.get("uses", "")).startswith("google-github-actions/auth@")]
    assert len(auth) == 1
    assert set(auth[0]["with"]) == {"workload_identity_provider", "service_account"}  # no credentials_json
    assert auth[0] is not None and steps().index(auth[0]) < steps().index(pytest_step())


def test_workflow_runs_the_suite_with_real_options_and_uploads_what_it_writes() -> None:
    argv = shlex.split(pytest_step()["run"])
    assert argv[0] == ".venv/bin/pytest"
    assert_real_options(argv)
    assert "--self-contained-html" in argv and "--history" in argv
    assert workflow()["env"]["READINESS_HISTORY"].startswith("bq://")
    html = argv[argv.index("--html") + 1]
    out = argv[argv.index("--readiness-out") + 1]
    upload = [s for s in steps() if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    paths = upload[0]["with"]["path"].split()
    workdir = pytest_step()["working-directory"]
    assert f"{workdir}/{html}" in paths and f"{workdir}/{out}/" in paths
    assert upload[0]["if"] == "always()"  # a NO-GO exits non-zero; its reports matter most


def test_workflow_review_step_uses_the_review_command() -> None:
    review = [s for s in steps() if "reporting.review" in s.get("run", "")]
    line = next(ln for ln in review[0]["run"].splitlines() if "reporting.review" in ln)
    argv = shlex.split(line.strip())
    proc = subprocess.run(
        [sys.executable, "-m", "reporting.review", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    for option in long_options(argv):
        assert option in proc.stdout, option


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def test_dockerfile_copies_files_that_exist_and_runs_the_suite_with_real_options() -> None:
    copies = [rest.split() for word, rest in _instructions() if word == "COPY"]
    assert copies
    for parts in copies:
        for source in parts[:-1]:
            assert (REPO / source).exists(), f"deploy/Dockerfile: COPY source {source} does not exist"
    entry = json.loads(next(rest for word, rest in _instructions() if word == "ENTRYPOINT"))
    script = entry[-1].removeprefix("/suite/")
    assert (REPO / script).is_file()
    assert subprocess.run(["bash", "-n", str(REPO / script)], capture_output=True).returncode == 0
    cmd = json.loads(next(rest for word, rest in _instructions() if word == "CMD"))
    assert cmd[0] == "pytest"
    assert_real_options(cmd)


def test_cloud_run_doc_has_the_job_and_scheduler_commands() -> None:
    text = JOB_DOC.read_text()
    assert "gcloud run jobs create readiness-nightly" in text
    assert "gcloud scheduler jobs create http readiness-nightly" in text
    assert "/jobs/readiness-nightly:run" in text
    assert "docker build -f deploy/Dockerfile" in text
    assert "READINESS_HISTORY=bq://" in text
    assert "READINESS_HISTORY" in (REPO / "deploy" / "run-job.sh").read_text()


def test_help_check_rejects_an_option_the_suite_does_not_have() -> None:
    """The option check above can fail: a made-up option is not found in the suite's help."""
    text = suite_help()
    assert not re.search(r"^\s+--readiness-nonsense[ =,\n]", text, re.M)
    assert re.search(r"^\s+--history[ =,\n]", text, re.M)
