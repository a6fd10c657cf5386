"""Hostile and broken input: the suite never crashes, hangs or half-writes on what it is given.

Two kinds of input, two promises (issue 6, "Hostile and broken input"):

- A broken manifest stops the run before anything is collected or written: pytest's usage-error
  exit (4), exactly one stderr line naming the file and what is wrong, no traceback, no output
  folder. The static corpus is `tests/hostile/manifests/` (one file per case, expected text in
  MANIFEST_CORPUS); cases that cannot live in git (10 MB, FIFO, directory, symlink loop,
  device, unreadable) are built here.
- An odd target repository is audited anyway: each oddity is a per-case failure whose message
  names the file, and the run writes every document. One shared run covers the repository
  oddities (`tests/hostile/repo/` plus files that must be made at run time: huge, symlinks,
  FIFO, markup and shell metacharacters in names); repositories that differ as a whole (empty
  with no commits, git history with unusual names) run on their own.

Running as root, chmod 000 hides nothing; the unreadable cases run the suite without
CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH (util-linux `setpriv`), so the kernel really refuses the
read, and are skipped with the reason when that is impossible.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import MANIFEST_HEAD, AuditRun, TargetRepo, run_shared, run_suite

HOSTILE = Path(__file__).parent / "hostile"

#: The documents every completed run writes (date 2026-11-22 from --readiness-now).
DOCUMENT_STEMS = (
    "IMPLEMENTATION_SCRIPT_INVENTORY",
    "PHASE_4C_READINESS_REPORT",
    "INFRASTRUCTURE_READINESS_REPORT",
    "DEPENDENCY_ANALYSIS",
    "EXECUTION_BLOCKER_ANALYSIS",
    "AUDIT_SUMMARY",
)

#: tests/hostile/manifests/<file> -> fragments of the one stderr line it must produce.
MANIFEST_CORPUS: dict[str, tuple[str, ...]] = {
    "nested-arrays.toml": ("invalid TOML: arrays or tables nested too deeply",),
    "nested-inline-tables.toml": ("invalid TOML: arrays or tables nested too deeply",),
    "dotted-key-2000-deep.toml": ("junk: unknown key",),
    "raw-control-character.toml": ("invalid TOML: Illegal character '\\x01' (at line 2, column 11)",),
    "escaped-ansi-in-name.toml": ("project.name: control character U+001B not allowed",),
    "escaped-nul-in-key.toml": ("owners.by_category: key 'gen\\x00': control character U+0000",),
    "escaped-newline-in-path.toml": ("scripts[0] 'a\\nb.py'.path:", "contains a control character"),
    "project-is-array-of-tables.toml": ("project: must be a table", "not an array"),
    "scripts-is-a-table.toml": ("scripts: must be an array", "not a table"),
    "priority-as-number.toml": (
        "scripts[0] 'a.py'.priority: unknown priority 0 (expected P0, P1, P2 or P3)",
    ),
    "date-as-string.toml": ("phases[0] 'Naming'.start: must be a TOML date without quotes", "not a string"),
    "datetime-where-date.toml": ("phases[0] 'Naming'.start: must be a TOML date", "not a date-time"),
    "negative-hours.toml": ("scripts[0] 'a.py'.create_hours:", "greater than or equal to 0"),
    "infinite-hours.toml": ("scripts[0] 'a.py'.create_hours:", "finite number"),
    "nan-delay.toml": ("scripts[0] 'a.py'.blocker.delay_hours:", "finite number"),
    "duplicate-key.toml": ("invalid TOML: Cannot overwrite a value (at line 4, column 15)",),
    "duplicate-table.toml": ("invalid TOML: Cannot declare ('project',) twice",),
    "array-of-mixed-types.toml": ("scripts[0] 'a.py'.flags[1]: must be a string, not an integer",),
    "boolean-where-string.toml": ("scripts[0] 'a.py'.purpose: must be a string, not a boolean",),
    "string-where-integer.toml": ("history.trend_runs: must be an integer number, not a string",),
    "empty-file.toml": ("project: required key is missing",),
    "utf16.toml": ("not UTF-8 text (byte 0)",),
}


def _assert_usage_error(run: AuditRun, label: str, expected: tuple[str, ...]) -> str:
    __tracebackhide__ = True
    assert run.ret == pytest.ExitCode.USAGE_ERROR, run.output
    lines = [line for line in run.result.stderr.lines if line.strip()]
    assert len(lines) == 1, f"expected one stderr line, got: {lines}"
    line = lines[0]
    assert f"{label}: " in line, line
    for fragment in expected:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    assert "Traceback" not in run.output and "INTERNALERROR" not in run.output, run.output
    assert not run.out_dir.exists(), f"{run.out_dir} was created: {list(run.out_dir.iterdir())}"
    return line


def assert_documents_complete(out_dir: Path) -> dict[str, object]:
    """All six documents and the JSON are there, non-empty, the JSON strict; no temp files left."""
    __tracebackhide__ = True
    names = sorted(p.name for p in out_dir.iterdir())
    assert not [n for n in names if n.endswith(".tmp")], names
    for stem in DOCUMENT_STEMS:
        doc = out_dir / f"{stem}_20261122.md"
        assert doc.is_file(), f"{doc.name} missing from {names}"
        assert doc.read_text(encoding="utf-8").startswith("# "), doc.name
    raw = (out_dir / "READINESS_RESULTS_20261122.json").read_text(encoding="utf-8")

    def refuse(constant: str) -> None:
        raise AssertionError(f"JSON holds {constant}: not valid JSON for strict readers")

    data: dict[str, object] = json.loads(raw, parse_constant=refuse)
    return data


# -- malformed manifests --------------------------------------------------------------------


def test_corpus_lists_every_file() -> None:
    on_disk = {p.name for p in (HOSTILE / "manifests").iterdir()}
    assert on_disk == set(MANIFEST_CORPUS)


@pytest.mark.parametrize("name", sorted(MANIFEST_CORPUS))
def test_malformed_manifest_is_one_line_usage_error(
    pytester: pytest.Pytester, target: TargetRepo, name: str
) -> None:
    manifest = target.root / name
    shutil.copyfile(HOSTILE / "manifests" / name, manifest)
    run = run_suite(pytester, manifest)
    _assert_usage_error(run, str(manifest), MANIFEST_CORPUS[name])


def test_ten_megabyte_string_is_refused_unread(pytester: pytest.Pytester, target: TargetRepo) -> None:
    manifest = target.manifest("").with_name("huge.toml")
    text = MANIFEST_HEAD.replace('name = "Demo"', 'name = "' + "A" * 10_000_000 + '"')
    manifest.write_text(text)
    run = run_suite(pytester, manifest)
    line = _assert_usage_error(run, str(manifest), ("larger than the 1,048,576-byte limit for a manifest",))
    assert len(line) < 300, "the error line must not echo the manifest"


@dataclass(frozen=True)
class OddPath:
    make: str
    expected: tuple[str, ...]


ODD_PATHS = [
    pytest.param(OddPath("directory", ("is a directory; --manifest names the TOML file",)), id="directory"),
    # A FIFO with no writer would block a plain read forever: it must be refused, not opened.
    pytest.param(OddPath("fifo", ("not a regular file (FIFO, socket or device): not read",)), id="fifo"),
    pytest.param(
        OddPath("symlink-loop", ("cannot read manifest: Too many levels of symbolic links",)),
        id="symlink-loop",
    ),
    pytest.param(OddPath("dangling-symlink", ("manifest not found",)), id="dangling-symlink"),
    # An endless device: a read would never end (or exhaust memory).
    pytest.param(OddPath("dev-zero", ("not a regular file",)), id="device"),
]


@pytest.mark.parametrize("odd", ODD_PATHS)
def test_manifest_path_that_is_not_a_file(
    pytester: pytest.Pytester, target: TargetRepo, odd: OddPath
) -> None:
    manifest = target.root / "readiness.toml"
    if odd.make == "directory":
        manifest.mkdir()
    elif odd.make == "fifo":
        os.mkfifo(manifest)
    elif odd.make == "symlink-loop":
        (target.root / "other.toml").symlink_to(manifest)
        manifest.symlink_to(target.root / "other.toml")
    elif odd.make == "dangling-symlink":
        manifest.symlink_to(target.root / "gone.toml")
    else:
        manifest = Path("/dev/zero")
    run = run_suite(pytester, manifest)  # its subprocess timeout fails a run that hangs on the file
    _assert_usage_error(run, str(manifest), odd.expected)


def _without_dac_override() -> list[str] | None:
    """A command prefix under which chmod 000 is really unreadable; None when none can be had.

    Root reads any file through CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH; dropping them from the
    bounding set before exec makes the kernel apply the mode bits to root too.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    prefix = [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search"]
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    return prefix if probe.returncode == 0 else None


NO_READ_REASON = (
    "running as root and the capabilities that let root read mode-000 files cannot be dropped "
    "(no setpriv, or no CAP_SETPCAP in this container): the file would be read"
)


def test_unreadable_manifest_is_usage_error(tmp_path: Path, target: TargetRepo) -> None:
    prefix = _without_dac_override()
    if prefix is None:
        pytest.skip(NO_READ_REASON)
    manifest = target.manifest("")
    manifest.chmod(0)
    run = run_shared(tmp_path, manifest, prefix=prefix)
    _assert_usage_error(run, str(manifest), ("cannot read manifest: Permission denied",))


def test_manifest_with_bom_and_crlf_is_read(pytester: pytest.Pytester, target: TargetRepo) -> None:
    # Editors on Windows save "UTF-8 with BOM" and CRLF; that is still the operator's manifest.
    target.write("a.py", "print('a')\n")
    text = MANIFEST_HEAD + '\n[[scripts]]\npath = "a.py"\npurpose = "Rename"\ncategory = "generation"\n'
    manifest = target.root / "readiness.toml"
    manifest.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    run = run_suite(pytester, manifest)
    assert run.ret == pytest.ExitCode.OK, run.output
    assert_documents_complete(run.out_dir)
    assert run.case("python_parses", "a.py")["outcome"] == "passed"


# -- target-repository oddities: one shared run --------------------------------------------


@dataclass(frozen=True)
class Oddity:
    #: The script's path in the manifest.
    path: str
    category: str
    #: criterion -> (outcome, fragment of the message); the message must also name the file.
    expect: dict[str, tuple[str, str]]
    flags: tuple[str, ...] = ()
    #: Criteria that must not run at all (a missing or odd file is reported once).
    absent: tuple[str, ...] = ()
    #: The message names the file by another spelling than `path` (its resolved target).
    names: str = ""


MARKUP = "<img src=x onerror=alert(1)>.py"
SHELL_NAMES = ("$(touch pwned).sh", ";rm -rf precious;.sh", "`touch pwned`.sh")

ODDITIES = [
    Oddity(
        "binary.py",
        "generation",
        {
            "python_parses": ("failed", "binary file, not a script"),
            "imports_resolve": ("failed", "binary file, not a script"),
            "cli_flags": ("failed", "binary file, not a script"),
        },
        flags=("--workers",),
    ),
    Oddity("latin1.py", "analysis", {"python_parses": ("failed", "not UTF-8 (invalid byte at offset 11)")}),
    Oddity(
        "nul_after_8k.py",
        "analysis",
        {"python_parses": ("failed", ":2001: syntax error: source code string cannot contain null bytes")},
    ),
    Oddity(
        "deeply_nested.py",
        "analysis",
        {
            "python_parses": ("failed", "nested too deeply for the Python parser"),
            "imports_resolve": ("error", "not verified:"),
        },
    ),
    Oddity(
        "huge.py", "generation", {"python_parses": ("failed", "bytes, larger than 5,242,880: not parsed")}
    ),
    Oddity(
        "loop.py",
        "generation",
        {"script_exists": ("failed", "cannot resolve")},
        absent=("python_parses", "imports_resolve"),
    ),
    Oddity(
        "escape.py",
        "generation",
        {
            "script_exists": ("failed", "resolves outside the target root"),
            "python_parses": ("failed", "resolves outside the target root"),
        },
    ),
    Oddity(
        "linked/outside.py",
        "generation",
        {"script_exists": ("failed", "resolves outside the target root")},
    ),
    Oddity(
        "fifo.sh",
        "deployment",
        {"script_exists": ("failed", "not a regular file")},
        absent=("shell_parses", "shell_executable"),
    ),
    Oddity(
        "folder.py",
        "generation",
        {"script_exists": ("failed", "not a regular file")},
        absent=("python_parses",),
    ),
    Oddity(
        "unreadable.py",
        "generation",
        {"python_parses": ("failed", "not readable (permission denied)")},
    ),
    Oddity(
        MARKUP,
        "validation",
        {"python_parses": ("passed", ""), "cli_flags": ("failed", "does not define --workers")},
        flags=("--workers",),
    ),
    *(
        Oddity(
            name, "deployment", {"shell_parses": ("passed", ""), "shell_executable": ("failed", "mode 0644")}
        )
        for name in SHELL_NAMES
    ),
    Oddity(
        "Dockerfile.continuations",
        "deployment",
        {
            "docker_sources": ("failed", "not_in_repo.py (line 12)"),
            "docker_entrypoint": ("passed", ""),
        },
    ),
    Oddity(
        "cloudbuild-billion-laughs.yaml",
        "deployment",
        {
            "cloudbuild_parses": ("failed", "expands to more than 100,000 values through aliases"),
            "cloudbuild_dockerfile": ("failed", "expands to more than 100,000 values"),
        },
    ),
    Oddity(
        "cloudbuild-recursive-alias.yaml",
        "deployment",
        {"cloudbuild_parses": ("failed", "expands to more than 100,000 values through aliases")},
    ),
    Oddity(
        "cloudbuild-python-tag.yaml",
        "deployment",
        {"cloudbuild_parses": ("failed", "could not determine a constructor for the tag")},
    ),
    Oddity(
        "cloudbuild-deep.yaml",
        "deployment",
        {"cloudbuild_parses": ("failed", "invalid YAML: nested more than 100 levels deep")},
    ),
]


@dataclass
class HostileRun:
    run: AuditRun
    work: Path
    target: Path
    outside: Path
    unreadable_real: bool


#: Outside the target root: its content must never be read into any output.
OUTSIDE_CANARY = "CANARY_OUTSIDE_THE_ROOT_4b1d"


def _build_hostile_repo(root: Path, outside: Path) -> None:
    shutil.copytree(HOSTILE / "repo", root)
    # Python files are stored as .py.txt: linters of this repository must not parse the corpus
    # (ruff overflows its stack on deeply_nested.py).
    for stored in root.rglob("*.py.txt"):
        stored.rename(stored.with_suffix(""))
    (root / "huge.py").write_text("x = 1\n" * 1_000_000)  # 6 MB: over the 5 MiB parse limit
    (root / "loop.py").symlink_to("loop.py")
    outside.mkdir()
    (outside / "outside.py").write_text(f"{OUTSIDE_CANARY} = 1\n")
    (root / "escape.py").symlink_to(outside / "outside.py")
    (root / "linked").symlink_to(outside, target_is_directory=True)
    os.mkfifo(root / "fifo.sh")
    (root / "folder.py").mkdir()
    (root / "unreadable.py").write_text("print('secret plan')\n")
    (root / "unreadable.py").chmod(0)
    (root / MARKUP).write_text("import argparse\nargparse.ArgumentParser().add_argument('--dry-run')\n")
    for name in SHELL_NAMES:
        (root / name).write_text("#!/bin/bash\necho ok\n")
    (root / "precious").write_text("must survive\n")


def _manifest_for(oddities: list[Oddity]) -> str:
    head = MANIFEST_HEAD.replace('root = "."', 'root = "repo"')
    parts = [head]
    for odd in oddities:
        flags = ", ".join(json.dumps(f) for f in odd.flags)
        parts.append(
            f'\n[[scripts]]\npath = {json.dumps(odd.path)}\npurpose = "hostile"\n'
            f'category = "{odd.category}"\nflags = [{flags}]\n'
        )
    return "".join(parts)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileRun]:
    work = tmp_path_factory.mktemp("hostile")
    target, outside = work / "repo", work / "outside"
    _build_hostile_repo(target, outside)
    manifest = work / "readiness.toml"
    manifest.write_text(_manifest_for(ODDITIES))
    prefix = _without_dac_override()
    run = run_shared(work, manifest, "-rA", prefix=prefix or [])  # its timeout bounds a hang
    yield HostileRun(run, work, target, outside, prefix is not None)
    (target / "unreadable.py").chmod(0o600)


