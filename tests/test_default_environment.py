"""The default run environment: a manifest with `project.requirements` and no interpreter.

Its scripts run in the pipeline's packages, built from those requirements into a cached
virtualenv, never in the suite's own (where every package the suite happens to have passed:
Flask, SQLAlchemy... on cloud-build-samples). No package index in tests: an environment that
needs one is unverified with the reason, never a pass.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import MANIFEST_HEAD, PYTHON_LINE, AuditRun, TargetRepo, run_shared

#: As a new user writes it: requirements, no interpreter, no [[environments]].
HEAD = MANIFEST_HEAD.replace(PYTHON_LINE + "\n", "")

BODY = """\
[[scripts]]
path = "job.py"
purpose = "Feature job"
category = "generation"

[[scripts]]
path = "stdlib_job.py"
purpose = "Standard-library job"
category = "generation"

[[packages]]
name = "packaging"
"""

NO_INDEX = {
    "UV_INDEX_URL": "http://127.0.0.1:9/simple",
    "UV_HTTP_TIMEOUT": "5",
}


def _run(work: Path, requirements: str) -> AuditRun:
    repo = TargetRepo(work / "target")
    # `packaging` is installed in the suite's own virtualenv: a probe there would pass it.
    repo.write("job.py", "import packaging.version\n")
    repo.write("stdlib_job.py", "import json\n")
    repo.write("requirements.txt", requirements)
    manifest = repo.manifest(BODY, head=HEAD)
    env = {"READINESS_ENV_CACHE": str(work / "envs"), "UV_CACHE_DIR": str(work / "uv-cache"), **NO_INDEX}
    run = run_shared(work, manifest, env=env, timeout=600)
    assert run.ret in (0, 1), run.output
    return run


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[AuditRun, Path]:
    work = tmp_path_factory.mktemp("default-env")
    return _run(work, "# the job needs only the standard library\n"), work / "envs"


@pytest.fixture(scope="module")
def unreachable(tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    return _run(tmp_path_factory.mktemp("default-env-offline"), "packaging==24.1\n")


def test_imports_are_probed_in_the_environment_built_from_the_requirements(
    built: tuple[AuditRun, Path],
) -> None:
    run, cache = built
    case = run.case("imports_resolve", "job.py")
    assert case["outcome"] == "failed"
    assert case["message"].startswith("job.py: imports not found in the run environment 'default' (")
    assert case["message"].endswith("): packaging.version")
    assert case["facts"]["interpreter"].startswith(str(cache))


def test_a_script_the_built_environment_can_run_passes(built: tuple[AuditRun, Path]) -> None:
    run, _ = built
    case = run.case("imports_resolve", "stdlib_job.py")
    assert (case["outcome"], case["message"]) == ("passed", "")


def test_package_installed_names_the_built_environment(built: tuple[AuditRun, Path]) -> None:
    run, cache = built
    case = run.case("package_installed", "packaging")
    assert case["outcome"] == "failed"
    assert case["message"].startswith(f"packaging: not installed in the run environment 'default' ({cache}/")
    assert case["message"].endswith("; requires any version")


def test_unreachable_index_is_unverified_never_a_pass(unreachable: AuditRun) -> None:
    for criterion, subject in (("imports_resolve", "job.py"), ("package_installed", "packaging")):
        case = unreachable.case(criterion, subject)
        assert case["outcome"] == "error", case
        assert "installing the requirements failed" in case["message"]
        assert "'default'" in case["message"]


MULTI = f"""\
[[environments]]
name = "a"
python = "{sys.executable}"
requirements = ["a.txt"]

[[environments]]
name = "b"
python = "/nonexistent/bin/python3"
requirements = ["b.txt"]

[[scripts]]
path = "a.py"
purpose = "Job A"
category = "generation"
environment = "a"

[[scripts]]
path = "b.py"
purpose = "Job B"
category = "generation"
environment = "b"

[[packages]]
name = "packaging"

[[packages]]
name = "nonexistent-dist-xyz"
"""


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    work = tmp_path_factory.mktemp("multi-env")
    repo = TargetRepo(work / "target")
    repo.write("a.py", "import json\n")
    repo.write("b.py", "import json\n")
    repo.write("a.txt", "packaging\n")
    repo.write("b.txt", "")
    repo.write("requirements.txt", "packaging\n")
    run = run_shared(work, repo.manifest(MULTI))
    assert run.ret in (0, 1), run.output
    return run


def test_a_package_is_asked_of_the_environments_whose_requirements_list_it(multi: AuditRun) -> None:
    # One image per job: job B's image need not carry job A's packages (its interpreter is not
    # even consulted here).
    case = multi.case("package_installed", "packaging")
    assert (case["outcome"], case["message"]) == ("passed", "")
    assert list(case["facts"]["environments"]) == ["a"]


def test_a_package_no_requirements_list_is_asked_of_every_environment(multi: AuditRun) -> None:
    case = multi.case("package_installed", "nonexistent-dist-xyz")
    assert case["outcome"] == "failed"
    assert case["message"] == (
        f"nonexistent-dist-xyz: not installed in the run environment 'a' ({sys.executable}); "
        "requires any version"
    )
