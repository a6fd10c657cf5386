"""A bad manifest (or a bad option) stops the run before anything is collected or written.

Every case asserts what an operator relies on: pytest's usage-error exit code (4), exactly one
line on stderr that names the manifest file and the offending key, no Python traceback, and an
output folder that was never created.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import MANIFEST_HEAD, AuditRun, TargetRepo, run_suite

SCRIPT = """\
[[scripts]]
path = "a.py"
purpose = "Rename tables"
category = "generation"
"""

PACKAGE = """\
[[packages]]
name = "packaging"
"""


@dataclass(frozen=True)
class BadManifest:
    #: Manifest text after the standard head (MANIFEST_HEAD), unless `head` replaces it.
    body: str
    #: Every fragment must appear in the single stderr line, after the manifest's file name.
    expected: tuple[str, ...]
    head: str = MANIFEST_HEAD
    args: tuple[str, ...] = ()


def _project(phase: str = "4C", root: str = ".") -> str:
    return f'[project]\nname = "Demo"\nroot = "{root}"\nphase = "{phase}"\n\n'


_PHASES = '[[phases]]\nid = "4C"\nname = "Naming"\nstart = 2026-11-23\n'

CASES = [
    pytest.param(
        BadManifest("[telemetry]\nenabled = true\n", ("telemetry: unknown key",)),
        id="unknown-top-level-key",
    ),
    pytest.param(
        BadManifest(SCRIPT + 'colour = "red"\n', ("scripts[0] 'a.py'.colour: unknown key",)),
        id="unknown-nested-key",
    ),
    pytest.param(
        BadManifest(
            SCRIPT + '[scripts.blocker]\nimpakt = "typo"\n',
            ("scripts[0] 'a.py'.blocker.impakt: unknown key",),
        ),
        id="unknown-key-in-blocker-table",
    ),
    pytest.param(
        BadManifest(SCRIPT + 'flags = "--workers"\n', ("scripts[0] 'a.py'.flags:", "list")),
        id="string-where-list",
    ),
    pytest.param(
        BadManifest(SCRIPT + 'create_hours = "6"\n', ("scripts[0] 'a.py'.create_hours:", "number")),
        id="string-where-number",
    ),
    pytest.param(
        BadManifest(
            SCRIPT + 'priority = "P5"\n',
            ("scripts[0] 'a.py'.priority: unknown priority 'P5' (expected P0, P1, P2 or P3)",),
        ),
        id="unknown-priority",
    ),
    pytest.param(
        BadManifest(
            SCRIPT + 'priority = { "4C" = "urgent" }\n',
            ("scripts[0] 'a.py'.priority: unknown priority 'urgent' (expected P0, P1, P2 or P3)",),
        ),
        id="unknown-priority-in-phase-table",
    ),
    pytest.param(
        BadManifest(
            SCRIPT + '[scripts.criteria]\ncli_flags = "P9"\n',
            ("scripts[0] 'a.py'.criteria.cli_flags: unknown priority 'P9'",),
        ),
        id="unknown-priority-in-criterion-override",
    ),
    pytest.param(
        BadManifest(
            SCRIPT.replace('"generation"', '"training"'),
            ("scripts[0] 'a.py'.category:", "'generation'", "'validation'"),
        ),
        id="unknown-category",
    ),
    pytest.param(
        BadManifest(SCRIPT + "\n" + SCRIPT, ("scripts: duplicate entry 'a.py'",)),
        id="duplicate-script-path",
    ),
    pytest.param(
        BadManifest(
            SCRIPT + "\n" + SCRIPT.replace('"a.py"', '"./a.py"'), ("scripts: duplicate entry 'a.py'",)
        ),
        id="duplicate-script-path-spelled-differently",
    ),
    pytest.param(
        BadManifest(PACKAGE + "\n" + PACKAGE, ("packages: duplicate entry 'packaging'",)),
        id="duplicate-package",
    ),
    pytest.param(
        BadManifest(
            '[[phases]]\nid = "4C"\nname = "Again"\nstart = 2026-12-01\n',
            ("phases: duplicate entry '4C'",),
        ),
        id="duplicate-phase-id",
    ),
    pytest.param(
        BadManifest(SCRIPT + 'phases = ["9"]\n', ("scripts[0] 'a.py': unknown phase '9'",)),
        id="unknown-phase-in-phases-list",
    ),
    pytest.param(
        BadManifest(
            SCRIPT + 'priority = { "4C" = "P0", "6" = "P1" }\n', ("scripts[0] 'a.py': unknown phase '6'",)
        ),
        id="unknown-phase-in-priority-table",
    ),
    pytest.param(
        BadManifest("", ("project.phase '4D' is not one of the phases (4C)",), head=_project("4D") + _PHASES),
        id="project-phase-not-among-phases",
    ),
    pytest.param(
        BadManifest("", ("phase '7' is not one of the phases (4C, 5)",), args=("--phase", "7")),
        id="phase-option-unknown",
    ),
    pytest.param(
        BadManifest(
            SCRIPT.replace('"a.py"', '"../x.py"'),
            ("scripts[0] '../x.py'.path:", "'../x.py' escapes the target root"),
        ),
        id="script-path-escapes-root",
    ),
    pytest.param(
        BadManifest(
            SCRIPT.replace('"a.py"', '"scripts/../../x.py"'),
            ("scripts[0] 'scripts/../../x.py'.path:", "escapes the target root"),
        ),
        id="script-path-escapes-root-after-normalising",
    ),
    pytest.param(
        BadManifest(
            SCRIPT.replace('"a.py"', '"/etc/passwd"').replace(
                'category = "generation"', 'category = "generation"\nkind = "shell"'
            ),
            ("scripts[0] '/etc/passwd'.path:", "must be relative to the target root"),
        ),
        id="script-path-absolute",
    ),
    pytest.param(
        BadManifest(
            SCRIPT.replace('"a.py"', '"docker/Dockerfile"') + 'context = "../.."\n',
            ("scripts[0] 'docker/Dockerfile'.context:", "escapes the target root"),
        ),
        id="docker-context-escapes-root",
    ),
    pytest.param(
        BadManifest(
            "",
            ("project.root:", "no-such-folder", "is not a directory"),
            head=_project(root="no-such-folder") + _PHASES,
        ),
        id="target-root-missing",
    ),
    pytest.param(
        BadManifest(
            PACKAGE + 'spec = ">>2.0"\n',
            ("packages[0] 'packaging'.spec: invalid version specifier '>>2.0'",),
        ),
        id="invalid-version-specifier",
    ),
    pytest.param(
        BadManifest(
            '[[tools]]\nname = "bq"\nmin_version = "latest"\n',
            ("tools[0] 'bq'.min_version: invalid version 'latest'",),
        ),
        id="invalid-tool-min-version",
    ),
    pytest.param(
        BadManifest(
            '[criteria.script_exist]\nowner = "leads"\n',
            ("criteria.script_exist: unknown criterion (known:", "script_exists"),
        ),
        id="unknown-criterion-table",
    ),
    pytest.param(
        BadManifest(
            SCRIPT + '[scripts.criteria]\ncli_flag = "P2"\n',
            ("scripts[0] 'a.py'.criteria: unknown criterion 'cli_flag' for scripts",),
        ),
        id="unknown-criterion-on-item",
    ),
    pytest.param(
        BadManifest(
            PACKAGE + '[packages.criteria]\ncli_flags = "P2"\n',
            ("packages[0] 'packaging'.criteria: unknown criterion 'cli_flags' for packages",),
        ),
        id="criterion-of-another-section-on-item",
    ),
    pytest.param(
        BadManifest(
            SCRIPT + 'flags = ["--workers", "dry-run"]\n',
            ("scripts[0] 'a.py'.flags:", "flag 'dry-run' must look like '--name'"),
        ),
        id="flag-without-dash",
    ),
    pytest.param(
        BadManifest(
            SCRIPT.replace('"a.py"', '"bin/run"'),
            ("scripts[0] 'bin/run':", "cannot tell the kind of 'bin/run'", "set kind ="),
        ),
        id="script-kind-not-inferable",
    ),
    pytest.param(
        BadManifest(
            '[[scripts]]\npath = "a.py"\ncategory = "generation"\n',
            ("scripts[0] 'a.py'.purpose: required key is missing",),
        ),
        id="required-key-missing",
    ),
]


def _assert_usage_error(run: AuditRun, manifest: Path, expected: tuple[str, ...]) -> None:
    __tracebackhide__ = True
    assert run.ret == pytest.ExitCode.USAGE_ERROR, run.output
    lines = [line for line in run.result.stderr.lines if line.strip()]
    assert len(lines) == 1, f"expected one stderr line, got: {lines}"
    line = lines[0]
    assert f"{manifest}: " in line, line
    for fragment in expected:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    assert "Traceback" not in run.output
    assert not run.out_dir.exists(), f"{run.out_dir} was created: {list(run.out_dir.iterdir())}"


@pytest.mark.parametrize("bad", CASES)
def test_bad_manifest_is_one_line_usage_error(
    pytester: pytest.Pytester, target: TargetRepo, bad: BadManifest
) -> None:
    manifest = target.manifest(bad.body, head=bad.head)
    run = run_suite(pytester, manifest, *bad.args)
    _assert_usage_error(run, manifest, bad.expected)


def test_invalid_toml_names_line_and_column(pytester: pytest.Pytester, target: TargetRepo) -> None:
    manifest = target.write("readiness.toml", '[project]\nname = "Demo"\nphase 4C\n')
    run = run_suite(pytester, manifest)
    _assert_usage_error(run, manifest, ("invalid TOML", "(at line 3, column 7)"))


def test_manifest_not_utf8_is_usage_error(pytester: pytest.Pytester, target: TargetRepo) -> None:
    manifest = target.manifest('[[packages]]\nname = "caf\u00e9"\n')
    manifest.write_bytes(manifest.read_bytes().replace("\u00e9".encode(), b"\xe9"))
    run = run_suite(pytester, manifest)
    _assert_usage_error(run, manifest, ("not UTF-8 text",))


def test_missing_manifest_file_is_usage_error(pytester: pytest.Pytester, target: TargetRepo) -> None:
    manifest = target.root / "nowhere.toml"
    run = run_suite(pytester, manifest)
    _assert_usage_error(run, manifest, ("manifest not found", "--manifest"))


def test_invalid_readiness_now_is_usage_error(pytester: pytest.Pytester, target: TargetRepo) -> None:
    manifest = target.manifest("")
    # The last --readiness-now wins over the harness's own.
    run = run_suite(pytester, manifest, "--readiness-now", "next tuesday")
    assert run.ret == pytest.ExitCode.USAGE_ERROR, run.output
    lines = [line for line in run.result.stderr.lines if line.strip()]
    assert len(lines) == 1, lines
    assert "--readiness-now: 'next tuesday' is not an ISO date or datetime" in lines[0]
    assert "Traceback" not in run.output
    assert not run.out_dir.exists()