def test_hostile_repo_run_completes_with_every_document(hostile: HostileRun) -> None:
    run = hostile.run
    assert run.ret == pytest.ExitCode.TESTS_FAILED, run.output
    assert "INTERNALERROR" not in run.output and "Traceback" not in run.output, run.output
    data = assert_documents_complete(run.out_dir)
    assert data["verdict"]


@pytest.mark.parametrize("odd", ODDITIES, ids=[o.path for o in ODDITIES])
def test_repository_oddity_is_a_clear_per_case_finding(hostile: HostileRun, odd: Oddity) -> None:
    if odd.path == "unreadable.py" and not hostile.unreadable_real:
        pytest.skip(NO_READ_REASON)
    for criterion, (outcome, fragment) in odd.expect.items():
        case = hostile.run.case(criterion, odd.path)
        assert case["outcome"] == outcome, (criterion, case)
        assert fragment in case["message"], (criterion, case["message"])
        if outcome != "passed":
            assert (odd.names or odd.path) in case["message"], (criterion, case["message"])
    ran = {c["criterion"] for c in hostile.run.json()["cases"] if c["subject"] == odd.path}
    assert not ran & set(odd.absent), ran


def test_no_command_in_a_file_name_or_yaml_tag_ran(hostile: HostileRun) -> None:
    pwned = [p for p in hostile.work.rglob("*pwned*") if p.name not in SHELL_NAMES]
    assert not pwned, pwned
    assert (hostile.target / "precious").read_text() == "must survive\n"


