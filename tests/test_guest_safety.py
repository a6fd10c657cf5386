"""The suite is a guest in the audited repository: reading it never runs its configuration.

A hostile repository's `.git/config` names a script (which would create a marker file) for every
hook git offers while reading history: signature verification of a signed commit, fsmonitor, a
textconv driver, an external diff, a pager. After a full audit no marker exists, and the dates
from history are still read.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from checks.inspect.git_history import last_commit_dates
from checks.inspect.safe_git import run_git
from conftest import TargetRepo, run_suite

_SIGNED_COMMIT = """\
tree {tree}
parent {parent}
author t <t@example.com> 1735732800 +0000
committer t <t@example.com> 1735732800 +0000
gpgsig -----BEGIN PGP SIGNATURE-----
{blank}
 iQEzBAABCAAdFiEEnotarealsignature
 -----END PGP SIGNATURE-----

signed
"""

#: config key -> the marker its script would touch.
_HOOKS = ("gpg.program", "core.fsmonitor", "diff.evil.textconv", "diff.external", "core.pager")


def _hostile_repo(root: Path, markers: Path) -> TargetRepo:
    """A repo whose last commit is signed, with every program-running key pointing at a script."""
    repo = TargetRepo(root)
    repo.write("jobs/a.py", "A = 1\n")
    repo.write(".gitattributes", "*.py diff=evil\n")
    repo.commit_all("first", "2024-03-05T12:00:00+00:00")
    tree = repo.git("rev-parse", "HEAD^{tree}").strip()
    parent = repo.git("rev-parse", "HEAD").strip()
    text = _SIGNED_COMMIT.format(tree=tree, parent=parent, blank=" ")
    sha = subprocess.run(
        ["git", "-C", str(root), "hash-object", "-t", "commit", "-w", "--stdin"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    repo.git("update-ref", "refs/heads/main", sha)
    markers.mkdir()
    for key in _HOOKS:
        script = markers.parent / f"{key}.sh"
        script.write_text(f"#!/bin/sh\ntouch '{markers / key}'\nexit 1\n")
        script.chmod(0o755)
        repo.git("config", key, str(script))
    repo.git("config", "log.showSignature", "true")
    repo.git("config", "core.hooksPath", str(markers.parent))
    return repo


def test_the_hostile_config_really_runs_programs_for_a_plain_git_log(tmp_path: Path) -> None:
    """The trap is armed: without the suite's care, reading the history runs gpg.program."""
    repo = _hostile_repo(tmp_path / "repo", tmp_path / "markers")
    subprocess.run(["git", "-C", str(repo.root), "log", "--name-only"], capture_output=True, check=False)
    assert (tmp_path / "markers" / "gpg.program").exists()


def test_reading_history_runs_nothing_the_repository_configures(tmp_path: Path) -> None:
    repo = _hostile_repo(tmp_path / "repo", tmp_path / "markers")
    dates = last_commit_dates(repo.root, ["jobs/a.py"])
    assert dates == {"jobs/a.py": "2024-03-05"}
    assert sorted(os.listdir(tmp_path / "markers")) == []


def test_a_full_audit_of_a_hostile_repository_leaves_no_marker(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    markers = tmp_path / "markers"
    repo = _hostile_repo(tmp_path / "repo", markers)
    manifest = repo.manifest(
        '[[scripts]]\npath = "jobs/a.py"\npurpose = "p"\ncategory = "analysis"\n',
    )
    repo.write("requirements.txt", "")
    # (Through the suite's own safe git: a plain `git status` would trip the fsmonitor trap.)
    status_before = run_git(repo.root, ["status", "--porcelain"], 30).stdout
    run = run_suite(pytester, manifest)
    assert run.script("jobs/a.py")["last_modified"] == "2024-03-05"
    assert sorted(os.listdir(markers)) == []
    # The repository is left as it was (no index rewrite, no new file).
    assert run_git(repo.root, ["status", "--porcelain"], 30).stdout == status_before
