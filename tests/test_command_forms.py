"""Every documented way to start an audit audits, from the suite's folder and from any other one.

pytest picks its rootdir and ini file from the command line before the suite's options are known:
`--manifest /abs/readiness.toml` (a space, as the README shows) once made it take the manifest for
a test path, root itself in the audited repository and collect the suite's own tests instead of
auditing (issue 11). Each form runs here as a user would type it, in a subprocess, with absolute
paths, and must write the documents and print the verdict.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MANIFEST_HEAD, REPO, TargetRepo

BIN = Path(sys.executable).parent

MANIFEST = """\
[[scripts]]
path = "jobs/extract.py"
purpose = "Extract features"
category = "generation"
priority = "P0"
"""


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    repo = TargetRepo(tmp_path / "repo")
    repo.write("jobs/extract.py", "import json\nprint(json.dumps({}))\n")
    repo.write("requirements.txt", "")
    # The audited repository's own pytest configuration, and a test of its own that fails: neither
    # may be picked up by an audit.
    repo.write("pyproject.toml", '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    repo.write("tests/test_theirs.py", "def test_theirs():\n    raise AssertionError('collected')\n")
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "readiness.toml").write_text(MANIFEST_HEAD + MANIFEST)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return {
        "repo": repo.root,
        "manifest": manifests / "readiness.toml",
        "out": tmp_path / "out",
        "cwd": elsewhere,
        "history": tmp_path / "history.sqlite",
    }


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env["PY_COLORS"] = "0"
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _assert_audited(proc: subprocess.CompletedProcess[str], out: Path) -> None:
    printed = proc.stdout + proc.stderr
    assert "readiness: NO-GO" in printed or "readiness: GO" in printed, printed[-3000:]
    assert "test_theirs" not in printed and "test_command_forms" not in printed, printed[-3000:]
    results = sorted(out.glob("READINESS_RESULTS_*.json"))
    assert results, f"no documents in {out}: {printed[-3000:]}"
    subjects = {case["subject"] for case in json.loads(results[0].read_text())["cases"]}
    assert "jobs/extract.py" in subjects
    assert len(list(out.glob("*.md"))) >= 6


def _space(w: dict[str, Path]) -> list[str]:
    return [
        "--manifest",
        str(w["manifest"]),
        "--target-root",
        str(w["repo"]),
        "--readiness-out",
        str(w["out"]),
    ]


def _equals(w: dict[str, Path]) -> list[str]:
    return [f"--manifest={w['manifest']}", f"--target-root={w['repo']}", f"--readiness-out={w['out']}"]


@pytest.mark.parametrize("where", ["elsewhere", "suite folder", "audited repo"])
def test_pytest_with_space_separated_values_audits(world: dict[str, Path], where: str) -> None:
    cwd = {"elsewhere": world["cwd"], "suite folder": REPO, "audited repo": world["repo"]}[where]
    proc = _run([str(BIN / "pytest"), *_space(world)], cwd)
    _assert_audited(proc, world["out"])


def test_pytest_in_parallel_with_space_separated_values_audits_into_a_new_folder(
    world: dict[str, Path],
) -> None:
    """The workers start after the controller has made the output folder: they must not take it
    for a test path (they picked their rootdir from it and stopped)."""
    out = world["out"] / "new"
    assert not out.exists()
    proc = _run([str(BIN / "pytest"), "-n", "2", *_space({**world, "out": out})], REPO)
    _assert_audited(proc, out)
    assert "node down" not in proc.stdout + proc.stderr


def test_pytest_with_equals_values_audits_from_another_folder(world: dict[str, Path]) -> None:
    proc = _run([str(BIN / "pytest"), *_equals(world)], world["cwd"])
    _assert_audited(proc, world["out"])


def test_readiness_audit_runs_the_suites_configuration_from_any_folder(world: dict[str, Path]) -> None:
    proc = _run([str(BIN / "readiness"), "audit", *_space(world), "-m", "p0"], world["cwd"])
    _assert_audited(proc, world["out"])
    assert " deselected" in proc.stdout  # the pytest arguments reached pytest


def test_readiness_review_reads_the_history_an_audit_wrote(world: dict[str, Path]) -> None:
    audit = _run(
        [str(BIN / "readiness"), "audit", *_space(world), f"--history={world['history']}"], world["cwd"]
    )
    _assert_audited(audit, world["out"])
    reviews = world["cwd"] / "reviews"
    proc = _run(
        [str(BIN / "readiness"), "review", "--manifest", str(world["manifest"]), "--out", str(reviews),
         "--history", str(world["history"])],
        world["cwd"],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(reviews.glob("*-issue-review.md"))


def test_readiness_without_a_known_command_is_a_usage_error(tmp_path: Path) -> None:
    proc = _run([str(BIN / "readiness"), "audits"], tmp_path)
    assert proc.returncode == 2
    assert "unknown command 'audits'" in proc.stderr
    assert "audit" in proc.stderr and "review" in proc.stderr


def test_a_run_that_is_not_an_audit_keeps_its_own_configuration(tmp_path: Path) -> None:
    # Another project's pytest in the same environment (the entry point is loaded everywhere).
    (tmp_path / "test_mine.py").write_text("def test_mine():\n    pass\n")
    proc = _run([str(BIN / "pytest"), "-q", str(tmp_path / "test_mine.py")], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