def test_nothing_outside_the_root_is_read_into_the_outputs(hostile: HostileRun) -> None:
    for path in [*hostile.run.out_dir.iterdir()]:
        assert OUTSIDE_CANARY not in path.read_text(encoding="utf-8"), path.name
    assert OUTSIDE_CANARY not in hostile.run.output
    assert "secret plan" not in hostile.run.output


def test_markup_in_a_file_name_stays_text_in_the_documents(hostile: HostileRun) -> None:
    assert hostile.run.script(MARKUP)["status"] == "PARTIAL"
    for path in hostile.run.out_dir.glob("*.md"):
        text = path.read_text(encoding="utf-8")
        assert "<img" not in text, path.name
    assert "&lt;img src=x onerror=alert(1)>.py" in hostile.run.doc("IMPLEMENTATION_SCRIPT_INVENTORY")


def test_inventory_of_odd_files_has_no_invented_facts(hostile: HostileRun) -> None:
    assert hostile.run.script("fifo.sh")["exists"] is False
    assert hostile.run.script("loop.py")["status"] == "MISSING"
    binary = hostile.run.script("binary.py")
    assert (binary["lines"], binary["execution_mode"]) == (None, "unreadable")
    # Not a git repository: the file's own date, stated as such by the absence of a commit.
    assert hostile.run.script("latin1.py")["last_modified"][:4].isdigit()


