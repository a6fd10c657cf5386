"""What a run works out once is kept for that run only: a second run in the same process (the
sandbox runs the suite several times in one process) sees the repository as it is then."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, Documents, TargetRepo

BODY = """
[[scripts]]
path = "pipeline/run.py"
purpose = "Runs the pipeline"
category = "generation"
"""


@dataclass
class _Run(Documents):
    out_dir: Path


def _run_in_this_process(target: TargetRepo, out: Path, config: pytest.Config) -> _Run:
    # The suite's root conftest imports the checks before the inner run configures, while
    # pytest.mark still checks markers against this (outer) run's configuration.
    config.addinivalue_line("markers", "criterion(id): the readiness criterion")
    # pytest.main itself, not pytester: pytester re-imports every module for each run, which
    # would hide a cache kept by a module from one run to the next.
    pytest.main([
        "-c", str(REPO / "pytest.ini"), "--rootdir", str(REPO), str(REPO / "checks"), "-q",
        "--manifest", str(target.root / "readiness.toml"), "--readiness-out", str(out),
        "--readiness-now", "2026-11-22T06:00:00", "-p", "no:randomly", "-k", "imports_resolve",
    ])  # fmt: skip
    return _Run(out)


def test_a_second_run_in_one_process_sees_the_repository_as_it_is_then(
    target: TargetRepo, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    target.write("requirements.txt", "")
    target.write("pipeline/run.py", "import ownlib\n")
    # The repository's own package, importable only once lib/ is a project it installs.
    target.write("lib/src/ownlib/__init__.py", "")
    target.manifest(BODY)

    first = _run_in_this_process(target, tmp_path / "first", request.config)
    assert first.case("imports_resolve", "pipeline/run.py")["outcome"] == "failed"

    target.write("lib/pyproject.toml", '[project]\nname = "ownlib"\nversion = "1"\n')
    second = _run_in_this_process(target, tmp_path / "second", request.config)
    # ownlib is now the repository's own code (lib/ is a project it installs): the answer is
    # this run's, not the first's.
    assert second.case("imports_resolve", "pipeline/run.py")["outcome"] == "passed"


def test_the_given_now_names_the_run_dates_its_folder_and_starts_it(
    pytester: pytest.Pytester, target: TargetRepo
) -> None:
    target.write("requirements.txt", "")
    target.write("pipeline/run.py", "print('ok')\n")
    target.manifest(BODY)
    # Late on the 22nd in New York is the 23rd in UTC, the run's clock.
    result = pytester.runpytest_subprocess(
        "-c", str(REPO / "pytest.ini"), "--rootdir", str(REPO), str(REPO / "checks"),
        "--manifest", str(target.root / "readiness.toml"), "-k", "script_exists",
        "--readiness-now", "2026-11-22T23:30:00-05:00",
        timeout=300,
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    run = _Run(pytester.path / "readiness-reports" / "20261123").json()["run"]
    assert run["started"] == "2026-11-23T04:30:00+00:00"
    assert run["id"].startswith("20261123T043000-")
