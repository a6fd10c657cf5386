"""A suite run forked from the warm interpreter (warm_pytest.py) is the run a fresh one would be.

Our end-to-end tests trust their subprocess to be `python -m pytest` as a user starts it: the
same working directory, sys.path, argv, environment, separate stdout and stderr, exit code and
interpreter shutdown (atexit). One probe test file prints all of those; the warm run and a
fresh interpreter must print the same.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest
import warm_pytest

PROBE = textwrap.dedent(
    """\
    import atexit, os, sys

    def test_probe():
        atexit.register(lambda: print("atexit ran"))
        print("cwd", os.getcwd())
        print("path0", sys.path[0])
        print("path1", sys.path[1])
        print("argv0", os.path.basename(sys.argv[0]), sys.argv[1:3])
        print("env", os.environ.get("WARM_PROBE"), "HOME" in os.environ)
        print("stdin", sys.stdin.read() == "")
        print("imported conftest", "conftest" in sys.modules)
        sys.stderr.write("to stderr\\n")
        assert False, "the probe fails on purpose"
    """
)


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: bool) -> tuple[int, str, str]:
    work = tmp_path / ("fresh" if fresh else "warm")
    work.mkdir()
    (work / "test_probe.py").write_text(PROBE)
    monkeypatch.setenv("READINESS_TEST_FRESH", "1" if fresh else "0")
    env = {"PATH": "/usr/bin:/bin", "WARM_PROBE": "yes", "PY_COLORS": "0", "PYTHONPATH": "/nowhere"}
    env.update(warm_pytest.startup_variables(os.environ))
    assert warm_pytest.forkable(env) is not fresh
    code, out, err = warm_pytest.run_captured(
        ["-p", "no:cacheprovider", "-s", "-q", "test_probe.py"], cwd=work, env=env, timeout=120
    )
    return code, out.replace(str(work), "<work>"), err.replace(str(work), "<work>")


def _probe_lines(out: str) -> list[str]:
    keys = ("cwd", "path0", "path1", "argv0", "env", "stdin", "imported", "atexit")
    return [line for line in out.splitlines() if line.startswith(keys)]


def test_a_warm_run_prints_what_a_fresh_interpreter_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm = _run(tmp_path, monkeypatch, fresh=False)
    fresh = _run(tmp_path, monkeypatch, fresh=True)
    assert warm[0] == fresh[0] == 1, warm
    assert _probe_lines(warm[1]) == _probe_lines(fresh[1])
    assert _probe_lines(warm[1]) == [
        "cwd <work>",
        "path0 <work>",
        "path1 /nowhere",
        "argv0 __main__.py ['-p', 'no:cacheprovider']",
        "env yes False",
        "stdin True",
        "imported conftest False",
        "atexit ran",
    ]
    assert "the probe fails on purpose" in warm[1]
    assert warm[2] == fresh[2] == "to stderr\n"


def test_a_warm_run_past_its_timeout_is_killed_as_subprocess_does(tmp_path: Path) -> None:
    (tmp_path / "test_sleep.py").write_text("import time\n\ndef test_sleep():\n    time.sleep(600)\n")
    env = {"PATH": "/usr/bin:/bin", **warm_pytest.startup_variables(os.environ)}
    assert warm_pytest.forkable(env)
    with pytest.raises(subprocess.TimeoutExpired):
        warm_pytest.run_captured(["-q", "test_sleep.py"], cwd=tmp_path, env=env, timeout=3)