# -- repositories that differ as a whole ----------------------------------------------------


def test_empty_git_repo_without_commits(pytester: pytest.Pytester, tmp_path: Path) -> None:
    repo = TargetRepo(tmp_path / "empty")
    repo.git("init", "-q", "-b", "main")
    manifest = tmp_path / "readiness.toml"
    manifest.write_text(
        MANIFEST_HEAD.replace('root = "."', 'root = "empty"')
        + '\n[[scripts]]\npath = "cov_rename.py"\npurpose = "COV rename"\ncategory = "generation"\n'
        'priority = "P0"\ncreate_hours = 6\n' + '\n[[packages]]\nname = "packaging"\n'
    )
    run = run_suite(pytester, manifest)
    assert run.ret == pytest.ExitCode.TESTS_FAILED, run.output
    data = assert_documents_complete(run.out_dir)
    assert run.script("cov_rename.py")["status"] == "MISSING"
    assert (
        run.case("package_pinned", "packaging")["message"] == "requirements.txt: requirements file not found"
    )
    assert data["verdict"]["verdict"] == "NO-GO"  # type: ignore[index]


def test_git_history_with_unusual_names_dates_each_script(pytester: pytest.Pytester, tmp_path: Path) -> None:
    repo = TargetRepo(tmp_path / "repo")
    names = ["café_merge.py", MARKUP, 'quote"d.py']
    for name in names:
        repo.write(name, "print('ok')\n")
    repo.write("requirements.txt", "")
    repo.commit_all("scripts", date="2026-10-01T12:00:00+00:00")
    manifest = tmp_path / "readiness.toml"
    manifest.write_text(
        MANIFEST_HEAD.replace('root = "."', 'root = "repo"')
        + "".join(
            f'\n[[scripts]]\npath = {json.dumps(n)}\npurpose = "p"\ncategory = "analysis"\n' for n in names
        )
    )
    run = run_suite(pytester, manifest)
    assert run.ret == pytest.ExitCode.OK, run.output
    assert_documents_complete(run.out_dir)
    for name in names:
        assert run.script(name)["last_modified"] == "2026-10-01", name
