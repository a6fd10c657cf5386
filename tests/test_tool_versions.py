"""Each known tool is asked for its version its own way (issue 11).

A current `bq --version` stops with "Unknown command line flag 'version'" and `Terraform v1.11.4`
had "no version number": both became "install or upgrade the tool". The fake tools below answer
like the real ones: only their own version command prints a version.
"""

from __future__ import annotations

import os

import pytest

from conftest import AuditRun, TargetRepo, run_shared

FAKES = {
    "bq": 'if [ "$1" = version ]; then echo "This is BigQuery CLI 2.1.4"; '
    "else echo \"FATAL Flags parsing error: Unknown command line flag 'version'\" >&2; exit 1; fi",
    "gsutil": 'if [ "$1" = version ]; then echo "gsutil version: 5.27"; else echo "bad option" >&2; exit 1; fi',
    "gcloud": 'if [ "$1" = version ]; then printf "Google Cloud SDK 470.0.0\\nbq 2.1.3\\n"; else exit 2; fi',
    "terraform": 'if [ "$1" = version ]; then printf "Terraform v1.11.4\\non linux_amd64\\n"; else exit 1; fi',
    "kubectl": 'if [ "$1 $2" = "version --client" ]; then echo "Client Version: v1.29.2"; '
    'else echo "The connection to the server localhost:8080 was refused" >&2; exit 1; fi',
    "docker": 'echo "Docker version 24.0.7, build afdd53b"',
    # Unknown to the suite: its own flag comes from the manifest's version_args.
    "terraform-docs": 'if [ "$1" = -V ]; then echo "terraform-docs v0.17.0"; else exit 1; fi',
    # Installed, but says nothing readable: unverified, with what it printed.
    "mystery": 'echo "mystery: build ok (no release yet)"',
}

MANIFEST = """\
[[tools]]
name = "bq"
min_version = "2.0"

[[tools]]
name = "gsutil"
min_version = "5.0"

[[tools]]
name = "gcloud"
min_version = "480"

[[tools]]
name = "terraform"
min_version = "1.5"

[[tools]]
name = "kubectl"
min_version = "1.28"

[[tools]]
name = "docker"
min_version = "20"

[[tools]]
name = "mystery"

[[tools]]
name = "terraform-docs"
min_version = "0.16"
version_args = ["-V"]
"""


@pytest.fixture(scope="module")
def tools_run(tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    work = tmp_path_factory.mktemp("tools")
    folder = work / "bin"
    folder.mkdir()
    for name, body in FAKES.items():
        path = folder / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    repo = TargetRepo(work / "target")
    repo.write("requirements.txt", "")
    run = run_shared(work, repo.manifest(MANIFEST), env={"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"})
    assert run.ret in (0, 1), run.output
    return run


@pytest.mark.parametrize(
    ("tool", "version"),
    [("bq", "2.1.4"), ("gsutil", "5.27"), ("terraform", "1.11.4"), ("docker", "24.0.7")],
)
def test_each_tool_is_asked_its_own_way(tools_run: AuditRun, tool: str, version: str) -> None:
    case = tools_run.case("tool_available", tool)
    assert case["outcome"] == "passed", case["message"]
    assert case["facts"]["version"] == version


def test_kubectl_is_asked_for_the_client_version_only(tools_run: AuditRun) -> None:
    case = tools_run.case("tool_available", "kubectl")
    assert case["outcome"] == "passed", case["message"]
    assert case["facts"]["version"] == "1.29.2"


def test_the_manifests_version_args_are_used_for_other_tools(tools_run: AuditRun) -> None:
    case = tools_run.case("tool_available", "terraform-docs")
    assert case["outcome"] == "passed", case["message"]
    assert case["facts"]["version"] == "0.17.0"


def test_an_old_tool_read_its_own_way_is_still_a_finding(tools_run: AuditRun) -> None:
    case = tools_run.case("tool_available", "gcloud")
    assert case["outcome"] == "failed"
    assert case["message"].startswith("gcloud: version 470.0.0 at ") and case["message"].endswith(
        "requires >= 480"
    )


def test_an_unreadable_version_is_unverified_with_the_output(tools_run: AuditRun) -> None:
    case = tools_run.case("tool_available", "mystery")
    assert case["outcome"] == "error"
    assert case["message"] == (
        "version not verified: mystery: no version number in the output of `mystery --version`: "
        "'mystery: build ok (no release yet)'"
    )
