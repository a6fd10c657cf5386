"""The run environment: installed packages, requirements pins, the target interpreter, tools on PATH.

Packages are real distributions of this virtualenv (the test manifests name it as
`project.python`); tools are tiny shell scripts written into a folder put first on PATH.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from pathlib import Path

import pytest

from conftest import MANIFEST_HEAD, PYTHON_LINE, AuditRun, TargetRepo, run_shared, run_suite

PYDANTIC = importlib.metadata.version("pydantic")

ENV_MANIFEST = """\
[[packages]]
name = "packaging"
spec = ">=24"

[[packages]]
name = "pydantic"
spec = "<1"

[[packages]]
name = "PyYAML"
spec = ">=6"

[[packages]]
name = "tabulate"
spec = ">=0.9"

[[packages]]
name = "nonexistent-dist-xyz"
spec = ">=1"

[[tools]]
name = "mytool"
min_version = "1.2"

[[tools]]
name = "oldtool"
min_version = "1.0"

[[tools]]
name = "quiettool"

[[tools]]
name = "vtool"
min_version = "3.0"
version_args = ["version"]

[[tools]]
name = "absent-tool-xyz"
"""

REQUIREMENTS = """\
# Runtime requirements of the images.
packaging==24.1
pydantic==1.10.0  # too old for the code
PyYAML>=6
-r requirements-extra.txt
"""


def _tool(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


@pytest.fixture(scope="module")
def tools_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bin")
    _tool(folder, "mytool", 'echo "mytool version 1.2.3"')
    _tool(folder, "oldtool", 'echo "oldtool 0.9.1 (build 2019)" >&2')
    _tool(folder, "quiettool", 'echo "usage: quiettool [options]"')
    _tool(folder, "vtool", 'if [ "$1" = version ]; then echo "vtool 3.4"; else echo "usage"; exit 2; fi')
    return folder


@pytest.fixture(scope="module")
def env_run(tmp_path_factory: pytest.TempPathFactory, tools_dir: Path) -> AuditRun:
    work = tmp_path_factory.mktemp("env")
    repo = TargetRepo(work / "target")
    repo.write("requirements.txt", REQUIREMENTS)
    repo.write("requirements-extra.txt", "tabulate==0.9.0\n")
    manifest = repo.manifest(ENV_MANIFEST)
    path = f"{tools_dir}{os.pathsep}{os.environ['PATH']}"
    run = run_shared(work, manifest, env={"PATH": path})
    assert run.ret in (0, 1), run.output
    return run


# -- package_installed ------------------------------------------------------------------------


def test_installed_package_within_spec_passes(env_run: AuditRun) -> None:
    case = env_run.case("package_installed", "packaging")
    assert case["outcome"] == "passed", case["message"]
    assert case["facts"]["installed"] == importlib.metadata.version("packaging")


def test_installed_package_outside_spec_fails_with_both_versions(env_run: AuditRun) -> None:
    case = env_run.case("package_installed", "pydantic")
    assert case["outcome"] == "failed"
    assert (
        case["message"]
        == f"pydantic: {PYDANTIC} installed in the run environment 'default' ({sys.executable}); requires <1"
    )


def test_package_not_installed_fails(env_run: AuditRun) -> None:
    case = env_run.case("package_installed", "nonexistent-dist-xyz")
    assert case["outcome"] == "failed"
    assert case["message"] == (
        f"nonexistent-dist-xyz: not installed in the run environment 'default' ({sys.executable}); requires >=1"
    )


def test_dependency_analysis_shows_installed_versions(env_run: AuditRun) -> None:
    doc = env_run.doc("DEPENDENCY_ANALYSIS")
    row = next(line for line in doc.splitlines() if line.startswith("| pydantic "))
    assert PYDANTIC in row and "1.10.0" in row


# -- package_pinned ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("package", "outcome", "message"),
    [
        pytest.param("packaging", "passed", "", id="pin-inside-spec"),
        pytest.param("tabulate", "passed", "", id="pin-in-r-include"),
        pytest.param(
            "pydantic",
            "failed",
            "pydantic: requirements.txt:3 pins 1.10.0, requires <1",
            id="pin-outside-spec",
        ),
        pytest.param(
            "PyYAML",
            "failed",
            "PyYAML: requirements.txt:4 does not pin a version (PyYAML>=6); requires >=6",
            id="unpinned-range",
        ),
        pytest.param(
            "nonexistent-dist-xyz",
            "failed",
            "nonexistent-dist-xyz: not listed in requirements.txt",
            id="not-listed",
        ),
    ],
)
def test_requirements_pin(env_run: AuditRun, package: str, outcome: str, message: str) -> None:
    case = env_run.case("package_pinned", package)
    assert (case["outcome"], case["message"]) == (outcome, message)


def test_pin_outside_spec(env_run: AuditRun) -> None:
    # pydantic's spec here is "<1": 1.10.0 is outside it although it is the older version.
    assert env_run.case("package_pinned", "pydantic")["facts"]["pinned"] == "==1.10.0"


# -- tool_available ---------------------------------------------------------------------------


def test_tool_at_or_above_minimum_passes(env_run: AuditRun, tools_dir: Path) -> None:
    case = env_run.case("tool_available", "mytool")
    assert case["outcome"] == "passed", case["message"]
    assert case["facts"] == {"version": "1.2.3", "path": str(tools_dir / "mytool")}


def test_tool_with_custom_version_args_passes(env_run: AuditRun) -> None:
    case = env_run.case("tool_available", "vtool")
    assert case["outcome"] == "passed", case["message"]
    assert case["facts"]["version"] == "3.4"


def test_tool_too_old_fails(env_run: AuditRun, tools_dir: Path) -> None:
    case = env_run.case("tool_available", "oldtool")
    assert case["outcome"] == "failed"
    assert case["message"] == f"oldtool: version 0.9.1 at {tools_dir / 'oldtool'}, requires >= 1.0"


def test_tool_not_on_path_fails(env_run: AuditRun) -> None:
    case = env_run.case("tool_available", "absent-tool-xyz")
    assert (case["outcome"], case["message"]) == ("failed", "absent-tool-xyz: not found on PATH")


def test_tool_printing_no_version_is_unverified_with_its_output(env_run: AuditRun) -> None:
    # Installed but unreadable is not "install or upgrade the tool" (issue 11: `bq --version`).
    case = env_run.case("tool_available", "quiettool")
    assert case["outcome"] == "error"
    assert case["message"] == (
        "version not verified: quiettool: no version number in the output of `quiettool --version`: "
        "'usage: quiettool [options]'"
    )


def test_tool_on_path_through_monkeypatch(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, target: TargetRepo, tools_dir: Path
) -> None:
    monkeypatch.setenv("PATH", f"{tools_dir}{os.pathsep}{os.environ['PATH']}")
    target.write("requirements.txt", "")
    manifest = target.manifest('[[tools]]\nname = "mytool"\nmin_version = "2.0"\npriority = "P0"\n')
    run = run_suite(pytester, manifest)
    case = run.case("tool_available", "mytool")
    assert case["outcome"] == "failed"
    assert case["message"].startswith("mytool: version 1.2.3 at ")
    assert run.json()["verdict"]["verdict"] == "NO-GO"


# -- an environment that cannot be inspected --------------------------------------------------

BROKEN_HEAD = MANIFEST_HEAD.replace(PYTHON_LINE, 'python = "/nonexistent/bin/python3"').replace(
    'requirements = ["requirements.txt"]', 'requirements = ["requirements.txt", "requirements-gone.txt"]'
)


@pytest.fixture(scope="module")
def broken_env_run(tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    work = tmp_path_factory.mktemp("broken-env")
    repo = TargetRepo(work / "target")
    repo.write("requirements.txt", "packaging==24.1\n")
    repo.write("job.py", "import packaging\n")
    manifest = repo.manifest(
        """\
        [[packages]]
        name = "packaging"
        spec = ">=24"
        priority = "P0"
        # Only the unverifiable check stays P0, so the verdict rests on it alone.
        criteria = { package_pinned = "P2" }

        [[scripts]]
        path = "job.py"
        purpose = "Job"
        category = "generation"
        priority = "P1"
        """,
        head=BROKEN_HEAD,
    )
    assert "/nonexistent/bin/python3" in manifest.read_text()
    run = run_shared(work, manifest)
    assert run.ret in (0, 1), run.output
    return run


def test_bad_interpreter_leaves_packages_unverified(broken_env_run: AuditRun) -> None:
    case = broken_env_run.case("package_installed", "packaging")
    assert case["outcome"] == "error"
    assert case["message"] == (
        "packaging: not verified in the run environment 'default': "
        "interpreter '/nonexistent/bin/python3' not found (project.python)"
    )


def test_bad_interpreter_leaves_imports_unverified(broken_env_run: AuditRun) -> None:
    case = broken_env_run.case("imports_resolve", "job.py")
    assert case["outcome"] == "error"
    assert "interpreter '/nonexistent/bin/python3' not found" in case["message"]


def test_bad_interpreter_is_never_a_go(broken_env_run: AuditRun) -> None:
    verdict = broken_env_run.json()["verdict"]
    assert verdict["verdict"] == "NO-GO"
    assert verdict["reasons"] == ["1 P0 blocker (1 case)"]


def test_missing_requirements_file_is_a_finding(broken_env_run: AuditRun) -> None:
    case = broken_env_run.case("package_pinned", "packaging")
    assert case["outcome"] == "failed"
    assert case["message"] == "requirements-gone.txt: requirements file not found"


def test_no_requirements_declared_is_a_finding(pytester: pytest.Pytester, target: TargetRepo) -> None:
    head = MANIFEST_HEAD.replace('requirements = ["requirements.txt"]\n', "")
    manifest = target.manifest('[[packages]]\nname = "packaging"\n', head=head)
    run = run_suite(pytester, manifest)
    case = run.case("package_pinned", "packaging")
    assert case["outcome"] == "failed"
    assert case["message"] == "packaging: no requirements files declared (project.requirements)"
