"""The documents of one run replace the previous set all at once, or not at all.

Killed with SIGTERM in the middle of writing, or stopped by a full disk (a file-size limit, the
same write error), the output folder still holds the previous run's complete set, the files of
others in it are kept, and no staging folder or temporary file is left behind. The review, a
reader of history, refuses a store that does not exist instead of creating an empty one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ops_support import OpsTarget, run_at

from conftest import REPO, AuditRun, TargetRepo, run_shared, run_suite

OLD = {"AUDIT_SUMMARY_20261121.md": "# old summary\n", "READINESS_RESULTS_20261121.json": '{"run": "old"}\n'}


def _previous_set(out: Path) -> None:
    out.mkdir(parents=True)
    for name, text in OLD.items():
        (out / name).write_text(text)
    (out / "notes-by-the-team.txt").write_text("ours\n")


def _write_in_child(out: Path, setup: str) -> subprocess.CompletedProcess[str]:
    """write_documents in a child process whose third document's rendering runs `setup`'s hook."""
    code = textwrap.dedent(
        f"""
        import os, resource, signal, sys
        from pathlib import Path
        from reporting.writer import DocumentWriteError, write_documents

        class Hooked(str):
            def encode(self, *args, **kwargs):
                {setup}
                return str.encode(self, *args, **kwargs)

        documents = {{
            "AUDIT_SUMMARY_20261121.md": "# new summary\\n" + "x" * 5000,
            "BLOCKERS_20261121.md": "# new blockers\\n",
            "READINESS_RESULTS_20261121.json": Hooked('{{"run": "new"}}' + " " * 5000),
        }}
        try:
            write_documents(Path(sys.argv[1]), documents)
        except DocumentWriteError as exc:
            print(f"documents NOT written: {{exc}}")
            sys.exit(3)
        """
    )
    return subprocess.run(
        [sys.executable, "-B", "-c", code, str(out)], cwd=REPO, capture_output=True, text=True, timeout=60
    )


def _assert_previous_set_intact(out: Path) -> None:
    __tracebackhide__ = True
    assert sorted(p.name for p in out.iterdir()) == sorted([*OLD, "notes-by-the-team.txt"])
    for name, text in OLD.items():
        assert (out / name).read_text() == text
    leftovers = [p.name for p in out.parent.iterdir() if p.name != out.name]
    assert leftovers == [], leftovers


def test_sigterm_while_writing_leaves_the_previous_set_and_no_temporary_files(tmp_path: Path) -> None:
    out = tmp_path / "reports" / "out"
    _previous_set(out)
    proc = _write_in_child(out, "os.kill(os.getpid(), signal.SIGTERM)")
    assert proc.returncode == -signal.SIGTERM, proc.stderr
    _assert_previous_set_intact(out)


def test_a_full_disk_gives_one_line_and_leaves_the_previous_set(tmp_path: Path) -> None:
    out = tmp_path / "reports" / "out"
    _previous_set(out)
    # A file-size limit makes writes fail with EFBIG, the same error path as ENOSPC.
    proc = _write_in_child(out, "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))")
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.splitlines() == [
        f"documents NOT written: {out}: cannot write the documents: File too large"
    ]
    assert "Traceback" not in proc.stderr
    _assert_previous_set_intact(out)


def test_a_complete_write_replaces_the_set_and_keeps_other_files(tmp_path: Path) -> None:
    out = tmp_path / "reports" / "out"
    _previous_set(out)
    proc = _write_in_child(out, "pass")
    assert proc.returncode == 0, proc.stderr
    assert (out / "READINESS_RESULTS_20261121.json").read_text().startswith('{"run": "new"}')
    assert (out / "BLOCKERS_20261121.md").is_file()
    assert (out / "notes-by-the-team.txt").read_text() == "ours\n"
    assert [p.name for p in out.parent.iterdir()] == ["out"]


def test_a_suite_run_on_a_full_disk_reports_one_line_and_writes_nothing(tmp_path: Path) -> None:
    repo = TargetRepo(tmp_path / "target")
    repo.write("requirements.txt", "")
    repo.write("a.py", "A = 1\n")
    manifest = repo.manifest('[[scripts]]\npath = "a.py"\npurpose = "p"\ncategory = "analysis"\n')
    work = tmp_path / "run"
    # No bytecode written under the limit: Python's own .pyc writes would be cut at 3,000 bytes
    # and left in place, breaking every later import of that module (the shared virtualenv's).
    run = run_shared(
        work,
        manifest,
        "-p",
        "no:cacheprovider",
        env={"PYTHONDONTWRITEBYTECODE": "1"},
        prefix=["prlimit", "--fsize=3000"],
    )
    assert "documents NOT written:" in run.output and "File too large" in run.output, run.output
    assert "Traceback" not in run.output and "INTERNALERROR" not in run.output
    assert not run.out_dir.exists()
    assert [p.name for p in work.iterdir() if p.name.startswith(".out")] == []
    # No deliverables: never a passing exit, whatever the verdict (this audit's is GO).
    assert run.ret == 3, run.output


#: A file size limit the documents of the run below fit under and its self-contained page does not.
_PAGE_LIMIT = 20_000


@pytest.mark.parametrize("limited", [False, True], ids=["unlimited", "limited"])
def test_an_html_page_that_cannot_be_written_is_one_line_and_leaves_no_part(
    tmp_path: Path, limited: bool
) -> None:
    repo = TargetRepo(tmp_path / "target")
    repo.write("requirements.txt", "")
    repo.write("a.py", "A = 1\n")
    manifest = repo.manifest('[[scripts]]\npath = "a.py"\npurpose = "p"\ncategory = "analysis"\n')
    work = tmp_path / "run"
    page = work / "report.html"
    # Under the limit the documents fit (a few kB each) and the self-contained page does not.
    run = run_shared(
        work,
        manifest,
        "--html",
        str(page),
        "--self-contained-html",
        env={"PYTHONDONTWRITEBYTECODE": "1"},
        prefix=["prlimit", f"--fsize={_PAGE_LIMIT}"] if limited else (),
    )
    assert run.json()["verdict"]["verdict"] == "GO"
    if not limited:  # the same run without the limit: its page is written, and is the one too large
        assert run.ret == 0, run.output
        assert _largest_document(run) < _PAGE_LIMIT < page.stat().st_size
        return
    assert f"--html {page}: not written: File too large" in run.output, run.output
    assert "Traceback" not in run.output and "INTERNALERROR" not in run.output
    assert "Generated html report" not in run.output
    assert not page.exists()
    assert run.ret == 3


def _largest_document(run: AuditRun) -> int:
    return max(p.stat().st_size for p in run.out_dir.iterdir())


def test_the_review_of_a_history_store_that_does_not_exist_is_an_error(
    tmp_path: Path, target: TargetRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    ops = OpsTarget(target)
    monkeypatch.chdir(tmp_path)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "reporting.review",
            "--manifest",
            str(ops.manifest),
            "--history",
            "histroy.sqlite",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"error: {tmp_path / 'histroy.sqlite'}: no such history store (check the path; a reader never creates one)"
    ]
    assert not (tmp_path / "histroy.sqlite").exists()


def test_a_second_run_into_the_same_folder_leaves_one_runs_set(
    pytester: pytest.Pytester, target: TargetRepo
) -> None:
    ops = OpsTarget(target)
    first = run_at(pytester, ops, "2026-11-22T06:00:00")
    first_id = first.json()["run"]["id"]
    before = sorted(p.name for p in first.out_dir.iterdir())
    second = run_suite(pytester, ops.manifest, out=first.out_dir.name)
    second_id = second.json()["run"]["id"]
    assert second_id != first_id
    assert sorted(p.name for p in second.out_dir.iterdir()) == before
    summary = second.doc("AUDIT_SUMMARY")
    assert second_id in summary and first_id not in summary
    assert [p.name for p in pytester.path.iterdir() if ".staging-" in p.name] == []


def test_the_output_folder_keeps_an_ordinary_mode(tmp_path: Path) -> None:
    out = tmp_path / "reports" / "out"
    proc = _write_in_child(out, "pass")
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_mode & 0o777 == 0o777 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
