"""`pytest --sandbox` runs of the shipped example, shared by the modules that read them.

The two full runs (serial and `-n 2`) start together, once per test session (fixture
`example_sandbox_runs` in conftest.py, so its tests run on one xdist worker); test_sandbox.py
reads what they wrote, test_google_shapes.py the exchanges the serial run recorded. Each run gets
its own TMPDIR, so the world's folder, and therefore every server process it started (found by
command line or working directory), can be told apart from other runs on the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO, Documents
from sandbox.fakes.http import RECORD_ENV

RUN_TIMEOUT = 240.0


def suite_command(out_dir: Path, *args: str) -> list[str]:
    return [
        sys.executable, "-m", "pytest",
        "-c", str(REPO / "pytest.ini"),
        "--rootdir", str(REPO),
        str(REPO / "checks"),
        "--sandbox",
        "--readiness-out", str(out_dir),
        *args,
    ]  # fmt: skip


def sandbox_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("READINESS_", "PYTEST_"))}
    env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    env["TMPDIR"] = str(tmp)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def processes_under(folder: Path) -> list[str]:
    """Live processes whose command line or working directory lies inside folder."""
    found: list[str] = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:  # gone meanwhile, or not ours to inspect
            continue
        if str(folder) in cmdline or cwd.startswith(str(folder)):
            found.append(f"{proc.name}: {cmdline.strip()[:160]} (cwd {cwd})")
    return found


@dataclass
class SandboxRun(Documents):
    out_dir: Path
    tmp: Path
    returncode: int
    output: str
    seconds: float
    #: The exchanges of every local server (RECORD_ENV), when the run recorded them.
    record: Path | None = None


def start_run(
    base: Path, *args: str, record: Path | None = None
) -> tuple[subprocess.Popen[str], Path, Path, float, Path | None]:
    tmp, out_dir = base / "tmp", base / "out"
    tmp.mkdir(parents=True)
    env = sandbox_env(tmp) | ({RECORD_ENV: str(record)} if record else {})
    proc = subprocess.Popen(
        suite_command(out_dir, *args),
        cwd=base,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, tmp, out_dir, time.monotonic(), record


def finish_run(started: tuple[subprocess.Popen[str], Path, Path, float, Path | None]) -> SandboxRun:
    proc, tmp, out_dir, began, record = started
    try:
        output, _ = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        pytest.fail(f"pytest --sandbox did not finish in {RUN_TIMEOUT:.0f} s:\n{output[-3000:]}")
    return SandboxRun(out_dir, tmp, proc.returncode, output, time.monotonic() - began, record)


def example_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SandboxRun]:
    """The example audited serially (its servers' exchanges recorded) and with `-n 2`.

    Started together: each spends much of its time waiting on local servers, so running them
    side by side keeps the wall time near that of one run."""
    serial_base = tmp_path_factory.mktemp("serial")
    serial = start_run(serial_base, record=serial_base / "exchanges.jsonl")
    parallel = start_run(tmp_path_factory.mktemp("xdist"), "-n", "2")
    return {"serial": finish_run(serial), "xdist": finish_run(parallel)}
