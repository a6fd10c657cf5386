"""Running the audit with `-n 2` gives the same documents, results and verdict as a serial run.

Under pytest-xdist the controller collects nothing and only sees the workers' reports; anything
the documents need must travel on those reports. A difference here means a fact was lost (or
ordered by arrival) on the way.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, AuditRun, TargetRepo, run_shared

EXAMPLE_MANIFEST = REPO / "examples" / "bqx_demo" / "readiness.toml"
DOCUMENTS = 6


def _script(path: str, priority: str, flags: str = "[]") -> str:
    return (
        f'[[scripts]]\npath = "{path}"\npurpose = "p"\ncategory = "generation"\n'
        f'priority = "{priority}"\nflags = {flags}\n\n'
    )


def _every_priority_repo(root: Path) -> Path:
    repo = TargetRepo(root)
    repo.write("jobs/ok.py", "import argparse\nargparse.ArgumentParser().add_argument('--workers')\n")
    repo.write("jobs/broken.py", "def main(:\n")  # P0: fails to parse, imports and flags unverified
    repo.write("jobs/merge.sh", "#!/bin/bash\necho merge\n", mode=0o644)  # P1: not executable
    repo.write("jobs/flags.py", "import argparse\nargparse.ArgumentParser().add_argument('--a')\n")
    repo.write("jobs/polars_job.py", "import nonexistent_mod_xyz\n")  # P3: import missing
    repo.write("Dockerfile", "FROM python:3.11-slim\nCOPY jobs/missing/ /app/\nCMD python /app/run.py\n")
    repo.write("requirements.txt", "packaging==20.0\n")
    return repo.manifest(
        _script("jobs/ok.py", "P0", '["--workers"]')
        + _script("jobs/gone.py", "P0")
        + _script("jobs/broken.py", "P0", '["--workers"]')
        + _script("jobs/merge.sh", "P1")
        + _script("jobs/flags.py", "P2", '["--a", "--b"]')
        + _script("jobs/polars_job.py", "P3")
        + _script("Dockerfile", "P1")
        + '[[packages]]\nname = "packaging"\nspec = ">=24"\npriority = "P2"\n\n'
        + '[[packages]]\nname = "nonexistent-dist-xyz"\npriority = "P3"\n\n'
        + '[[tools]]\nname = "absent-tool-xyz"\npriority = "P1"\n'
    )


def _documents(run: AuditRun) -> dict[str, str]:
    docs = {}
    for path in sorted(run.out_dir.glob("*.md")):
        # The run id is random per run: it is the one line allowed to differ.
        docs[path.name] = "".join(line for line in path.read_text().splitlines(True) if "(run " not in line)
    assert len(docs) == DOCUMENTS, f"{run.out_dir}: {sorted(docs)}\n{run.output}"
    return docs


def _results(run: AuditRun) -> dict[str, Any]:
    data = run.json()
    for key in ("id", "started", "finished"):
        data["run"].pop(key)
    return data


def _terminal_summary(run: AuditRun) -> list[str]:
    lines = run.result.stdout.lines
    start = next(i for i, line in enumerate(lines) if re.match(r"=+ readiness: ", line))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        block.append(line.replace(str(run.out_dir), "<out>"))
    return block


# One test per scenario (not one per comparison): under `-n`, a module-scoped fixture may be
# built once per worker, and each build here costs a serial and a parallel audit.
@pytest.mark.parametrize("scenario", ["example", "every-priority"])
def test_xdist_run_matches_serial_run(tmp_path: Path, scenario: str) -> None:
    manifest = EXAMPLE_MANIFEST if scenario == "example" else _every_priority_repo(tmp_path / "target")
    with ThreadPoolExecutor(2) as pool:
        serial_future = pool.submit(run_shared, tmp_path / "serial", manifest)
        parallel_future = pool.submit(run_shared, tmp_path / "parallel", manifest, "-n", "2")
        serial, parallel = serial_future.result(), parallel_future.result()
    assert serial.ret == 1, serial.output
    assert parallel.ret == 1, parallel.output
    assert "2 workers" in parallel.output and "2 workers" not in serial.output
    if scenario == "every-priority":
        # Only worth comparing with open cases, failed and errored, at every priority.
        counts = serial.json()["counts"]
        assert all(counts[p]["failed"] > 0 for p in ("P0", "P1", "P2", "P3")), counts
        assert counts["P0"]["error"] > 0, counts

    serial_docs, parallel_docs = _documents(serial), _documents(parallel)
    assert sorted(parallel_docs) == sorted(serial_docs)
    for name, text in serial_docs.items():
        assert parallel_docs[name] == text, name

    # Not sorted: the file's key order must be the same too (json keeps it when loading).
    assert json.dumps(_results(parallel), indent=1) == json.dumps(_results(serial), indent=1)
    assert parallel.json()["verdict"] == serial.json()["verdict"]
    assert parallel.json()["verdict"]["verdict"] == "NO-GO"
    assert parallel.json()["counts"] == serial.json()["counts"]
    assert _terminal_summary(parallel) == _terminal_summary(serial)


_SCRIPT_APPEARS = """
from pathlib import Path


def pytest_runtest_setup(item):
    # On a worker, once every worker has collected (xdist schedules no check before) and before
    # the controller has seen any report: the script appears while the audit runs.
    if hasattr(item.config, "workerinput"):
        (Path(TARGET) / "jobs" / "b.py").write_text("print('b')\\n")
"""


def test_a_case_the_controller_does_not_know_is_unverified_p0(tmp_path: Path) -> None:
    """Workers name their cases by place and subject; the controller finds the case in its own
    manifest. When the target tree changes mid-run (a script appears after the workers collected),
    a report can name a case the controller's manifest has elsewhere: that case is unverified at
    P0 with a message saying why, never attributed to another case, and the run is NO-GO."""
    repo = TargetRepo(tmp_path / "target")
    repo.write("jobs/a.py", "print('a')\n")
    repo.write("jobs/c.py", "print('c')\n")
    manifest = repo.manifest(
        _script("jobs/a.py", "P2") + _script("jobs/b.py", "P2") + _script("jobs/c.py", "P2")
    )
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "script_appears.py").write_text(f"TARGET = {str(repo.root)!r}\n" + _SCRIPT_APPEARS)

    run = run_shared(
        tmp_path / "run",
        manifest,
        "-n",
        "2",
        "-p",
        "script_appears",
        "--readiness-exit",
        "verdict",
        env={"PYTHONPATH": str(plugins)},
    )

    assert (repo.root / "jobs" / "b.py").is_file(), run.output
    parsed_c = run.case("python_parses", "jobs/c.py")
    assert parsed_c["outcome"] == "error", parsed_c
    assert parsed_c["priority"] == "P0"
    assert "changed while the suite ran" in parsed_c["message"]
    # The one case both sides agree on is reported as what it is.
    assert run.case("python_parses", "jobs/a.py")["outcome"] == "passed"
    assert run.json()["verdict"]["verdict"] == "NO-GO"
    assert run.ret == 11, run.output
