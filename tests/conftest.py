"""Shared helpers: build a small target repository, write its manifest, run the real suite on it."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import warm_pytest
from _pytest.pathlib import make_numbered_dir

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]

#: The minimal manifest head every test manifest starts from (phase 4C starts 2026-11-23). Its
#: scripts run in the suite's own interpreter (named, so no environment is built from the
#: target's requirements); tests of built environments write their own head.
PYTHON_LINE = f"python = {json.dumps(sys.executable)}"
MANIFEST_HEAD = f"""\
[project]
name = "Demo"
root = "."
phase = "4C"
{PYTHON_LINE}
requirements = ["requirements.txt"]

[[phases]]
id = "4C"
name = "Naming remediation"
start = 2026-11-23

[[phases]]
id = "5"
name = "Extraction"
start = 2026-12-07
"""


class TargetRepo:
    """A pipeline repository in a temporary folder, optionally with real git history."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def write(self, rel: str, text: str, mode: int | None = None) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        if mode is not None:
            path.chmod(mode)
        return path

    def manifest(self, body: str, head: str = MANIFEST_HEAD) -> Path:
        return self.write("readiness.toml", head + textwrap.dedent(body))

    def git(self, *args: str, date: str | None = None) -> str:
        env = dict(
            os.environ,
            GIT_AUTHOR_NAME="t",
            GIT_AUTHOR_EMAIL="t@example.com",
            GIT_COMMITTER_NAME="t",
            GIT_COMMITTER_EMAIL="t@example.com",
        )
        if date:
            env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        proc = subprocess.run(
            ["git", "-C", str(self.root), *args], env=env, check=True, capture_output=True, text=True
        )
        return proc.stdout

    def commit_all(self, message: str, date: str) -> None:
        if not (self.root / ".git").exists():
            self.git("init", "-q", "-b", "main")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, date=date)


class Documents:
    """Reading what a suite run wrote to its out dir (any run kind with `out_dir` and `output`)."""

    out_dir: Path

    def json(self) -> dict[str, Any]:
        files = sorted(self.out_dir.glob("READINESS_RESULTS_*.json"))
        printed = str(getattr(self, "output", ""))
        assert files, f"no results JSON in {self.out_dir}: {printed[-3000:]}"
        data: dict[str, Any] = json.loads(files[0].read_text())
        return data

    def doc(self, stem: str) -> str:
        files = sorted(self.out_dir.glob(f"{stem}_*.md"))
        assert files, f"no {stem} document in {self.out_dir}"
        return files[0].read_text()

    def case(self, criterion: str, subject: str) -> dict[str, Any]:
        for case in self.json()["cases"]:
            if case["criterion"] == criterion and case["subject"] == subject:
                return dict(case)
        raise AssertionError(f"no case {criterion}:{subject}")

    def script(self, path: str) -> dict[str, Any]:
        for row in self.json()["inventory"]:
            if row["path"] == path:
                return dict(row)
        raise AssertionError(f"no inventory row for {path}")


@dataclass
class AuditRun(Documents):
    result: pytest.RunResult
    out_dir: Path

    @property
    def ret(self) -> int:
        return int(self.result.ret)

    @property
    def output(self) -> str:
        return self.result.stdout.str() + "\n" + self.result.stderr.str()


def run_suite(pytester: pytest.Pytester, manifest: Path, *args: str, out: str = "out") -> AuditRun:
    """Run the real readiness suite (this repository's checks and plugins) on a manifest."""
    out_dir = pytester.path / out
    result = _runpytest_subprocess(
        pytester,
        "-c",
        str(REPO / "pytest.ini"),
        "--rootdir",
        str(REPO),
        str(REPO / "checks"),
        "--manifest",
        str(manifest),
        "--readiness-out",
        str(out_dir),
        "--readiness-now",
        "2026-11-22T06:00:00",
        *args,
        # A bound on a run that hangs (a manifest that is a FIFO, /dev/zero), not a speed
        # assertion: a hung run fails the test instead of the whole CI job.
        timeout=900,
    )
    return AuditRun(result, out_dir)


def _runpytest_subprocess(pytester: pytest.Pytester, *args: str, timeout: float) -> pytest.RunResult:
    """pytester.runpytest_subprocess, the run forked from a warm interpreter (warm_pytest)."""
    basetemp = make_numbered_dir(root=pytester.path, prefix="runpytest-", mode=0o700)
    args = (f"--basetemp={basetemp}", *args)
    print("running:", sys.executable, "-mpytest", *args)
    print("     in:", Path.cwd())
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH", "")]))
    stdout, stderr = pytester.path / "stdout", pytester.path / "stderr"
    start = time.monotonic()
    with stdout.open("w", encoding="utf8") as out, stderr.open("w", encoding="utf8") as err:
        try:
            ret = warm_pytest.run_pytest(
                args, cwd=Path.cwd(), env=env, stdout=out, stderr=err, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise pytester.TimeoutExpired(f"{timeout} second timeout expired running: {args}") from None
    lines = {}
    for name, path in (("out", stdout), ("err", stderr)):
        lines[name] = path.read_text(encoding="utf8").splitlines()
        for line in lines[name]:
            print(line, file=sys.stdout if name == "out" else sys.stderr)
    code: int | pytest.ExitCode = ret
    with contextlib.suppress(ValueError):
        code = pytest.ExitCode(ret)
    return pytest.RunResult(code, lines["out"], lines["err"], time.monotonic() - start)


#: Host variables a suite run must not inherit: pytest options meant for our own run, and any
#: Google credentials or endpoints of the developer's shell.
_NOT_INHERITED = frozenset({"PYTEST_ADDOPTS", "GOOGLE_APPLICATION_CREDENTIALS", "READINESS_ENDPOINTS"})


def run_shared(
    workdir: Path,
    manifest: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    prefix: Sequence[str] = (),
    out: str = "out",
    timeout: float = 180,
) -> AuditRun:
    """`run_suite` without pytester (which is function-scoped), for runs a whole module shares;
    `env` goes over ours, `prefix` runs the suite under another command (e.g. setpriv)."""
    workdir.mkdir(parents=True, exist_ok=True)
    out_dir = workdir / out
    pytest_args = [
        f"--basetemp={workdir / 'basetemp'}",
        "-c", str(REPO / "pytest.ini"), "--rootdir", str(REPO), str(REPO / "checks"),
        "--manifest", str(manifest), "--readiness-out", str(out_dir),
        "--readiness-now", "2026-11-22T06:00:00", *args,
    ]  # fmt: skip
    full_env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    full_env.update(env or {}, PY_COLORS="0")
    start = time.monotonic()
    if prefix:  # another command runs the suite: a fresh interpreter under it
        cmd = [*prefix, sys.executable, "-m", "pytest", *pytest_args]
        proc = subprocess.run(cmd, cwd=workdir, env=full_env, capture_output=True, text=True, timeout=timeout)
        ret, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    else:
        ret, stdout, stderr = warm_pytest.run_captured(
            pytest_args, cwd=workdir, env=full_env, timeout=timeout
        )
    result = pytest.RunResult(ret, stdout.splitlines(), stderr.splitlines(), time.monotonic() - start)
    return AuditRun(result, out_dir)


@pytest.fixture
def target(tmp_path: Path) -> TargetRepo:
    return TargetRepo(tmp_path / "target")


@pytest.fixture(scope="session")
def example_sandbox_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The example's `pytest --sandbox` runs (serial, recording its exchanges; and `-n 2`),
    read by test_sandbox.py and test_google_shapes.py."""
    from sandbox_support import example_runs

    return example_runs(tmp_path_factory)
